// Package messaging carries a room's messages: ordering, durable group
// commit, fan-out across nodes, presence and recovery after a dropped
// connection. It knows nothing of documents, cases or people's roles:
// rooms are opaque names, payloads are opaque bytes (ciphertext from the
// clients), and whether someone may enter a room is asked of an Authorizer
// that package caucus provides. It knows no transport either: package
// web's WebSocket layer subscribes a connection (a Sink) to a room and
// enqueues what it publishes; the frames delivered to a Sink are package
// api's ServerFrames, already encoded.
//
// # Ordering and durability
//
// Every room has one owner at a time: the node incarnation named by the
// room's latest claim, rooms/<room>/owner/<generation>, a create-only
// object, so one node wins each generation. The owner alone assigns the
// room's offsets (gapless within an epoch) and makes its messages durable
// in its journal: journal/<incarnation>/<seq>, one create-only object per
// group commit holding the waiting batches of every room the node owns
// (a node with 8 batches or more arriving during each write writes at
// most one such object per 50 ms). A message is
// acknowledged once its journal entry is durable. Compaction
// looks every 200 ms and copies a room's journaled batches, once the
// oldest has waited 10 s (or 1,024 messages wait, or the node holds more
// than 48 MiB of journaled batches) — or sooner, as the node paces its
// rooms through the interval, a few each look, the oldest first, so that
// rooms busy since the same moment are not all due together — into its own chain of
// segments, rooms/<room>/e<epoch>/<first offset> (create-only, each at the
// offset right after the previous one), and deletes spent journal entries
// (never the newest: it marks how far the journal got). Another node
// forwards its publishers' messages to the owner over the Broker and
// relays the answer; the owner queues a room's forwarded requests in the
// order they arrived, and batches them with its own publishers' messages
// (one batch a commit, whichever node each came from).
//
// A room's committer does not wait for one batch to be durable before it
// takes the next: up to 4 batches are in flight at once (pipeline.go), on
// the owner in the journal's hands, elsewhere forwarded to the owner.
// Each is placed after the one before and the journal writes them in the
// order given, so they land, are broadcast and are acknowledged in order;
// if one fails, the ones behind it are committed again after it, in order
// (the owner's own requests; forwarded ones are refused and sent again).
//
// Because journal entries are create-only at consecutive numbers, a
// journal is its own fence. A node that finds an owner gone (nobody
// subscribes to its topic any more: a killed process, or this node before
// a restart) writes a tombstone at the owner's next number; nothing the
// owner writes after that can land, so everything it acknowledged is in
// the journal before the tombstone. The node then copies that journal
// into the rooms' segments, skipping what compaction already wrote, and
// claims the next generation. An owner whose journal write fails for any
// reason ends its incarnation and starts a new one, so an unknown outcome
// is resolved the same way, through the store. A sweep fences and
// recovers gone journals even in rooms nobody writes to again.
//
// With the local-directory store (one process), NewLocalLog keeps the
// journals of the process's incarnations as append-only files instead
// (nodelog.go): <dir>/<incarnation>/<first seq>.log, records framed with
// their length and a CRC-32C, one write and one fdatasync per group
// commit, rolled at 4 MiB (a busy journal's next file is zero-filled
// ahead, so that a sync flushes no metadata). Compaction copies them into
// the rooms' segments
// as above, and a file is deleted once every entry in it is copied (the
// newest too: no high-water mark is needed). Fencing one of this
// process's incarnations stops its writer; an earlier process's files have
// none (a lock on the directory keeps a second process out). Reading a
// journal stops at a torn last record (a crash during its write: never
// acknowledged), and recovery cuts it off; a bad record anywhere else is
// an error and the files are kept. Journal objects are still read, fenced
// and recovered as before.
//
// An epoch ends with a seal (a membership change): a batch that names the
// next epoch, committed by the owner like any other. A message may name
// the epoch its body was encrypted for (EnqueueFor): the owner's committer
// stores it only if the room is at that epoch when it commits the batch,
// so the check is ordered against the seals, also for a message another
// node forwarded (the expectation travels with it). A refused message is
// left out of its batch (the others are committed) and answered with
// ErrEpochMoved naming the current epoch; nothing of it is written.
// Messages without an expectation (a client's body that is no room
// payload and names no epoch) land in whatever epoch is current.
//
// # Fan-out and recovery
//
// After a commit the owner hands the batch to its own subscribers, then
// publishes it through the Broker (in-process, or Redis pub/sub between
// nodes) and remembers it in the Broker's recent window; with Redis, the
// rooms' broker writes go out from the node's broadcaster goroutine, each
// room's in order, whatever every room has queued in one round trip, off
// the committers' path. Each node delivers a room's batches to its
// local subscribers strictly in offset order; a batch that arrives early
// is held while the missing ones are read: on the owner from what it has
// journaled (in memory), elsewhere from the segments once compacted. A reconnecting client resumes from (epoch, offset) out of
// the recent window or the segments, or is told to reload history over
// HTTP when its gap is long; history includes the owner's journaled tail.
// The catch-up stops at the node's head (its position in the room; a
// segment read may run past it), and the subscriber gets the rest with
// the hub's own deliveries, so the two never overlap.
// Nothing in the Broker is needed for correctness: flushing Redis only
// costs speed.
//
// Each room with subscribers has a hub whose goroutine does all of the
// room's reads; broker callbacks and commits hand it batches without
// blocking, so a slow read stalls only its own room. Idle hubs and
// committers are freed after 30 s.
//
// A Service is safe for concurrent use; Close answers every pending
// Publish and Seal.
//
// What messaging must never do: look inside payloads, log them, decide
// access itself, or acknowledge a message before it is durable.
package messaging
