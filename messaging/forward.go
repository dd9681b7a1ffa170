package messaging

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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
// it is sent in several requests.
const maxForwardBytes = 1 << 20

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
	// Err is "moved" (not the owner any more: look again) or "failed".
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
		n, size := 0, 0
		for n < len(msgs) && (n == 0 || size+len(msgs[n].Body) <= maxForwardBytes) {
			size += len(msgs[n].Body)
			n++
		}
		req := forwardRequest{Room: room, Msgs: msgs[:n]}
		if len(expect) > 0 {
			// Under its own op: an owner that predates epoch
			// expectations ignores the request (the commit times out and
			// the client sends again) rather than storing the messages in
			// whatever epoch it is at.
			req.Op, req.Expect = opCommitExpect, expect[:n]
			expect = expect[n:]
		}
		r, err := s.forwardOnce(ctx, owner, req)
		if err != nil {
			return nil, err
		}
		if len(r.Pos) != n || len(r.At) != n {
			return nil, fmt.Errorf("room %s: owner answered %d positions for %d messages", room, len(r.Pos), n)
		}
		for i, m := range msgs[:n] {
			m.Epoch, m.Offset, m.At = r.Pos[i].Epoch, r.Pos[i].Offset, r.At[i]
			out = append(out, m)
		}
		msgs = msgs[n:]
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
	req.Req, req.Reply, req.At = newNodeID(), s.proc, time.Now().UnixMilli()
	body, err := json.Marshal(req)
	if err != nil {
		return forwardReply{}, err
	}
	data := s.sign(body)
	answer := make(chan forwardReply, 1)
	s.fwdMu.Lock()
	s.waiting[req.Req] = answer
	s.fwdMu.Unlock()
	defer func() {
		s.fwdMu.Lock()
		delete(s.waiting, req.Req)
		s.fwdMu.Unlock()
	}()
	for try := 0; ; try++ {
		n, err := s.broker.Send(ctx, ownerTopic(owner), data)
		if err != nil {
			return forwardReply{}, fmt.Errorf("messaging: owner unreachable: %w", err)
		}
		if n > 0 {
			break
		}
		if try == 1 {
			return forwardReply{}, errOwnerGone
		}
		select {
		case <-time.After(goneRecheck):
		case <-ctx.Done():
			return forwardReply{}, ctx.Err()
		}
	}
	select {
	case r := <-answer:
		switch r.Err {
		case "":
			return r, nil
		case "moved":
			return r, errMoved
		default:
			return r, errors.New("messaging: the room's owner could not store it")
		}
	case <-time.After(timeout):
		return forwardReply{}, errors.New("messaging: the room's owner did not answer")
	case <-ctx.Done():
		return forwardReply{}, ctx.Err()
	}
}

// onReply hands an owner's answer to the commit waiting for it.
func (s *Service) onReply(data []byte) {
	body, ok := s.verify(data)
	var r forwardReply
	if !ok || json.Unmarshal(body, &r) != nil {
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
		go s.serveForward(inc, req)
	}
}

// serveTail answers with what inc has journaled of the room after
// req.After and not yet compacted, up to maxForwardBytes of bodies.
func (s *Service) serveTail(inc *incarnation, req forwardRequest) {
	reply := forwardReply{Req: req.Req}
	s.incMu.Lock()
	or := inc.owned[req.Room]
	if or == nil || inc.ended {
		reply.Err = "moved"
	} else {
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
	if !ok || json.Unmarshal(body, &req) != nil || req.Req == "" || req.Reply == "" || req.Room == "" {
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

// serveForward commits a forwarded request through the room's committer
// (so it is ordered with this node's own publishers) and answers.
func (s *Service) serveForward(inc *incarnation, req forwardRequest) {
	reply := forwardReply{Req: req.Req}
	results, err := s.enqueueForwarded(inc, req)
	switch {
	case errors.Is(err, errMoved):
		reply.Err = "moved"
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

func (s *Service) enqueueForwarded(inc *incarnation, req forwardRequest) ([]Result, error) {
	// Not asked whether inc owns the room yet: a claim of inc's whose
	// answer was lost is adopted by the commit (route).
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
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
	for _, p := range ps {
		if err := s.queue(ctx, req.Room, p); err != nil {
			return nil, err
		}
	}
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
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}
