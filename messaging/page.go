package messaging

import (
	"context"
	"errors"
	"time"
)

// maxPageAttempts bounds how often Page rereads when compaction moved
// batches from the journal into segments while it read.
const maxPageAttempts = 4

// maxPageBytes bounds the bodies of one page of history (about 5.4 MiB
// of JSON once base64-encoded): a page of 500 messages of the largest
// size would be some 32 MiB held for one response.
const maxPageBytes = 4 << 20

// Page returns up to limit messages of room after `after`, in order, for
// history paging, and the position of the last one returned. It returns
// fewer, and at least one, where the next would take their bodies past
// maxPageBytes: the caller pages on from the position returned. It reads
// the room's segments and, past their end, what the room's owner has
// acknowledged but not yet compacted: from memory on the owner, from the
// owner's journal anywhere else. A message is in history as soon as its
// sender has its acknowledgement.
func (s *Service) Page(ctx context.Context, room string, after Position, limit int) ([]Message, Position, error) {
	var out []Message
	pos := after
	budget := s.timing.pageBudget()
	for range maxPageAttempts {
		msgs, next, full, err := s.log.page(ctx, room, pos, limit-len(out), budget, len(out) > 0)
		if err != nil {
			return nil, after, err
		}
		out, pos = append(out, msgs...), next
		budget -= bodyBytes(msgs)
		if len(out) >= limit || full {
			return out, pos, nil
		}
		tail, err := s.journaledTail(ctx, room, pos)
		if err != nil {
			return nil, after, err
		}
		more, next, ok, full := continueFrom(tail, pos, limit-len(out), budget, len(out) > 0)
		if ok && (len(more) > 0 || full) {
			return append(out, more...), next, nil
		}
		if ok {
			// Nothing journaled after pos: the end, unless compaction
			// moved the tail into the segments after they were read.
			check, _, err := s.log.Page(ctx, room, pos, 1)
			if err != nil {
				return nil, after, err
			}
			if len(check) == 0 {
				// next: past a seal the tail holds with nothing after it
				// (the next epoch's start), as the segments' page gives
				// once it is compacted. A page that stopped before it
				// left a client paging to the head at the sealed epoch
				// (review 404 M2: the browser's check before wrapping a
				// document key).
				return out, next, nil
			}
		}
		// The segments moved on while they were read: read on from pos.
	}
	return nil, after, errors.New("messaging: the room's history kept moving while read; try again")
}

// bodyBytes is the bytes of msgs' bodies.
func bodyBytes(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Body)
	}
	return n
}

// journaledTail returns room's batches that are journaled but perhaps not
// yet in its segments, in order, from the one holding the message after
// pos (or earlier): from memory on the owner, by asking the owner from
// any other node, and from the owner's journal when it does not answer.
func (s *Service) journaledTail(ctx context.Context, room string, pos Position) ([]*Batch, error) {
	if tail, owned := s.ownTailAfter(room, pos); owned {
		return tail, nil
	}
	cl, ok, err := s.log.currentClaim(ctx, room)
	if err != nil || !ok {
		return nil, err
	}
	if cl.Node == s.current().id {
		// Ours, yet not held: forgotten while idle with nothing journaled
		// (compact), or claimed and not yet taken up. No tail either way.
		return nil, nil
	}
	if !s.isDead(cl.Node) {
		r, err := s.ask(ctx, cl.Node, forwardRequest{Op: "tail", Room: room, After: pos}, tailTimeout)
		if err == nil {
			return r.Tail, nil
		}
	}
	return s.readJournalTail(ctx, cl.Node, room)
}

// ownTailAfter returns, when this node owns room, the batches it has
// journaled and not yet compacted into the room's segments that end after
// pos, in order. It does no I/O: a hub on the owner reads it for what
// neither the broker's hint and window nor the store hold yet (the broker
// writes go out after the acknowledgement, and the owner skips its own
// broadcasts). Compaction only moves batches from here into the store,
// never back.
func (s *Service) ownTailAfter(room string, pos Position) (tail []*Batch, owned bool) {
	inc := s.current()
	s.incMu.Lock()
	defer s.incMu.Unlock()
	or := inc.owned[room]
	if or == nil || inc.ended {
		return nil, false
	}
	for _, j := range or.tail {
		if pos.Before(j.b.End()) {
			tail = append(tail, j.b)
		}
	}
	return tail, true
}

// nextIn drops from tail (batches in order) those ending at or before pos
// and returns the first left if it holds the message after pos, with the
// rest.
func nextIn(tail []*Batch, pos Position) (*Batch, []*Batch) {
	for len(tail) > 0 && !pos.Before(tail[0].End()) {
		tail = tail[1:]
	}
	if len(tail) > 0 && findBatch(tail[:1], pos) != nil {
		return tail[0], tail[1:]
	}
	return nil, tail
}

// tailTimeout bounds the wait for an owner's journaled tail before the
// journal itself is read.
const tailTimeout = 2 * time.Second

// readJournalTail reads room's batches from node's journal in the store
// (or the local journal).
func (s *Service) readJournalTail(ctx context.Context, node, room string) ([]*Batch, error) {
	journal, err := s.log.journalEntries(ctx, node, false)
	if err != nil {
		return nil, err
	}
	var out []*Batch
	for _, e := range journal {
		for _, b := range e.Batches {
			if b.Room == room {
				out = append(out, b)
			}
		}
	}
	return out, nil
}

// continueFrom returns up to n messages of tail after pos, stopping
// before one whose body would take theirs past budget bytes (full), though
// never before the first of the caller's page (had: it has some already).
// ok is false when tail has messages after pos but does not continue right
// at it.
func continueFrom(tail []*Batch, pos Position, n, budget int, had bool) (out []Message, _ Position, ok, full bool) {
	started := false
	for _, b := range tail {
		if !pos.Before(b.End()) {
			continue
		}
		if !started && (b.Epoch != pos.Epoch || b.First > pos.Offset+1) {
			return nil, pos, false, false
		}
		started = true
		for _, m := range b.Msgs {
			if len(out) == n {
				return out, pos, true, false
			}
			if pos.Before(m.Pos()) {
				if (had || len(out) > 0) && len(m.Body) > budget {
					return out, pos, true, true
				}
				budget -= len(m.Body)
				out = append(out, m)
				pos = m.Pos()
			}
		}
		if b.Seal != nil {
			pos = b.End()
		}
	}
	return out, pos, true, false
}
