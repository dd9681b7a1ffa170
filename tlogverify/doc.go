// Package tlogverify checks what a transparency log says, on the client's
// side: signed checkpoints (C2SP tlog-checkpoint notes), the canonical
// encoding of log entries, and key-directory answers ([Verify]: every
// record's inclusion proof and entry, the checkpoint's consistency with the
// one the client saw before, the pinned log key).
//
// It imports only the standard library, golang.org/x/mod/sumdb (note,
// tlog), package e2ee (to decode the records it checks) and package api
// (the answer's wire shape), so the Go client verifies the key directory
// without linking any of the server. The server's audit log (package audit)
// and key directory (package keydir) use the same types and functions to
// write what this package checks.
//
// What tlogverify must never do: accept a checkpoint that is not signed by
// the pinned key, or a log that does not extend the one a client saw.
package tlogverify
