package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

// Rooms a mediator defines (api/rooms.go). Opening one is two steps: the
// server records it (policy decides who may be put together), then the
// opening mediator's device signs its membership — the people it asked
// for, under the name that says whether it is cross-side — into the
// case's membership chain. No other signing adds a defined room or anyone
// to one (e2ee.CarryDefined), so the server cannot put someone in a room
// or flip it to cross-side: members' clients refuse anyone not signed in.

// DefinedRooms lists the defined rooms of a case that the caller is in.
func (c *Client) DefinedRooms(ctx context.Context, caseID string) ([]api.DefinedRoom, error) {
	var out []api.DefinedRoom
	err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+url.PathEscape(caseID)+"/defined-rooms", nil, &out)
	return out, err
}

// CloseRoom closes a defined room (a mediator in it).
func (c *Client) CloseRoom(ctx context.Context, caseID, room string) (api.DefinedRoom, error) {
	var out api.DefinedRoom
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+url.PathEscape(caseID)+"/defined-rooms/"+url.PathEscape(room)+"/close", nil, &out)
	return out, err
}

// OpenRoom opens a room of members (account ids, this mediator among
// them or not), named label, declared cross-side or not, and signs its
// membership on this device. It refuses a server answer that differs from
// what was asked.
func (s *SecureChat) OpenRoom(ctx context.Context, label string, members []string, crossSide bool) (api.DefinedRoom, error) {
	if !s.mediator {
		return api.DefinedRoom{}, fmt.Errorf("only a mediator's device signs a room's membership")
	}
	var r api.DefinedRoom
	if err := s.x.C.Do(ctx, http.MethodPost, "/api/v1/cases/"+url.PathEscape(s.caseID)+"/defined-rooms",
		api.OpenRoomRequest{Label: label, Members: members, CrossSide: crossSide}, &r); err != nil {
		return api.DefinedRoom{}, err
	}
	if err := s.SignRoom(ctx, r, members, crossSide); err != nil {
		return r, fmt.Errorf("room %q is open on the server, but this device did not sign its membership, so nobody can write in it yet: %w", label, err)
	}
	return r, nil
}

// SignRoom signs the membership of a defined room the server opened as r,
// for the members and declaration this mediator chose (not r's, which
// must match them).
func (s *SecureChat) SignRoom(ctx context.Context, r api.DefinedRoom, members []string, crossSide bool) error {
	want := slices.Clone(members)
	slices.Sort(want)
	got := slices.Clone(r.Members)
	slices.Sort(got)
	want = slices.Compact(want)
	if r.CrossSide != crossSide || r.Room != e2ee.DefinedRoomName(r.ID, crossSide) || !slices.Equal(got, want) {
		return fmt.Errorf("%w: the server describes room %q otherwise than this device asked for it", e2ee.ErrMembership, r.Label)
	}
	// A name the verified chain has ever held is an existing room: signing
	// would add nothing, and messages meant for the new room would reach
	// that room's people instead. Only a name new to the chain is opened.
	s.mu.Lock()
	chain := s.sess.Chain
	s.mu.Unlock()
	if chainHeld(chain, r.Room) {
		return fmt.Errorf("%w: the server answered with room %q, which already exists; refusing to treat it as the new room %q", e2ee.ErrMembership, r.Room, r.Label)
	}
	if err := s.signRooms(ctx, []e2ee.RoomMembers{{Name: r.Room, Epoch: 1, Members: want}}); err != nil {
		return err
	}
	// What is signed now must be exactly the people asked for.
	s.mu.Lock()
	latest := s.sess.Chain.Latest()
	s.mu.Unlock()
	if latest == nil {
		return fmt.Errorf("%w: room %q is not in the signed membership", e2ee.ErrMembership, r.Label)
	}
	signed, ok := latest.Room(r.Room)
	if !ok {
		return fmt.Errorf("%w: room %q is not in the signed membership", e2ee.ErrMembership, r.Label)
	}
	got = slices.Clone(signed.Members)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		return fmt.Errorf("%w: room %q is signed with %v, not the %v asked for", e2ee.ErrMembership, r.Label, got, want)
	}
	return nil
}

// chainHeld reports whether any statement of chain names room.
func chainHeld(chain *e2ee.Chain, room string) bool {
	if chain == nil {
		return false
	}
	for seq := 1; seq <= chain.Len(); seq++ {
		st, _ := chain.Get(uint64(seq))
		if _, ok := st.Room(room); ok {
			return true
		}
	}
	return false
}
