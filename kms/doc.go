// Package kms owns Parley's server-side key hierarchy.
//
// At the root is the master key: 32 random bytes in a file readable only by
// the server's user (--master-key-file, created 0600 on first run in embedded
// mode). The master key never leaves this package: it is not logged, not
// written to the object store, and not returned by any function. It only
// wraps (AES-256-GCM, with a label bound as associated data) the keys below
// it, and those wrapped keys are what the object store holds:
//
//	master key (file)
//	  ├── records key      seals metadata records (package metastore)
//	  ├── audit signing key signs audit checkpoints (package audit)
//	  └── case keys         wrap document data keys (package vault, later)
//
// Rotating the master key therefore means re-wrapping a handful of small
// objects, never re-encrypting documents.
//
// What kms must never do: hold or derive a participant's private key (those
// stay on their devices), or hand out the master key's bytes.
package kms
