package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

// BroadcastRooms lists where a mediator's notice goes: every room open in
// this chat (the rooms this device is a member of when the chat opened)
// except the mediators' own room and the rooms a mediator closed, as the
// verified membership chain holds their signed closing. Rooms the
// mediator is not in get nothing.
func (s *SecureChat) BroadcastRooms() []string {
	s.mu.Lock()
	chain := s.sess.Chain
	s.mu.Unlock()
	var out []string
	for _, r := range s.rooms {
		if r == api.RoomMediators {
			continue
		}
		if _, closed := chain.Closed(r); closed {
			continue
		}
		out = append(out, r)
	}
	return out
}

// BroadcastError says which rooms a notice did not reach. Every other
// room of BroadcastRooms got it (Sent): a room that refuses the notice
// does not stop the rest.
type BroadcastError struct {
	Sent   []string
	Failed []RoomError
}

// RoomError is one room's failure.
type RoomError struct {
	Room string
	Err  error
}

func (e *BroadcastError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the notice reached %d of %d rooms; it could not be sent to", len(e.Sent), len(e.Sent)+len(e.Failed))
	for i, f := range e.Failed {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s (%v)", f.Room, f.Err)
	}
	return b.String()
}

// Unwrap returns the rooms' errors.
func (e *BroadcastError) Unwrap() []error {
	var out []error
	for _, f := range e.Failed {
		out = append(out, f.Err)
	}
	return out
}

// Broadcast sends text as a notice to every room of BroadcastRooms, one
// end-to-end encrypted message per room (only a mediator of the case:
// other clients would show it as an ordinary message). It fetches the
// membership chain first, so a room another mediator closed meanwhile is
// left out too, and so is a room found closed while sending (its signed
// closing arrived in between). It returns the rooms it reached, in
// order. A room that refuses the notice does not stop the others: every
// room is tried, and then a *BroadcastError names the rooms that did not
// get it. (The mediator check only spares a non-mediator a useless send:
// receivers show a notice as one only when the signed membership
// statement names its sender a mediator.)
func (s *SecureChat) Broadcast(ctx context.Context, text string) ([]string, error) {
	if err := (&e2ee.Plaintext{Kind: e2ee.KindNotice, Text: text}).Check(); err != nil {
		return nil, err // every room would refuse it alike
	}
	c, err := s.x.C.Case(ctx, s.caseID)
	if err != nil {
		return nil, err
	}
	mediator := false
	for _, m := range c.Mediators {
		if m.AccountID == s.x.Me.Account && m.Recused == nil {
			mediator = true
		}
	}
	if !mediator {
		return nil, errors.New("only a mediator of this case sends notices")
	}
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	rooms := s.BroadcastRooms()
	if len(rooms) == 0 {
		return nil, errors.New("you are in no open room of this case to send a notice to")
	}
	var sent []string
	var failed []RoomError
	for _, r := range rooms {
		_, err := s.send(ctx, r, &e2ee.Plaintext{Kind: e2ee.KindNotice, Text: text}, nil)
		switch {
		case err == nil:
			sent = append(sent, r)
		case errors.Is(err, e2ee.ErrRoomClosed):
			// closed by a mediator's signed word: not a room to send to
		default:
			failed = append(failed, RoomError{Room: r, Err: err})
		}
	}
	if len(failed) > 0 {
		return sent, &BroadcastError{Sent: sent, Failed: failed}
	}
	return sent, nil
}
