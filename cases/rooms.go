package cases

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/policy"
)

// DefinedRoom is a room a mediator opened with chosen people, kept in the
// case record (Case.Rooms). Package caucus derives its room from it, like
// the joint room and the caucuses from the sides.
type DefinedRoom = api.DefinedRoom

// Limits on defined rooms.
const (
	MaxRoomLabel = api.MaxRoomLabel
	// MaxDefinedRooms bounds the rooms ever opened in one case (each stays
	// in every membership statement, closed or not).
	MaxDefinedRooms = 40
)

// NewRoom is what OpenRoom needs.
type NewRoom struct {
	ID        string // chosen by the opening device (32 lowercase hex digits); "" for one the server picks
	Label     string
	Members   []string
	CrossSide bool
}

// RoomName is the room name of a defined room (what clients and the
// membership statement call it).
func RoomName(r DefinedRoom) string {
	if r.CrossSide {
		return api.RoomCross + r.ID
	}
	return api.RoomDefined + r.ID
}

// DefinedRoomNamed returns the defined room whose room name is name.
func (c *Case) DefinedRoomNamed(name string) (*DefinedRoom, bool) {
	for i := range c.Rooms {
		if RoomName(c.Rooms[i]) == name {
			return &c.Rooms[i], true
		}
	}
	return nil, false
}

// RoomFacts is a defined room as policy sees it.
func (c *Case) RoomFacts(r DefinedRoom) policy.Room {
	return policy.Room{Case: c.Facts(), Kind: policy.RoomDefined, Members: r.Members, CrossSide: r.CrossSide, Closed: r.Closed != nil}
}

// leaveRooms takes account out of every defined room of c, open or
// closed: someone removed from the case (or recused) is in no room any
// more, so coming back into the case by a new invite brings them into no
// room they were in. Their signed membership drops them the same way
// (e2ee: members only ever leave a defined room). It returns the room
// names they left, which start new epochs (MembershipChange.Rooms).
func (c *Case) leaveRooms(account string) []string {
	var left []string
	for i := range c.Rooms {
		if slices.Contains(c.Rooms[i].Members, account) {
			c.Rooms[i].Members = slices.DeleteFunc(slices.Clone(c.Rooms[i].Members), func(m string) bool { return m == account })
			left = append(left, RoomName(c.Rooms[i]))
		}
	}
	return left
}

// PersonName is the name of a mediator or participant of c, for messages.
func (c *Case) PersonName(accountID string) string {
	if m, ok := c.Mediator(accountID); ok {
		return m.Name
	}
	if p, ok := c.Participant(accountID); ok {
		return p.Name
	}
	return "someone who is not in this case"
}

// roomIDForm is a room id an opening device chooses (e2ee.RoomIDFor).
var roomIDForm = regexp.MustCompile(`^[0-9a-f]{32}$`)

// newRoomID is a short id, unique in c ("k3j4h5g6").
func newRoomID(c *Case) string {
	for {
		id := strings.TrimPrefix(ids.New("r"), "r_")[:10]
		if !slices.ContainsFunc(c.Rooms, func(r DefinedRoom) bool { return r.ID == id }) {
			return id
		}
	}
}

// OpenRoom opens a room of n.Members in case id, named n.Label, if policy
// lets actor open it and put each of them in it (room.open, room.place).
// A refused composition is an invalid input naming who may not be put in
// it and why; the refusal is audited. The opening is audited ("room.opened",
// with the members; the name as a keyed hash).
func (s *Service) OpenRoom(ctx context.Context, actor account.Account, id string, n NewRoom) (DefinedRoom, error) {
	if err := checkText("label", n.Label, MaxRoomLabel); err != nil {
		return DefinedRoom{}, err
	}
	if n.ID != "" && !roomIDForm.MatchString(n.ID) {
		return DefinedRoom{}, fault.Invalid("id", "a room id is 32 lowercase hexadecimal digits")
	}
	label := strings.TrimSpace(n.Label)
	var members []string
	for _, m := range n.Members {
		if m != "" && !slices.Contains(members, m) {
			members = append(members, m)
		}
	}
	if len(members) > MaxParticipants+MaxSides {
		return DefinedRoom{}, fault.Invalid("members", "too many people for one room")
	}
	c, err := s.loadFor(ctx, actor, id, policy.RoomOpen)
	if err != nil {
		return DefinedRoom{}, err
	}
	if err := s.roomsAdmission(ctx, actor, c, policy.RoomOpen); err != nil {
		return DefinedRoom{}, err
	}
	decide := func(c *Case) error {
		d := s.policy.DecideRoomOpen(actor.Principal(), policy.Room{Case: c.Facts(), Members: members, CrossSide: n.CrossSide})
		if d.Allowed() {
			return nil
		}
		if !d.Composition() {
			return s.refuse(ctx, actor, policy.RoomOpen, c)
		}
		{
			refused := make([]string, 0, len(d.Refused))
			for m := range d.Refused {
				refused = append(refused, m)
			}
			slices.Sort(refused)
			s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID, Objects: refused,
				Attrs: map[string]string{"action": string(policy.RoomPlace)}})
			return fault.Invalid("members", strings.Join(d.Explain(c.PersonName), "; "))
		}
	}
	if err := decide(c); err != nil {
		return DefinedRoom{}, err
	}
	var room DefinedRoom
	admitted := c
	_, err = s.commitChange(ctx, id, func(c *Case) error {
		c.keepAdmission(admitted)
		if c.Closed != nil {
			return ErrClosed
		}
		if len(c.Rooms) >= MaxDefinedRooms {
			return fault.Invalid("members", fmt.Sprintf("this case already has %d rooms, the most it may have", MaxDefinedRooms))
		}
		if err := decide(c); err != nil {
			return err
		}
		rid := n.ID
		if rid == "" {
			rid = newRoomID(c)
		} else if slices.ContainsFunc(c.Rooms, func(r DefinedRoom) bool { return r.ID == rid }) {
			return fmt.Errorf("this case already has a room with that id: %w", fault.ErrConflict)
		}
		room = DefinedRoom{ID: rid, Label: label, Members: members, CrossSide: n.CrossSide,
			Opened: s.now().UTC(), OpenedBy: actor.ID}
		room.Room = RoomName(room)
		c.Rooms = append(c.Rooms, room)
		return s.queueEvent(c, audit.Event{Type: "room.opened", Actor: actor.ID, Case: id, Objects: members,
			Attrs: map[string]string{"room": room.Room, "crossSide": strconv.FormatBool(room.CrossSide), "label": s.commit(label)}})
	})
	if err != nil {
		return DefinedRoom{}, err
	}
	return room, nil
}

// CloseRoom closes a defined room (a mediator in it, room.close): nothing
// more is posted in it; its history stays its members' to read, kept as
// long as the case's messages are. Closing twice is a conflict. Audited
// ("room.closed").
func (s *Service) CloseRoom(ctx context.Context, actor account.Account, id, name string) (DefinedRoom, error) {
	if !api.ValidRoomName(name) {
		// Before anything is decided or audited: the log holds only
		// names of the room-name grammar.
		return DefinedRoom{}, fault.Invalid("room", "not a room name")
	}
	c, err := s.loadFor(ctx, actor, id, policy.RoomClose)
	if err != nil {
		return DefinedRoom{}, err
	}
	if err := s.roomsAdmission(ctx, actor, c, policy.RoomClose); err != nil {
		return DefinedRoom{}, err
	}
	decide := func(c *Case) error {
		r, ok := c.DefinedRoomNamed(name)
		if !ok || !s.policy.DecideRoom(actor.Principal(), policy.RoomClose, c.RoomFacts(*r)).Allowed {
			// A room one is not in and a room that does not exist get the
			// same answer.
			if outsider(c, actor) {
				// As for a case that does not exist (loadFor): no room named.
				s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
					Attrs: map[string]string{"action": string(policy.RoomClose)}})
				return fmt.Errorf("case %s: %w", c.ID, fault.ErrNotFound)
			}
			s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
				Attrs: map[string]string{"action": string(policy.RoomClose), "room": name}})
			return fmt.Errorf("room %q: %w", name, fault.ErrNotFound)
		}
		if r.Closed != nil {
			return fmt.Errorf("room %q is already closed: %w", r.Label, fault.ErrConflict)
		}
		return nil
	}
	if err := decide(c); err != nil {
		return DefinedRoom{}, err
	}
	var room DefinedRoom
	admitted := c
	_, err = s.commitChange(ctx, id, func(c *Case) error {
		c.keepAdmission(admitted)
		if err := decide(c); err != nil {
			return err
		}
		r, _ := c.DefinedRoomNamed(name)
		now := s.now().UTC()
		r.Closed, r.ClosedBy = &now, actor.ID
		room = *r
		return s.queueEvent(c, audit.Event{Type: "room.closed", Actor: actor.ID, Case: id, Objects: room.Members,
			Attrs: map[string]string{"room": room.Room}})
	})
	if err != nil {
		return DefinedRoom{}, err
	}
	return room, nil
}

// DefinedRooms lists the defined rooms of case id that actor is in (may
// join), open and closed; a mediator not in a room does not see it either.
func (s *Service) DefinedRooms(ctx context.Context, actor account.Account, id string) ([]DefinedRoom, error) {
	c, err := s.Get(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if err := s.roomsAdmission(ctx, actor, c, policy.RoomJoin); err != nil {
		return nil, err
	}
	out := []DefinedRoom{}
	for _, r := range c.Rooms {
		if s.policy.DecideRoom(actor.Principal(), policy.RoomJoin, c.RoomFacts(r)).Allowed {
			out = append(out, r)
		}
	}
	return out, nil
}

// AddRoomEntry keeps a sealed entry of defined room name (e2ee.RoomEntry:
// its opening, or its closing once the room is closed here), handed over
// by a mediator in the room (room.sign) whose device commits to it in the
// case's signed membership. The server gives entries only to the room's
// members (DefinedRooms); the statement every case member fetches holds
// only their commitments. The entry must be of this case and room; an
// opening must list exactly the room's people as opened (the server's own
// record: a client that signed other people is refused here too), and a
// room holds one opening and one closing. Handing the same entry again
// changes nothing. Audited ("room.signed", the kind only).
func (s *Service) AddRoomEntry(ctx context.Context, actor account.Account, id, name string, raw []byte) (DefinedRoom, error) {
	if len(raw) > api.MaxRoomEntry {
		return DefinedRoom{}, fault.Invalid("record", fmt.Sprintf("a room entry is at most %d bytes", api.MaxRoomEntry))
	}
	if !api.ValidRoomName(name) {
		return DefinedRoom{}, fault.Invalid("room", "not a room name")
	}
	c, err := s.loadFor(ctx, actor, id, policy.RoomSign)
	if err != nil {
		return DefinedRoom{}, err
	}
	if err := s.roomsAdmission(ctx, actor, c, policy.RoomSign); err != nil {
		return DefinedRoom{}, err
	}
	changed := false
	var kind uint8
	decide := func(c *Case) (*DefinedRoom, error) {
		r, ok := c.DefinedRoomNamed(name)
		if !ok || !s.policy.DecideRoom(actor.Principal(), policy.RoomSign, c.RoomFacts(*r)).Allowed {
			if outsider(c, actor) {
				// As for a case that does not exist (loadFor): no room named.
				s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
					Attrs: map[string]string{"action": string(policy.RoomSign)}})
				return nil, fmt.Errorf("case %s: %w", c.ID, fault.ErrNotFound)
			}
			s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
				Attrs: map[string]string{"action": string(policy.RoomSign), "room": name}})
			return nil, fmt.Errorf("room %q: %w", name, fault.ErrNotFound)
		}
		e, err := e2ee.DecodeRoomEntry(raw)
		if err != nil {
			return nil, fault.Invalid("record", "not a room entry: "+err.Error())
		}
		kind = e.Kind
		if e.Case != c.ID || e.Room != name {
			return nil, fault.Invalid("record", "the entry is for another case or room")
		}
		for _, have := range r.Entries {
			if bytes.Equal(have, raw) {
				return r, nil
			}
			if k, err := e2ee.DecodeRoomEntry(have); err == nil && k.Kind == e.Kind {
				return nil, fmt.Errorf("room %q already has its %s: %w", r.Label, entryWord(e.Kind), fault.ErrConflict)
			}
		}
		switch e.Kind {
		case e2ee.EntryOpen:
			want := slices.Sorted(slices.Values(r.Members))
			if !slices.Equal(want, e.Members) || len(r.Entries) != 0 {
				return nil, fault.Invalid("record", "the entry lists other people than the room was opened with")
			}
		case e2ee.EntryClose:
			if r.Closed == nil || len(r.Entries) != 1 {
				return nil, fmt.Errorf("room %q is not closed: %w", r.Label, fault.ErrConflict)
			}
		}
		changed = true
		return r, nil
	}
	if _, err := decide(c); err != nil {
		return DefinedRoom{}, err
	}
	var room DefinedRoom
	admitted := c
	_, err = s.commitChange(ctx, id, func(c *Case) error {
		c.keepAdmission(admitted)
		changed = false
		r, err := decide(c)
		if err != nil {
			return err
		}
		if changed {
			r.Entries = append(r.Entries, slices.Clone(raw))
		}
		room = *r
		if !changed {
			return nil
		}
		return s.queueEvent(c, audit.Event{Type: "room.signed", Actor: actor.ID, Case: id,
			Attrs: map[string]string{"room": name, "entry": entryWord(kind)}})
	})
	if err != nil {
		return DefinedRoom{}, err
	}
	return room, nil
}

// roomsAdmission puts c through Admission and refuses a mediator no
// seated mediator has confirmed every action a on the rooms a mediator
// opens with chosen people (opening one, closing, signing, listing the
// ones they are in), before any room is looked at: policy
// unconfirmed-mediators-in-no-room, asked about a room of the case with
// no one in it, so the answer is the same whichever room was named and
// whether or not it exists. The refusal is audited naming the rule and
// says what they wait for (NotConfirmed). Otherwise such a mediator could
// use up the case's rooms (MaxDefinedRooms), close the rooms they were
// put in and read those rooms' labels. Call it under no lock.
func (s *Service) roomsAdmission(ctx context.Context, actor account.Account, c *Case, a policy.Action) error {
	if err := s.Admission(ctx, c); err != nil {
		return err
	}
	d := s.policy.DecideRoom(actor.Principal(), a, policy.Room{Case: c.Facts(), Kind: policy.RoomDefined})
	if d.Allowed || !slices.Contains(d.Policies, RuleUnconfirmedRooms) {
		return nil
	}
	s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
		Attrs: map[string]string{"action": string(a), "rule": RuleUnconfirmedRooms}})
	return c.NotConfirmed("open or close rooms with chosen people, or see the ones you are in")
}

// keepAdmission gives c, the case as read again under the lock, the
// policy fact Admission found for from, the same case read before it
// (Admission reads the key directory, so it is never called under the
// lock). A mediator admitted meanwhile waits for their next request.
func (c *Case) keepAdmission(from *Case) {
	c.unconfirmed, c.signed = from.unconfirmed, from.signed
}

func entryWord(kind uint8) string {
	if kind == e2ee.EntryClose {
		return "closing"
	}
	return "membership"
}
