// Package vault is Parley's encrypted document store: a mediator (or a
// party, into their own side's caucus) uploads a document, shares it with
// exactly the audience meant, and the people in that audience download it.
//
// # What it owns
//
//   - Streaming envelope encryption (stream.go; the format is specified in
//     docs/vault-format.md). Every version of every document gets a fresh
//     256-bit data key. The plaintext is sealed with AES-256-GCM in fixed
//     64 KiB segments whose nonces carry a segment counter and a last-segment
//     flag, under a key derived (HKDF-SHA-256) from the data key, a random
//     salt and the document id and version — the construction of Tink's
//     streaming AEAD and age's STREAM. Truncation, extension, reordering and
//     splicing of segments across documents or versions are all detected,
//     and a reader never returns a byte that has not been authenticated.
//   - The key hierarchy below the master key (keys.go): a per-case key
//     (wrapped by the master key through package kms, at keys/cases/<case>,
//     created once, race-safe) wraps each data key; the wrapped data key
//     lives in the version's sealed metadata record. Deleting that record is
//     the crypto-erase of the version (DestroyDataKey). Disposal for package
//     retention (dispose.go, dispose_bulk.go) runs in a fixed order — data
//     keys, then ciphertext, then document records, then case keys — each
//     step idempotent and in bulk, and refuses anything under hold.
//   - Documents, versions and their metadata (model.go): name, media type,
//     size, SHA-256 of the plaintext, uploader, version, audience, record
//     class and creation time, in sealed metastore records. Old versions are
//     kept. Downloads check every segment and, for whole reads, the size and
//     SHA-256, before releasing the last bytes.
//   - Audiences — the joint room, one side's caucus, the mediators, or named
//     participants — and sharing between them, with a preview of who gains
//     and who loses access. Every access decision is asked of package policy
//     (vault.cedar); this package only describes the document.
//   - A side's own material — a document one of its parties or lawyers
//     added to, in its caucus — leaves the side only with that side's
//     approval of exactly that share (approval.go). The sides are recorded
//     on the document and never cleared, so a move within the side (to
//     the mediators only) does not free the next share beyond it.
//   - Legal holds on documents (records staff) and on whole cases (for
//     package retention), enforced by the object store's object lock on
//     every stored version (hold.go).
//
// Object keys say nothing about content: docs/<case>/<doc>/<version> for
// ciphertext, vault/<case>/docs/<doc> and vault/<case>/versions/<doc>/<n>
// for the sealed records, vault/<case>/pending/<doc> for an upload's claim
// on one of the case's document places, all made of random ids and numbers.
//
// Uploads stream: the encrypting writer feeds the object store's Put
// through an io.Pipe (a multipart upload of unknown length on S3), so
// memory stays constant whatever the document's size, and a version becomes
// visible only when its metadata is written, after the ciphertext is wholly
// stored.
//
// Every upload, download, share, hold and key destruction is in the audit
// log, written before the action takes effect (an action whose entry cannot
// be written does not happen), as ids, enums, counts and keyed hashes.
//
// # What it must never do
//
// Write plaintext, names or media types anywhere but through an encrypting
// writer or a sealed record; put a document name, a content hash that could
// confirm a guess, or any content in an object key, a log line or an audit
// entry; return a byte of a segment before it authenticates; let records
// staff or administrators read content; decide access itself instead of
// asking policy; or delete a held document's keys.
package vault
