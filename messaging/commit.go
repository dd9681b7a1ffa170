package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// Limits of one journal entry (one group commit of the whole node).
const (
	maxJournalBatches = 4096
	maxJournalBytes   = 8 << 20
)

// maxRouteAttempts bounds how often one commit may find the room's owner
// moved (a takeover, a lost claim race) before it gives up.
const maxRouteAttempts = 8

var (
	// errMoved: the room's owner is not who the caller thought; look again.
	errMoved = errors.New("room owner moved")
	// errOwnerGone: no node listens for the room's owner any more.
	errOwnerGone = errors.New("room owner gone")
	// errOwnerAlive: a node thought gone is still writing its journal.
	errOwnerAlive = errors.New("room owner still writing")
)

// commit makes msgs (or, with seal set, a seal) durable in c's room,
// wherever the room's owner is, and returns msgs with their positions.
// expect, when not empty, holds each message's expected epoch (0: none):
// a message expecting another epoch than the room's at commit time is not
// stored, and comes back at offset 0 of the room's current epoch (see
// refused). via, when set, restricts the commit to that incarnation of
// this node (a request forwarded here as the owner).
func (s *Service) commit(ctx context.Context, c *committer, msgs []Message, expect []int64, seal string, via *incarnation) ([]Message, error) {
	for range maxRouteAttempts {
		inc, mine, err := s.route(ctx, c)
		if err != nil {
			return nil, err
		}
		if mine {
			if via != nil && via != inc {
				return nil, errMoved
			}
			out, err := s.commitLocal(ctx, inc, c, msgs, expect, seal)
			if errors.Is(err, errMoved) {
				continue
			}
			if err != nil {
				return nil, err
			}
			return out, nil
		}
		if via != nil {
			return nil, errMoved
		}
		out, err := s.forward(ctx, c.owner.Node, c.room, msgs, expect, seal)
		switch {
		case errors.Is(err, errMoved):
			c.forget()
			continue
		case errors.Is(err, errOwnerGone):
			if err := s.takeOver(ctx, c.room, c.owner); err != nil && !errors.Is(err, errMoved) {
				return nil, err
			}
			c.forget()
			continue
		}
		return out, err
	}
	return nil, fmt.Errorf("room %s: owner kept moving", c.room)
}

// route decides who commits for c's room: this node (mine), or the node
// named in c.owner. A room nobody owns yet is claimed here; a room whose
// owner is known to be fenced is taken over.
func (s *Service) route(ctx context.Context, c *committer) (inc *incarnation, mine bool, err error) {
	for range maxRouteAttempts {
		inc = s.current()
		if inc.owns(s, c.room) {
			return inc, true, nil
		}
		if c.known && c.owner.Node != inc.id && !s.isDead(c.owner.Node) {
			return inc, false, nil
		}
		cl, ok, err := s.log.currentClaim(ctx, c.room)
		if err != nil {
			return nil, false, err
		}
		switch {
		case !ok:
			err = s.claimRoom(ctx, inc, c.room, 1)
		case cl.Node == inc.id:
			err = s.adopt(ctx, inc, c.room, cl.Gen)
		case s.isDead(cl.Node):
			err = s.takeOver(ctx, c.room, cl)
		default:
			c.owner, c.known = cl, true
			return inc, false, nil
		}
		if err != nil && !errors.Is(err, errMoved) {
			return nil, false, err
		}
	}
	return nil, false, fmt.Errorf("room %s: owner kept moving", c.room)
}

// commitLocal appends one batch to this node's journal as the room's
// owner, waits until it is durable, broadcasts it, and returns msgs with
// their positions (startLocal, then finishLocal).
func (s *Service) commitLocal(ctx context.Context, inc *incarnation, c *committer, msgs []Message, expect []int64, seal string) ([]Message, error) {
	f, err := s.startLocal(ctx, inc, c, msgs, expect, seal)
	if err != nil {
		return nil, err
	}
	return s.finishLocal(ctx, c, f)
}

// startLocal assigns one batch its positions after whatever the room's
// committer has already handed to the journal (durable or not), and hands
// it to the journal without waiting. Only the room's committer goroutine
// calls it, so the room's positions cannot move underneath it: a message
// whose expected epoch (expect[i], when not 0) is not the room's epoch at
// that point of its order (a seal started before it counts) is left out of
// the batch and returned refused (offset 0, the current epoch). When
// every message is refused nothing is written.
func (s *Service) startLocal(ctx context.Context, inc *incarnation, c *committer, msgs []Message, expect []int64, seal string) (*flight, error) {
	room := c.room
	s.incMu.Lock()
	or := inc.owned[room]
	if inc.ended || or == nil {
		s.incMu.Unlock()
		return nil, errMoved
	}
	pos, prev := or.pos, or.next
	if pos.Before(prev) {
		pos = prev
	}
	s.incMu.Unlock()
	b := &Batch{Room: room, Epoch: pos.Epoch, First: pos.Offset + 1, origin: c.origin}
	f := &flight{inc: inc, b: b, done: make(chan error, 1)}
	if seal != "" {
		b.Seal = &Seal{Next: pos.Epoch + 1, Reason: seal}
	} else {
		at := s.log.now().UnixMilli()
		f.out = make([]Message, len(msgs))
		b.Msgs = make([]Message, 0, len(msgs))
		for i, m := range msgs {
			if i < len(expect) && expect[i] != 0 && expect[i] != pos.Epoch {
				f.out[i] = Message{Epoch: pos.Epoch} // refused: encrypted for another epoch
				continue
			}
			m.Epoch, m.Offset, m.At = b.Epoch, b.First+int64(len(b.Msgs)), at
			b.Msgs = append(b.Msgs, m)
			f.out[i] = m
		}
		if len(b.Msgs) == 0 {
			f.b = nil
			f.done <- nil
			return f, nil
		}
		packMessages(b.Msgs)
	}
	tagged, err := b.encodeCommitted(s.proc)
	if err != nil {
		return nil, err
	}
	data := tagged
	if s.proc != "" { // (never empty outside tests' literals)
		data, f.tagged = tagged[len(s.proc)+1:], tagged
	}
	f.data = data
	s.incMu.Lock()
	if inc.ended || inc.owned[room] != or {
		s.incMu.Unlock()
		return nil, errMoved
	}
	or.next = b.End()
	s.incMu.Unlock()
	StageDone(StageRoute, c.taken)
	select {
	case s.journalQ <- journalReq{inc: inc, b: b, data: data, done: f.done, at: StageClock()}:
	case <-ctx.Done():
		// Never handed over: give its positions back.
		s.incMu.Lock()
		if or.next == b.End() {
			or.next = prev
		}
		s.incMu.Unlock()
		return nil, ctx.Err()
	}
	return f, nil
}

// finishLocal waits until f is durable, broadcasts it, and returns its
// messages with their positions.
func (s *Service) finishLocal(ctx context.Context, c *committer, f *flight) ([]Message, error) {
	select {
	case err := <-f.done:
		return s.landed(ctx, c, f, err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// landed finishes f once the journal answered err: a durable batch is
// broadcast, and f's messages come back with their positions.
func (s *Service) landed(ctx context.Context, c *committer, f *flight, err error) ([]Message, error) {
	if err != nil {
		return nil, err
	}
	if f.b != nil {
		StageDone(StageJournalWake, f.b.answered)
		s.broadcast(ctx, c, f.b, f.data, f.tagged)
	}
	return f.out, nil
}

// refused reports whether a message commit returned was refused for
// expecting another epoch (stored messages have offsets from 1).
func refused(m Message) bool { return m.Offset == 0 }

// journalReq asks the journal writer to make one batch durable.
type journalReq struct {
	inc  *incarnation
	b    *Batch
	data []byte // b, encoded
	done chan error
	at   int64 // StageClock when queued (0: not traced)
}

// runJournal is the node's group commit: it takes every batch waiting,
// from every room, and writes them as one journal entry.
//
// No pacing timer: a batch that finds no write in flight is written at
// once, and whatever arrives during a write waits for the next one, so a
// busy node batches by the time its writes take and a quiet one pays
// only its own write. One exception, for a journal kept in the object
// store: when busyJournal batches or more wait as a write is taken (what
// arrived during the write before), it begins no sooner than the
// journal gap (timing.journalGap) after that write began (journalWait).
func (s *Service) runJournal() {
	defer s.wg.Done()
	// A write in flight when the service stops is given journalCloseGrace
	// to land, so that Close can compact the journal and end it (its rooms
	// then move at once) rather than leave it to be found gone.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Owned by runJournal: ends when it returns (ctx), or once it has
	// cancelled the write the grace after the stop.
	go func() {
		select {
		case <-s.stop:
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(journalCloseGrace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	}()
	gap := s.timing.journalGap
	if s.log.local != nil {
		gap = 0 // appends to a local file: nothing to save by waiting
	}
	var last time.Time // when the last write began
	for {
		// The stop first: a select with both ready picks at random, and
		// would start writes whose senders were already answered
		// ErrClosed (stored after all: a duplicate) and that, still
		// running at the grace, fail and end the journal during Close.
		select {
		case <-s.stop:
			return
		default:
		}
		var first journalReq
		select {
		case first = <-s.journalQ:
		case <-s.stop:
			return
		}
		// What waits now arrived during the last write (a pause below
		// is not counted): the node's load, not the pause's own effect.
		waiting := len(s.journalQ) + 1
		if d := journalWait(gap, last, waiting, time.Now()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-s.stop:
				t.Stop()
				first.done <- ErrClosed
				return
			}
		}
		StageDone(StageJournalQueue, first.at)
		reqs := []journalReq{first}
		size := len(first.data)
	gather:
		for len(reqs) < maxJournalBatches && size < maxJournalBytes {
			select {
			case r := <-s.journalQ:
				StageDone(StageJournalQueue, r.at)
				reqs = append(reqs, r)
				size += len(r.data)
			default:
				break gather
			}
		}
		last = time.Now()
		s.writeJournal(ctx, reqs)
	}
}

// An object-store journal write costs the store far more than its bytes:
// a local MinIO spent 0.42 of two cores on about a hundred small writes a
// second in the two-node benchmark, leaving the nodes short of CPU (and
// each write is a billed request on S3). A busy node (busyJournal batches
// or more arrived during its last write) therefore waits until
// objectJournalGap after its last write began: at most about 20 journal
// writes a second, each carrying more. A node whose writes find fewer
// waiting never waits, so one room's traffic alone (at most
// pipelineDepth batches in flight) is never held back.
const (
	objectJournalGap = 50 * time.Millisecond
	busyJournal      = 8
)

// journalCloseGrace is how long a journal write in flight at Close may
// still take.
const journalCloseGrace = 2 * time.Second

// journalWait is how long the next journal write waits, given the gap,
// when the last write began and how many batches wait (counted as the
// write is taken).
func journalWait(gap time.Duration, last time.Time, waiting int, now time.Time) time.Duration {
	if gap <= 0 || waiting < busyJournal {
		return 0
	}
	return max(0, gap-now.Sub(last))
}

// size estimates a batch's stored bytes.
func (b *Batch) size() int {
	n := 64
	for _, m := range b.Msgs {
		n += len(m.Body)*4/3 + len(m.ID) + len(m.From) + 96
	}
	return n
}

// writeJournal writes reqs as the next entry of the current incarnation's
// journal and answers each. A failed write ends the incarnation: the
// entry may or may not have landed (or another node fenced this one), so
// the journal cannot go on; the next commit starts a new one and takes the
// rooms over through the store like any other node would.
func (s *Service) writeJournal(ctx context.Context, reqs []journalReq) {
	inc := s.current()
	var batches []json.RawMessage
	var keep []journalReq
	for _, r := range reqs {
		if r.inc != inc {
			r.done <- errMoved
			continue
		}
		batches = append(batches, r.data)
		keep = append(keep, r)
	}
	if len(keep) == 0 {
		return
	}
	seq := inc.lastSeq.Load() + 1
	wrote := StageClock()
	version, err := s.log.putJournal(ctx, &journalWrite{Node: inc.id, Seq: seq, Batches: batches})
	StageDone(StageJournalWrite, wrote)
	if err != nil {
		if errors.Is(err, objstore.ErrPrecondition) {
			s.logger.Warn("this node's journal was fenced by another node; starting a new one")
		} else {
			s.logger.Warn("journal write failed; starting a new journal", "error", err.Error())
		}
		s.reincarnate(inc)
		for _, r := range keep {
			r.done <- fmt.Errorf("messaging: not stored: %w", err)
		}
		return
	}
	inc.lastSeq.Store(seq)
	// (Stamped before the batches are shared with compaction.)
	answered := StageClock()
	for _, r := range keep {
		r.b.answered = answered
	}
	now := time.Now()
	s.incMu.Lock()
	if !inc.ended {
		inc.live[seq] = &liveEntry{version: version, left: len(keep)}
		for _, r := range keep {
			or := inc.owned[r.b.Room]
			j := journaled{b: r.b, seq: seq, at: now, size: r.b.size()}
			or.tail = append(or.tail, j)
			or.tailBytes += j.size
			or.pos = r.b.End()
			or.used = now
		}
	}
	s.incMu.Unlock()
	// Durable in the journal: acknowledged even if the incarnation ended
	// meanwhile, since whoever fences it recovers this entry.
	for _, r := range keep {
		r.done <- nil
	}
}
