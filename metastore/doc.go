// Package metastore keeps Parley's small metadata records — accounts,
// sessions, invites, cases — as sealed JSON objects in the object store, with
// optimistic concurrency.
//
// Why sealed: case titles, party names, emails and conflict disclosures are
// confidential in a mediation. Every record is encrypted with AES-256-GCM
// under the records key (itself wrapped by the master key, see package kms),
// with the object key bound as associated data, so whoever can read the
// bucket — a MinIO operator, a backup — learns only sizes and random ids, and
// a record copied to another key fails to open.
//
// Why optimistic concurrency: several nodes may update the same case at once.
// Update reads a record with its ETag, applies a change, and writes it back
// only if the ETag is unchanged (If-Match), retrying a bounded number of times.
// No node ever holds a lock, so a node killed mid-update leaves nothing stuck.
//
// Lookup keys that would reveal content (an email address, a token) go
// through IndexKey, a keyed hash, so the object key itself says nothing.
//
// What metastore must never do: store document bytes or message payloads
// (those belong to vault and messaging), or decide who may read a record
// (package policy does).
package metastore
