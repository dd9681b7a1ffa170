package messaging

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
)

// A node that is not a room's owner hands the room's messages to the
// owner over the broker: a request on the owner incarnation's topic, the
// answer on the asking process's reply topic, both authenticated with
// HMAC-SHA256 under the deployment's node key (requests also carry their
// time and are served once). The request carries the
// (opaque) messages; the answer only their positions. A lost request or
// answer (Redis restarting) times out into "not stored; send again": the
// client resends, and receivers drop a duplicate by its sender and id.

// forwardTimeout bounds the wait for an owner's answer. It is long enough
// for a commit to ride out a store stall that the owner itself survives.
const forwardTimeout = 20 * time.Second

// maxForwardBytes bounds one forwarded request: a committer's batch above
// it is sent in several requests. It is the commit cut (maxBatchBytes),
// so a committer's batch always fits one request and takes the pipelined
// path (pipeline.go); were it smaller, large batches would fall back to
// the synchronous one.
const maxForwardBytes = maxBatchBytes

// opCommitExpect is a commit of messages that carry expected epochs
// (Expect); a plain "commit" carries none.
const opCommitExpect = "commit-expect"

type forwardRequest struct {
	Op    string    `json:"op"` // "commit", opCommitExpect, "tail" (the owner's journaled tail of Room after After), or "ping" (asks only whether anyone listens)
	Req   string    `json:"req,omitempty"`
	At    int64     `json:"at,omitempty"` // unix milliseconds when sent: older requests are refused
	Reply string    `json:"reply,omitempty"`
	Room  string    `json:"room,omitempty"`
	Msgs  []Message `json:"msgs,omitempty"`
	// Expect holds each of Msgs' expected epoch (0: none; empty: none
	// expects one): see Service.EnqueueFor.
	Expect []int64  `json:"expect,omitempty"`
	Seal   string   `json:"seal,omitempty"`
	After  Position `json:"after,omitzero"`
}

type forwardReply struct {
	Req string `json:"req"`
	// Err is "moved" (not the owner any more: look again), "ended" (the
	// room's history has ended: ErrHistoryEnded, nothing stored) or
	// "failed". (A node that predates "ended" takes it as "failed".)
	Err string `json:"err,omitempty"`
	// Pos holds each message's position; offset 0 marks one refused for
	// expecting another epoch, with the room's current epoch.
	Pos []Position `json:"pos,omitempty"`
	At  []int64    `json:"at,omitempty"`
	// Tail answers a "tail" request: batches, in order, the first
	// holding the message after the request's After.
	Tail []*Batch `json:"tail,omitempty"`
}

// forward commits msgs (or a seal) through owner and returns msgs with
// their positions (a refused one at offset 0, as commit).
func (s *Service) forward(ctx context.Context, owner, room string, msgs []Message, expect []int64, seal string) ([]Message, error) {
	if seal != "" {
		_, err := s.forwardOnce(ctx, owner, forwardRequest{Room: room, Seal: seal})
		return nil, err
	}
	out := make([]Message, 0, len(msgs))
	for len(msgs) > 0 {
		req, n := forwardPart(room, msgs, expect)
		expect = expect[min(n, len(expect)):]
		r, err := s.forwardOnce(ctx, owner, req)
		if err != nil {
			return nil, err
		}
		placed, err := positioned(room, msgs[:n], r)
		if err != nil {
			return nil, err
		}
		out = append(out, placed...)
		msgs = msgs[n:]
	}
	return out, nil
}

// forwardPart is the request for the first n of msgs, as many as fit in
// maxForwardBytes (at least one).
func forwardPart(room string, msgs []Message, expect []int64) (forwardRequest, int) {
	n, size := 0, 0
	for n < len(msgs) && (n == 0 || size+len(msgs[n].Body) <= maxForwardBytes) {
		size += len(msgs[n].Body)
		n++
	}
	req := forwardRequest{Op: "commit", Room: room, Msgs: msgs[:n]}
	if len(expect) > 0 {
		// Under its own op: an owner that predates epoch expectations
		// ignores the request (the commit times out and the client
		// sends again) rather than storing the messages in whatever
		// epoch it is at.
		req.Op, req.Expect = opCommitExpect, expect[:n]
	}
	return req, n
}

// positioned is msgs with the positions the owner's answer r gave them.
func positioned(room string, msgs []Message, r forwardReply) ([]Message, error) {
	if len(r.Pos) != len(msgs) || len(r.At) != len(msgs) {
		return nil, fmt.Errorf("room %s: owner answered %d positions for %d messages", room, len(r.Pos), len(msgs))
	}
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		m.Epoch, m.Offset, m.At = r.Pos[i].Epoch, r.Pos[i].Offset, r.At[i]
		out[i] = m
	}
	return out, nil
}

func (s *Service) forwardOnce(ctx context.Context, owner string, req forwardRequest) (forwardReply, error) {
	if req.Op == "" {
		req.Op = "commit"
	}
	return s.ask(ctx, owner, req, forwardTimeout)
}

// ask sends req to the owner incarnation and waits up to timeout for its
// answer.
func (s *Service) ask(ctx context.Context, owner string, req forwardRequest, timeout time.Duration) (forwardReply, error) {
	for try := 0; ; try++ {
		a, n, err := s.sendAsk(ctx, owner, req)
		if err != nil {
			return forwardReply{}, err
		}
		if n > 0 {
			return s.await(ctx, a, timeout)
		}
		s.unregister(a)
		if try == 1 {
			return forwardReply{}, errOwnerGone
		}
		select {
		case <-time.After(goneRecheck):
		case <-ctx.Done():
			return forwardReply{}, ctx.Err()
		}
	}
}

// asking is a request sent to an owner whose answer is awaited.
type asking struct {
	req    string
	answer chan forwardReply
}

// sendAsk signs req and sends it to the owner incarnation's topic, with a
// place for its answer (registered until await or unregister); n is how
// many listened (0: nobody).
func (s *Service) sendAsk(ctx context.Context, owner string, req forwardRequest) (*asking, int, error) {
	req.Req, req.Reply, req.At = newNodeID(), s.proc, time.Now().UnixMilli()
	body, err := json.Marshal(req)
	if err != nil {
		return nil, 0, err
	}
	a := &asking{req: req.Req, answer: make(chan forwardReply, 1)}
	s.fwdMu.Lock()
	s.waiting[a.req] = a.answer
	s.fwdMu.Unlock()
	n, err := s.broker.Send(ctx, ownerTopic(owner), s.sign(body))
	if err != nil {
		s.unregister(a)
		return nil, 0, fmt.Errorf("messaging: owner unreachable: %w", err)
	}
	return a, n, nil
}

func (s *Service) unregister(a *asking) {
	s.fwdMu.Lock()
	delete(s.waiting, a.req)
	s.fwdMu.Unlock()
}

// await waits up to timeout for a's answer.
func (s *Service) await(ctx context.Context, a *asking, timeout time.Duration) (forwardReply, error) {
	defer s.unregister(a)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-a.answer:
		switch r.Err {
		case "":
			return r, nil
		case "moved":
			return r, errMoved
		case "ended":
			return r, ErrHistoryEnded
		default:
			return r, errors.New("messaging: the room's owner could not store it")
		}
	case <-t.C:
		return forwardReply{}, errors.New("messaging: the room's owner did not answer")
	case <-ctx.Done():
		return forwardReply{}, ctx.Err()
	}
}

// onReply hands an owner's answer to the commit waiting for it.
func (s *Service) onReply(data []byte) {
	body, ok := s.verify(data)
	var r forwardReply
	if !ok || jsonv2.Unmarshal(body, &r, strictJSON) != nil {
		return
	}
	s.fwdMu.Lock()
	ch := s.waiting[r.Req]
	s.fwdMu.Unlock()
	if ch != nil {
		select {
		case ch <- r:
		default:
		}
	}
}

// onForward receives a request sent to incarnation inc as a room's owner.
// It must not block (it runs in the broker's delivery loop).
func (s *Service) onForward(inc *incarnation, data []byte) {
	req, ok := s.decodeForward(data)
	if !ok || !s.fresh(req) {
		return
	}
	switch {
	case req.Op == "tail":
		go s.serveTail(inc, req)
	case req.Op == "commit" && len(req.Expect) == 0 && (req.Seal != "" || len(req.Msgs) > 0),
		req.Op == opCommitExpect && len(req.Msgs) > 0:
		s.admit(inc, req)
	}
}

// A room's forwarded commits are queued to its committer in the order
// they arrived: a node that is not the owner may have several in flight
// for one room (pipeline.go), and they must be committed in the order it
// sent them. Each room with requests waiting has an intake and one
// goroutine queuing them, which ends (and the room's entry goes) once
// none wait; answering each request is left to a goroutine of its own, as
// it waits for the commit.

// maxIntake bounds a room's forwarded commits waiting to be queued; past
// it a request is dropped, and its sender, after forwardTimeout, tells
// its client to send again.
const maxIntake = 4096

type intake struct {
	reqs []intakeReq
}

type intakeReq struct {
	inc *incarnation
	req forwardRequest
}

// admit hands a forwarded commit to its room's intake, starting the
// intake's goroutine when none runs. It does not block.
func (s *Service) admit(inc *incarnation, req forwardRequest) {
	s.fwdMu.Lock()
	in := s.intakes[req.Room]
	if in != nil {
		if len(in.reqs) < maxIntake {
			in.reqs = append(in.reqs, intakeReq{inc, req})
		}
		s.fwdMu.Unlock()
		return
	}
	in = &intake{reqs: []intakeReq{{inc, req}}}
	s.intakes[req.Room] = in
	s.fwdMu.Unlock()
	go s.runIntake(req.Room, in)
}

// runIntake queues a room's forwarded commits in order until none wait.
//
// It and the goroutines answering each request have no Close to wait for
// (a broker callback starts them, possibly after Close began): each ends
// within forwardTimeout, and at once after the service stops (queuing
// then fails with ErrClosed).
func (s *Service) runIntake(room string, in *intake) {
	for {
		s.fwdMu.Lock()
		if len(in.reqs) == 0 {
			delete(s.intakes, room)
			s.fwdMu.Unlock()
			return
		}
		r := in.reqs[0]
		in.reqs[0] = intakeReq{}
		in.reqs = in.reqs[1:]
		s.fwdMu.Unlock()
		deadline := time.Now().Add(forwardTimeout)
		ps, err := s.queueForwarded(r.inc, r.req, deadline)
		go s.serveForward(r.req, ps, err, deadline)
	}
}

// serveTail answers with what inc has journaled of the room after
// req.After and not yet compacted, up to maxForwardBytes of bodies.
func (s *Service) serveTail(inc *incarnation, req forwardRequest) {
	reply := forwardReply{Req: req.Req}
	s.incMu.Lock()
	or := inc.owned[req.Room]
	switch {
	case inc.ended:
		reply.Err = "moved"
	case or == nil:
		// Not held here: forgotten while idle (its tail was empty), or its
		// claim written and not yet taken up. Either way nothing of it is
		// journaled by inc and not in its segments: the tail is empty.
	default:
		size := 0
		for _, j := range or.tail {
			if !req.After.Before(j.b.End()) {
				continue
			}
			if size > maxForwardBytes {
				break
			}
			reply.Tail = append(reply.Tail, j.b)
			for _, m := range j.b.Msgs {
				size += len(m.Body)
			}
		}
	}
	s.incMu.Unlock()
	s.answer(req, reply)
}

// decodeForward checks a request's signature and parses it.
func (s *Service) decodeForward(data []byte) (forwardRequest, bool) {
	body, ok := s.verify(data)
	var req forwardRequest
	if !ok || jsonv2.Unmarshal(body, &req, strictJSON) != nil || req.Req == "" || req.Reply == "" || req.Room == "" {
		return forwardRequest{}, false
	}
	return req, true
}

// fresh reports whether req is recent and not seen before (a request
// replayed through the broker is dropped).
func (s *Service) fresh(req forwardRequest) bool {
	now := time.Now()
	if d := now.Sub(time.UnixMilli(req.At)); d > forwardTimeout || d < -forwardTimeout {
		return false
	}
	s.fwdMu.Lock()
	defer s.fwdMu.Unlock()
	return s.seenReqs.firstTime(req.Req, now)
}

// sign prefixes body with its HMAC-SHA256 under the node key.
func (s *Service) sign(body []byte) []byte {
	mac := hmac.New(sha256.New, s.nodeKey)
	mac.Write(body)
	return append(mac.Sum(make([]byte, 0, sha256.Size+len(body))), body...)
}

// verify checks and strips sign's prefix.
func (s *Service) verify(data []byte) ([]byte, bool) {
	if len(data) < sha256.Size {
		return nil, false
	}
	mac := hmac.New(sha256.New, s.nodeKey)
	mac.Write(data[sha256.Size:])
	return data[sha256.Size:], hmac.Equal(mac.Sum(nil), data[:sha256.Size])
}

// serveForward waits for a forwarded request's commit (queued as ps, or
// failed to queue with err) and answers it.
func (s *Service) serveForward(req forwardRequest, ps []pending, err error, deadline time.Time) {
	reply := forwardReply{Req: req.Req}
	var results []Result
	if err == nil {
		results, err = waitForwarded(ps, deadline)
	}
	switch {
	case errors.Is(err, errMoved):
		reply.Err = "moved"
	case errors.Is(err, ErrHistoryEnded):
		reply.Err = "ended"
	case err != nil:
		reply.Err = "failed"
	default:
		for _, r := range results {
			reply.Pos = append(reply.Pos, r.Msg.Pos())
			reply.At = append(reply.At, r.Msg.At)
		}
	}
	s.answer(req, reply)
}

// answer publishes reply, signed, on the asking process's reply topic.
func (s *Service) answer(req forwardRequest, reply forwardReply) {
	body, _ := json.Marshal(reply)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.broker.Publish(ctx, replyTopic(req.Reply), s.sign(body))
}

// queueForwarded queues a forwarded request's seal or messages to the
// room's committer, in order, each to be committed only by inc.
func (s *Service) queueForwarded(inc *incarnation, req forwardRequest, deadline time.Time) ([]pending, error) {
	// Not asked whether inc owns the room yet: a claim of inc's whose
	// answer was lost is adopted by the commit (route).
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var ps []pending
	if req.Seal != "" {
		ps = append(ps, pending{seal: req.Seal, via: inc, done: make(chan Result, 1)})
	}
	for i, m := range req.Msgs {
		p := pending{msg: Message{ID: m.ID, From: m.From, Kind: m.Kind, Body: m.Body}, via: inc, done: make(chan Result, 1)}
		if i < len(req.Expect) {
			p.expect = req.Expect[i]
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		if err := s.queue(ctx, req.Room, p); err != nil {
			// The ones queued are committed all the same; the sender is
			// told the request failed, and its clients send again.
			return ps[:i], err
		}
	}
	return ps, nil
}

// waitForwarded waits for the results of ps (a forwarded request) until
// deadline, the one its queuing had: the sender gives up after
// forwardTimeout.
func waitForwarded(ps []pending, deadline time.Time) ([]Result, error) {
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	out := make([]Result, len(ps))
	for i, p := range ps {
		select {
		case out[i] = <-p.done:
			var em *EpochMovedError
			if errors.As(out[i].Err, &em) {
				// Refused, not failed: answered as offset 0 of the
				// room's current epoch.
				out[i] = Result{Msg: Message{Epoch: em.Current}}
				continue
			}
			if out[i].Err != nil {
				return nil, out[i].Err
			}
		case <-timeout.C:
			return nil, context.DeadlineExceeded
		}
	}
	return out, nil
}
