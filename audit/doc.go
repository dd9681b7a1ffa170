// Package audit is Parley's tamper-evident, append-only audit log.
//
// # What it owns
//
// Every security-relevant action in Parley (a login, a case opened, a
// document shared, a retention purge) is recorded as an [Event] (declared,
// with checkpoints and their parsing, in package tlogverify, which clients
// import to check proofs without the server). Events are
// the leaves of an RFC 6962 Merkle tree, built with golang.org/x/mod/sumdb/tlog
// — the same hashing the Go checksum database and Certificate Transparency
// use. After each append the log signs a checkpoint: a short text naming the
// log (its origin), the number of entries and the tree's root hash, in the
// C2SP signed-note / tlog-checkpoint format (golang.org/x/mod/sumdb/note).
//
// Why a Merkle tree and not just a hash chain or signed rows? Because a
// checkpoint commits to every entry before it in 32 bytes, and the tree gives
// two short proofs that let anyone holding only checkpoints check the log:
//
//   - an inclusion proof ([Log.InclusionProof]) shows that one event is entry
//     i of the tree a checkpoint signs, without revealing the other events;
//   - a consistency proof ([Log.ConsistencyProof]) shows that a newer
//     checkpoint extends an older one — nothing earlier was changed, removed
//     or reordered.
//
// Whoever holds a checkpoint saved today can therefore later prove that the
// operator did not quietly edit history. The server hands checkpoints to
// records staff and administrators only (GET /audit/checkpoint, policy
// action audit.read: 401 without a session, 403 for anyone else, mediators
// and parties included), and puts one in each transfer bundle for its
// recipient; an external auditor gets one from them (or from the store).
// [Verify] does the full offline check: it recomputes the tree from the
// stored entries and compares it with every signed checkpoint in the store
// and, optionally, with a checkpoint the auditor saved earlier.
//
// # Storage
//
// The log lives in an [objstore.Store], the system of record:
//
//	audit/entries/<index, 20-digit zero-padded>   one canonical JSON event and its entry signature line
//	audit/checkpoint                               latest signed checkpoint, a copy of the one stored under its size
//	audit/checkpoints/<size, 20-digit zero-padded> the checkpoint signed at each size (created once, never replaced)
//
// An entry written before entries were signed is the event alone; the
// first node of the release that signs them appends a signed entry
// (EventEntrySignatures) to such a log, and every checkpoint since says
// from which index entries are signed (entrysig.go).
//
// Entries are created with If-None-Match, so two nodes can never both write
// entry N: the loser re-reads what the winner wrote and retries at the end
// (unless its caller has given up meanwhile: then it stops with the
// context's error and writes nothing).
// That makes the store's conditional write the only coordination the cluster
// needs — there is no leader and no lock service.
//
// # Concurrency within a node
//
// One Log serves every audited action of a node, so no lock of it is held
// across store I/O. Its in-memory tree is guarded by a mutex held only while
// the tree is read or a leaf added: Size, the proofs and Entry (for an entry
// it knows) never wait for a write. Everything that writes — Append,
// AppendBatch, Checkpoint, and Entry when it must catch up with other nodes —
// is a request to the Log's writer, a goroutine the Log starts when a
// request waits and that ends when none is left (a group commit). Each round
// the writer catches up, writes what is queued in queue order, and
// publishes one checkpoint for the round before it answers. While anyone
// else waits a round holds at most 64 entries, and a batch larger than what
// is left of it goes on in later rounds, behind what queued meanwhile: a
// single event queued behind a 500-event retention batch waits for one
// round of it, not all of it. A batch no one waits behind is written in one
// round and signed once, and appends that queue together share a
// checkpoint. Each caller waits for its
// own answer or its context: an append is answered with its indices only
// once its entries are written and the round's checkpoint published (or
// with its indices and the checkpoint's error), one whose write fails gets
// that error and nothing of it is reported written, and one whose caller
// gave up while queued is not written. A caller that gives up later is
// answered at once with its context's error and the indices of its entries
// written by then (so it does not log them again), and the writer writes
// nothing more of it; only an entry whose write was under way as it gave
// up may land unreported, as after any timed-out write. Only the writer
// publishes, so one Log never publishes two checkpoints at once. A panic
// in the writer (a store's bug, say) is recovered and logged, and a
// runtime.Goexit in it is logged: either way the requests of its round not
// yet answered get an error, and a new writer serves what is queued (and
// any later request), so it fails those appends rather than the process or
// every later append. The queue's lock is never held across a store call
// or caller code.
//
// # What it must never do
//
// Hold confidential content. Leaves carry an event type, actor id, case id,
// object ids, content hashes and small attributes (ids, enums, counts) —
// never message or document text, never names or email addresses. The reason
// is structural: a Merkle log cannot forget. Disposal under a retention
// policy deletes documents and messages, and if any of that content were in
// the log the log would have to be rewritten, which is exactly what it exists
// to make detectable. Keeping the log content-free means disposal never
// touches it, and the log can record the disposal itself.
//
// Rewrite or delete an entry. There is no API for it, and [Verify] reports
// any change to a stored entry, any gap in the indices and any checkpoint
// that does not match the recomputed tree.
package audit
