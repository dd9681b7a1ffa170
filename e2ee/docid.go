package e2ee

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// A new end-to-end encrypted document's id is known before its upload (its
// stream and key wrap are bound to it), so the client names it; it does
// not choose it. The id is derived from the case, the uploader's account
// and a fresh random nonce the client sends with the upload, and the
// server derives it again from the authenticated account: an id another
// account's upload made cannot be named (that would need a SHA-256
// preimage), so an upload cannot ask whether an id it may not see exists
// (docs/security.md, "Documents end to end"). The browser's code is
// documentID in web/client/src/docs-e2ee.ts; the shared vectors
// (testdata/doc-vectors.json, "docIds") keep the two the same.

const (
	labelDocID = "parley/e2ee/v1/docid"
	// DocIDNonceSize is the size of the nonce a document id is derived from.
	DocIDNonceSize = 16
)

var docIDBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewDocIDNonce returns a fresh nonce for DocumentID.
func NewDocIDNonce() []byte {
	n := make([]byte, DocIDNonceSize)
	rand.Read(n)
	return n
}

// DocumentID is the id of the new document account uploads to caseID
// with nonce: "d_" and the lowercase base32 (no padding) of the first 16
// bytes of SHA-256 over "parley/e2ee/v1/docid\0" || caseID || account ||
// nonce (each a field: u32be length, bytes) — the form of every document
// id (d_ and 26 base32 characters).
func DocumentID(caseID, account string, nonce []byte) string {
	w := fieldsWriter().str(caseID).str(account).bytes(nonce)
	sum := sha256.Sum256(append([]byte(labelDocID+"\x00"), w.b...))
	return "d_" + strings.ToLower(docIDBase32.EncodeToString(sum[:16]))
}
