package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

// BroadcastRooms lists where a mediator's notice goes: every room open in
// this chat (the rooms this device is a member of) except the mediators'
// own room. Rooms the mediator is not in get nothing.
func (s *SecureChat) BroadcastRooms() []string {
	var out []string
	for _, r := range s.rooms {
		if r != api.RoomMediators {
			out = append(out, r)
		}
	}
	return out
}

// Broadcast sends text as a notice to every room of BroadcastRooms, one
// end-to-end encrypted message per room (only a mediator of the case:
// other clients would show it as an ordinary message). It returns the
// rooms it reached, in order; on an error, the rooms after the failing
// one got nothing. (This check only spares a non-mediator a useless send:
// receivers show a notice as one only when the signed membership statement
// names its sender a mediator.)
func (s *SecureChat) Broadcast(ctx context.Context, text string) ([]string, error) {
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
	rooms := s.BroadcastRooms()
	if len(rooms) == 0 {
		return nil, errors.New("you are in no room of this case to send a notice to")
	}
	var sent []string
	for _, r := range rooms {
		if _, err := s.send(ctx, r, &e2ee.Plaintext{Kind: e2ee.KindNotice, Text: text}, nil); err != nil {
			return sent, fmt.Errorf("the notice reached %d of %d rooms; %s got nothing: %w", len(sent), len(rooms), r, err)
		}
		sent = append(sent, r)
	}
	return sent, nil
}
