// Package messaging carries a room's messages: WebSocket connections,
// ordering, durable group commit, fan-out across nodes, presence and
// recovery after a dropped connection. It knows nothing of documents,
// cases or people's roles: rooms are opaque names, payloads are opaque
// bytes (ciphertext from the clients), and whether someone may enter a
// room is asked of an Authorizer that package caucus provides.
//
// # Ordering and durability
//
// Each room's messages live in the object store as a chain of batch
// objects: rooms/<room>/e<epoch>/<first offset>. A batch is written with a
// create-only conditional write at the offset right after the previous
// batch, so the store itself is the sequencer: two nodes that race for the
// same offset cannot both win, the loser reads the winner's batch and
// retries after it. Offsets in an epoch are therefore gapless and totally
// ordered with no leader, lease or clock. A sender's message is
// acknowledged only after its batch is durable (group commit: a room's
// committer takes every message waiting and writes them in one object).
//
// An epoch ends with a seal: a create-only object at the next offset that
// names the next epoch. Any node still trying to write the old epoch meets
// the seal and moves on, so a membership change fences every node at once.
//
// # Fan-out and recovery
//
// After a commit the batch is published through the Broker (in-process, or
// Redis pub/sub between nodes) and remembered in the Broker's recent window.
// Each node delivers a room's batches to its local subscribers strictly in
// offset order; a batch that arrives early is held while the missing ones
// are read from the object store by their known names. A reconnecting
// client resumes from (epoch, offset) out of the recent window, or is told
// to reload history over HTTP when its gap is older than the window.
// Nothing in the Broker is needed for correctness: flushing Redis only
// costs speed.
//
// What messaging must never do: look inside payloads, log them, decide
// access itself, or acknowledge a message before it is durable.
package messaging
