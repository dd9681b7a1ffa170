package api

// End-to-end encrypted documents (docs/security.md, "Documents end to
// end"). The upload of a version encrypted on the client's device is the
// ordinary upload with e2ee=1 (and, for a new document, the document id
// derived on the client, doc=<id>, with the nonce it was derived from,
// DocumentNonceParam) and the document key wrap in DocumentKeyHeader; the
// body is the client's ciphertext in the vault's streaming format.
// Downloads of such a version answer with the client's ciphertext (the
// server's own envelope removed), Repr-Digest its SHA-256 as recorded at
// upload, and DocumentE2EEHeader set.

// DocumentNonceParam is the query parameter of a new end-to-end encrypted
// document's upload that carries the nonce (16 bytes, base64url, no
// padding) its id is derived from: e2ee.DocumentID of the case, the
// uploader's account and the nonce. The server derives the id again from
// the signed-in account and refuses (400) an upload whose doc is not that
// id, so no one can name another account's document.
const DocumentNonceParam = "nonce"

// DocumentKeyHeader carries a document key wrap (base64url, no padding) on
// an end-to-end encrypted upload.
const DocumentKeyHeader = "Parley-Document-Key"

// DocumentE2EEHeader is "1" on the download of an end-to-end encrypted
// version: the body is ciphertext the client decrypts.
const DocumentE2EEHeader = "Parley-Document-E2EE"

// DocumentPlainSHA256Header is, on the download of a version upgraded to
// end-to-end encryption, the SHA-256 of its plaintext as recorded at its
// original upload (hex); the device checks the decrypted bytes against it.
const DocumentPlainSHA256Header = "Parley-Document-Plain-SHA256"

// DocumentKeys is a version's document key wraps
// (GET …/documents/{id}/keys?version=n): opaque e2ee.DocKeyWrap objects,
// each holding copies of the content key sealed to some devices.
type DocumentKeys struct {
	Version int      `json:"version"`
	Wraps   [][]byte `json:"wraps"`
}

func (DocumentKeys) wire() {}

// VersionWrap is one wrap for one version.
type VersionWrap struct {
	Version int    `json:"version"`
	Wrap    []byte `json:"wrap"`
}

// DocumentKeysRequest adds wraps a device that holds the keys made for
// devices of the current audience that lacked them
// (POST …/documents/{id}/keys).
type DocumentKeysRequest struct {
	Wraps []VersionWrap `json:"wraps"`
}
