// Package keydir is the server side of end-to-end encryption: the key
// directory and what clients need from the server to run the protocol of
// package e2ee, which the server itself never runs.
//
// # What it owns
//
//   - The device directory: each account's device public keys
//     (e2ee.DeviceRecord, self-signed) and revocations. The account is
//     bound by the server: a device is registered for the signed-in
//     account only.
//   - The transparency log: every device, revocation and membership
//     statement is appended to a Merkle log (package audit's machinery
//     under its own prefix, keydir/log/, with its own signing key and
//     origin). Every answer carries a signed checkpoint, an inclusion
//     proof per record, and on request a consistency proof from the last
//     checkpoint the client saw — so a server that shows different keys to
//     different people, or rewrites history, is caught by the clients.
//     The answer's shape is api.Proven; checking it is package
//     tlogverify's (a leaf the Go client imports without the server).
//   - Membership statements: mediators' devices upload signed statements
//     (who may hold each room's keys); the server keeps them as a gapless
//     chain per case (create-only writes) and serves them to the people of
//     the case. It checks their linkage and signer, but clients verify
//     everything again: the server is not trusted with membership.
//   - Carry records: a mediator's proposal to carry a caucus message to
//     the joint room and its author's consent, with ids and hashes of the
//     ciphertexts only, audited in the audit log.
//
// Object layout: keydir/log/… (the Merkle log), keydir/devices/<account>/
// <device>, keydir/revocations/<account>/<device>[.<signer device>], keydir/statements/
// <case>/<seq>, and sealed carry records at keydir/carries/<case>/<id>.
//
// # What it must never do
//
// Hold a private key or any plaintext of a message; accept a device for
// an account other than the caller's; decide who is in a room (policy and
// the mediators' signed statements do); let anyone outside a case list its
// devices or statements.
package keydir
