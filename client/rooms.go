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
	return s.signRooms(ctx, []e2ee.RoomMembers{{Name: r.Room, Epoch: 1, Members: want}})
}
