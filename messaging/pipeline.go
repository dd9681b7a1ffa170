package messaging

import (
	"cmp"
	"context"
	"errors"
)

// A room's committer pipelines its commits on the node that owns the
// room: it hands a batch to the journal and, without waiting for it to be
// durable, takes the next one, up to pipelineDepth batches in flight.
// Each batch is placed after the one before (ownedRoom.next), and the
// journal writes batches in the order they were handed to it, so a room's
// batches land in order; they are broadcast and answered in that order
// too, as each one's journal write returns. A message that arrives while
// a batch is in flight thus waits only for the journal's next write, not
// for the room's last batch to be written, broadcast and answered first.
//
// Whatever is not pipelined — a commit forwarded to another node's
// owner, a room this node has yet to claim or take over — first waits for
// the batches in flight, then commits as one synchronous step (commit), so
// that a room's order holds across owners. A batch whose journal write
// came back errMoved (its incarnation ended: the incarnation's earlier
// write failed) is committed again in the same way — of a batch that mixed
// the node's own requests with forwarded ones (joins), only its own; the
// forwarded ones are refused and their node sends them again — and since
// every batch in flight belongs to one incarnation, the ones after it come
// back errMoved too and follow it in order.

// pipelineDepth is how many batches a room's committer may have in the
// journal's hands at once.
const pipelineDepth = 4

// flight is a batch handed to the journal, or forwarded to the room's
// owner, and not yet answered.
type flight struct {
	batch []pending // what it answers (one seal, or messages)
	inc   *incarnation
	b     *Batch // nil: every message was refused, nothing written
	data  []byte // b, encoded
	// tagged is this node's id, a newline and data, in one buffer that
	// data is the end of (the broadcast; nil: not made yet).
	tagged []byte
	out    []Message
	done   chan error // the journal's answer (filled at once when nothing is written)
	// owner is set on a batch forwarded to the room's owner (that
	// incarnation's id); reply is the owner's answer once done has
	// received.
	owner string
	reply forwardReply
}

// flights is a committer's pipeline, oldest first.
type flights struct {
	fl []*flight
	// failed: a batch of this pipeline did not land, so a later batch
	// that wrote nothing (every message refused against the epoch the
	// pipeline had reached) must be decided again.
	failed bool
}

// head is the oldest flight's answer channel (nil when none is in flight).
func (p *flights) head() <-chan error {
	if len(p.fl) == 0 {
		return nil
	}
	return p.fl[0].done
}

// start commits batch: pipelined when this node owns the room, else
// after what is in flight, synchronously.
func (s *Service) start(ctx context.Context, c *committer, p *flights, batch []pending) {
	c.busy.Add(int64(len(batch)))
	msgs, expect, seal, via := unpack(batch)
	if len(p.fl) > 0 && s.current() != p.fl[0].inc {
		s.drain(ctx, c, p)
	}
	inc, mine, err := s.route(ctx, c)
	if err != nil {
		s.drain(ctx, c, p)
		c.answer(batch, nil, err)
		return
	}
	if !mine && via == nil && c.known && (len(p.fl) == 0 || p.fl[0].owner == c.owner.Node) {
		if f, ok := s.startForward(ctx, c, inc, msgs, expect, seal); ok {
			f.batch = batch
			p.fl = append(p.fl, f)
			return
		}
	}
	if mine && (via == nil || via == inc) && (len(p.fl) == 0 || (p.fl[0].owner == "" && p.fl[0].inc == inc)) {
		f, err := s.startLocal(ctx, inc, c, msgs, expect, seal)
		if err == nil {
			f.batch = batch
			p.fl = append(p.fl, f)
			return
		}
		if !errors.Is(err, errMoved) {
			s.drain(ctx, c, p)
			c.answer(batch, nil, err)
			return
		}
	}
	s.drain(ctx, c, p)
	s.commitBatch(ctx, c, batch)
}

// commitBatch commits batch synchronously (commit) and answers it. A
// batch mixing this node's own requests with forwarded ones (joins) whose
// commit came back errMoved is split: the forwarded requests are refused
// (their node asks the room's owner again) and this node's own are
// committed afresh, wherever the room's owner now is.
func (s *Service) commitBatch(ctx context.Context, c *committer, batch []pending) {
	msgs, expect, seal, via := unpack(batch)
	out, err := s.commit(ctx, c, msgs, expect, seal, via)
	if errors.Is(err, errMoved) && via != nil && batch[0].seal == "" {
		var own, forwarded []pending
		for _, q := range batch {
			if q.via == nil {
				own = append(own, q)
			} else {
				forwarded = append(forwarded, q)
			}
		}
		if len(own) > 0 {
			c.answer(forwarded, nil, err)
			msgs, expect, _, _ := unpack(own)
			out, err := s.commit(ctx, c, msgs, expect, "", nil)
			c.answer(own, out, err)
			return
		}
	}
	c.answer(batch, out, err)
}

// finish answers the oldest flight, whose journal write returned err.
func (s *Service) finish(ctx context.Context, c *committer, p *flights, err error) {
	f := p.fl[0]
	p.fl[0] = nil
	p.fl = p.fl[1:]
	retry := errors.Is(err, errMoved) || (f.b == nil && f.owner == "" && p.failed)
	if err != nil {
		p.failed = true
	}
	var out []Message
	switch {
	case retry:
		if f.owner != "" {
			c.forget() // the owner moved: look it up again
		}
		s.commitBatch(ctx, c, f.batch)
		if len(p.fl) == 0 {
			p.fl, p.failed = nil, false
		}
		return
	case f.owner != "":
		if err == nil && f.batch[0].seal == "" {
			msgs, _, _, _ := unpack(f.batch)
			out, err = positioned(c.room, msgs, f.reply)
		}
	default:
		out, err = s.landed(ctx, c, f, err)
	}
	c.answer(f.batch, out, err)
	if len(p.fl) == 0 {
		p.fl, p.failed = nil, false
	}
}

// startForward sends batch to the room's owner (c.owner) without
// waiting for the answer, when it fits one request and the owner listens;
// ok false leaves it to the synchronous path (commit), which splits large
// batches and looks for an owner that is gone.
func (s *Service) startForward(ctx context.Context, c *committer, inc *incarnation, msgs []Message, expect []int64, seal string) (*flight, bool) {
	req := forwardRequest{Op: "commit", Room: c.room, Seal: seal}
	if seal == "" {
		var n int
		if req, n = forwardPart(c.room, msgs, expect); n < len(msgs) {
			return nil, false
		}
	}
	a, n, err := s.sendAsk(ctx, c.owner.Node, req)
	if err != nil {
		return nil, false
	}
	if n == 0 {
		s.unregister(a)
		return nil, false
	}
	f := &flight{inc: inc, owner: c.owner.Node, done: make(chan error, 1)}
	// Owned by the flight: ends with the answer, forwardTimeout, or the
	// service's stop (ctx).
	go func() {
		r, err := s.await(ctx, a, forwardTimeout)
		f.reply = r
		f.done <- err
	}()
	return f, true
}

// drain finishes every flight, in order.
func (s *Service) drain(ctx context.Context, c *committer, p *flights) {
	for len(p.fl) > 0 {
		select {
		case err := <-p.fl[0].done:
			s.finish(ctx, c, p, err)
		case <-ctx.Done():
			s.finish(ctx, c, p, ctx.Err())
		}
	}
}

// abandon answers every flight with ErrClosed (the service is stopping;
// the journal writer may never answer them). One that did land is in the
// journal all the same: its sender resends, and receivers drop the
// duplicate by its sender and id.
func (c *committer) abandon(p *flights) {
	for _, f := range p.fl {
		c.answer(f.batch, nil, ErrClosed)
	}
	p.fl = nil
}

// unpack is batch as commit's arguments.
func unpack(batch []pending) (msgs []Message, expect []int64, seal string, via *incarnation) {
	for _, p := range batch {
		via = cmp.Or(via, p.via) // a batch's forwarded requests share one (joins)
	}
	if batch[0].seal != "" {
		return nil, nil, batch[0].seal, via
	}
	msgs = make([]Message, len(batch))
	for i, p := range batch {
		msgs[i] = p.msg
		if p.expect != 0 {
			if expect == nil {
				expect = make([]int64, len(batch))
			}
			expect[i] = p.expect
		}
	}
	return msgs, expect, "", via
}

// answer gives each of batch's callers its result: out[i] (refused ones
// as *EpochMovedError), or err.
func (c *committer) answer(batch []pending, out []Message, err error) {
	defer c.busy.Add(-int64(len(batch)))
	if batch[0].seal != "" {
		batch[0].done <- Result{Err: err}
		return
	}
	for i, p := range batch {
		switch {
		case err != nil:
			p.done <- Result{Err: err}
		case refused(out[i]):
			p.done <- Result{Err: &EpochMovedError{Expected: p.expect, Current: out[i].Epoch}}
		default:
			p.done <- Result{Msg: out[i]}
		}
	}
}

// requests is how many requests c holds: queued, in flight, or being
// committed.
func (c *committer) requests() int { return len(c.queue) + int(c.busy.Load()) }
