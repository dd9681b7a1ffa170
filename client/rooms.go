package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

// Rooms a mediator defines (api/rooms.go). Opening one is two steps: the
// server records it (policy decides who may be put together), then the
// opening mediator's device seals its membership — the people it asked
// for, under the name that says whether it is cross-side — in a room
// entry (e2ee.RoomEntry), hands the entry to the server for the room's
// members, and signs only the entry's commitment into the case's
// membership chain, which every case member fetches. No other signing
// adds a defined room or anyone to one (e2ee.CarryDefined), so the server
// cannot put someone in a room or flip it to cross-side: members' clients
// take only an entry the chain commits to. Closing is signed the same way.

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
// them: only a mediator in a room hands the server its entry, policy
// room.sign), named label, declared cross-side or not, and signs its
// membership on this device. The room's id is this device's: the one its
// opening entry's salt gives (e2ee.RoomIDFor), so no server can answer
// with another room's. It refuses a server answer that differs from what
// was asked.
func (s *SecureChat) OpenRoom(ctx context.Context, label string, members []string, crossSide bool) (api.DefinedRoom, error) {
	if !s.mediator {
		return api.DefinedRoom{}, fmt.Errorf("only a mediator's device signs a room's membership")
	}
	entry, err := e2ee.NewRoomOpening(s.caseID, crossSide, members)
	if err != nil {
		return api.DefinedRoom{}, err
	}
	id, _, _ := e2ee.DefinedRoom(entry.Room)
	var r api.DefinedRoom
	if err := s.x.C.Do(ctx, http.MethodPost, "/api/v1/cases/"+url.PathEscape(s.caseID)+"/defined-rooms",
		api.OpenRoomRequest{ID: id, Label: label, Members: members, CrossSide: crossSide}, &r); err != nil {
		return api.DefinedRoom{}, err
	}
	if err := s.SignRoom(ctx, r, entry); err != nil {
		return r, fmt.Errorf("room %q is open on the server, but this device did not sign its membership, so nobody can write in it yet: %w", label, err)
	}
	return r, nil
}

// SignRoom signs the membership of a defined room the server opened as r,
// sealed in entry (this device's opening, NewRoomOpening: the members and
// declaration this mediator chose, not r's, which must match them).
func (s *SecureChat) SignRoom(ctx context.Context, r api.DefinedRoom, entry *e2ee.RoomEntry) error {
	want := entry.Members
	got := slices.Clone(r.Members)
	slices.Sort(got)
	got = slices.Compact(got)
	if r.Room != entry.Room || r.Room != e2ee.DefinedRoomName(r.ID, r.CrossSide) || !slices.Equal(got, want) {
		return fmt.Errorf("%w: the server describes room %q otherwise than this device asked for it", e2ee.ErrMembership, r.Label)
	}
	// A name the verified chain has ever held is an existing room (it
	// cannot be: this device chose the name from fresh salt).
	s.mu.Lock()
	chain := s.sess.Chain
	s.mu.Unlock()
	if chainHeld(chain, r.Room) {
		return fmt.Errorf("%w: the server answered with room %q, which already exists; refusing to treat it as the new room %q", e2ee.ErrMembership, r.Room, r.Label)
	}
	if err := s.x.C.AddRoomEntry(ctx, s.caseID, r.Room, entry.Raw); err != nil {
		return err
	}
	if err := s.signRooms(ctx, []e2ee.RoomMembers{entry.SealedSlot()}); err != nil {
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

// AddRoomEntry hands the server a sealed entry of a defined room (a
// mediator in it), which it keeps for the room's members.
func (c *Client) AddRoomEntry(ctx context.Context, caseID, room string, entry []byte) error {
	return c.Do(ctx, http.MethodPost, "/api/v1/cases/"+url.PathEscape(caseID)+"/defined-rooms/"+url.PathEscape(room)+"/entries",
		api.RecordRequest{Record: entry}, nil)
}

// CloseRoom closes a defined room this mediator is in: the server closes
// it (policy refuses posts from then on), and this device signs the
// closing into the membership chain (a closing entry, e2ee.EntryClose),
// so every member's client refuses to write in it and no server can
// reopen it. A room the server already reports closed is signed closed.
func (s *SecureChat) CloseRoom(ctx context.Context, room string) (api.DefinedRoom, error) {
	if !s.mediator {
		return api.DefinedRoom{}, fmt.Errorf("only a mediator's device signs a room's closing")
	}
	r, err := s.x.C.CloseRoom(ctx, s.caseID, room)
	var ae *Error
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		err = nil // closed already on the server: sign it if it is not
	}
	if err != nil {
		return r, err
	}
	s.mu.Lock()
	chain := s.sess.Chain
	s.mu.Unlock()
	if _, closed := chain.Closed(room); closed {
		return r, nil
	}
	if !chain.Sealed(room) {
		return r, fmt.Errorf("%w: room %s has no sealed membership this device verified; its closing is the server's word only", e2ee.ErrMembership, room)
	}
	// A closing entry the server keeps already (an earlier attempt handed
	// it over and failed before signing) is the one to sign: the server
	// refuses a second. It is checked to be this room's closing; what it
	// commits to is only that, so signing it cannot say anything else.
	entry, err := s.storedClosing(ctx, room)
	if err != nil {
		return r, err
	}
	if entry == nil {
		if entry, err = e2ee.NewRoomEntry(s.caseID, room, e2ee.EntryClose, nil); err != nil {
			return r, err
		}
		if err := s.x.C.AddRoomEntry(ctx, s.caseID, room, entry.Raw); err != nil {
			return r, fmt.Errorf("room closed on the server, but its signed closing could not be handed over: %w", err)
		}
	}
	if err := s.signRooms(ctx, []e2ee.RoomMembers{entry.SealedSlot()}); err != nil {
		return r, fmt.Errorf("room closed on the server, but this device did not sign its closing: %w", err)
	}
	s.mu.Lock()
	chain = s.sess.Chain
	s.mu.Unlock()
	if _, closed := chain.Closed(room); !closed {
		return r, fmt.Errorf("%w: room %s: the signed closing is not in the verified chain", e2ee.ErrMembership, room)
	}
	return r, nil
}

// storedClosing returns the closing entry the server keeps for room, if
// any (nil if none), refusing one that is not room's closing in this case.
func (s *SecureChat) storedClosing(ctx context.Context, room string) (*e2ee.RoomEntry, error) {
	rooms, err := s.x.C.DefinedRooms(ctx, s.caseID)
	if err != nil {
		return nil, err
	}
	for _, d := range rooms {
		if d.Room != room {
			continue
		}
		for _, raw := range d.Entries {
			e, err := e2ee.DecodeRoomEntry(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: room %s: the server keeps an entry that is not one: %w", e2ee.ErrMembership, room, err)
			}
			if e.Kind != e2ee.EntryClose {
				continue
			}
			if e.Case != s.caseID || e.Room != room {
				return nil, fmt.Errorf("%w: room %s: the server keeps another room's closing for it", e2ee.ErrMembership, room)
			}
			return e, nil
		}
	}
	return nil, nil
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
