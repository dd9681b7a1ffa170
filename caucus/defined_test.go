package caucus

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// TestDefinedRoomLifecycle: a mediator opens a room with the tenant
// without their lawyer; only its members list it, join it or page it (the
// case's other mediator and the lawyer get "not found", as for a room that
// does not exist); a composition policy refuses says why in words; its
// history is stored under the case's history prefix (so retention's
// inventory of the case's messages holds it); closing seals its epoch,
// refuses further posts, keeps its history readable to its members, and
// both are audited.
func TestDefinedRoomLifecycle(t *testing.T) {
	e := newRoomsEnv(t)
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	med2 := account.Account{ID: ids.New("u"), Name: "Max", Role: policy.RoleMediator}
	person := func(name string) account.Account {
		return account.Account{ID: ids.New("u"), Name: name, Role: policy.RoleParticipant}
	}
	tenant, tenantLawyer, landlordLawyer, obs := person("Tara"), person("Lee"), person("Lou"), person("Oz")
	c := e.tenancyCase(t, med, func(k *cases.Case) {
		a, b := k.Sides[0].ID, k.Sides[1].ID
		k.Mediators = append(k.Mediators, cases.Mediator{AccountID: med2.ID, Name: med2.Name})
		k.Participants = append(k.Participants,
			cases.Participant{AccountID: tenant.ID, Name: tenant.Name, Role: cases.RoleParty, Side: a},
			cases.Participant{AccountID: tenantLawyer.ID, Name: tenantLawyer.Name, Role: cases.RoleCounsel, Side: a},
			cases.Participant{AccountID: landlordLawyer.ID, Name: landlordLawyer.Name, Role: cases.RoleCounsel, Side: b},
			cases.Participant{AccountID: obs.ID, Name: obs.Name, Role: cases.RoleObserver})
	})
	// Both confirmed (a co-mediator nobody confirmed is in no room:
	// TestUnconfirmedMediatorInNoRoom).
	e.cases.Membership = &seats{seated: []string{med.ID, med2.ID}, statement: true}

	// Refusals, in words.
	for _, tc := range []struct {
		by      account.Account
		n       cases.NewRoom
		invalid string // "" = forbidden
	}{
		{med, cases.NewRoom{Label: "Tara and Lou", Members: []string{med.ID, tenant.ID, landlordLawyer.ID}, CrossSide: true}, "Tara: a party may be with the other side's lawyer only if their own lawyer is in the room too"},
		{med, cases.NewRoom{Label: "Lawyers", Members: []string{med.ID, tenantLawyer.ID, landlordLawyer.ID}}, "declare the room cross-side"},
		{med, cases.NewRoom{Label: "Watch", Members: []string{med.ID, tenant.ID, obs.ID}}, "Oz: observers are never put in a room"},
		{med, cases.NewRoom{Label: "No mediator", Members: []string{tenant.ID, tenantLawyer.ID}}, "a room needs a mediator in it"},
		{med, cases.NewRoom{Label: strings.Repeat("x", 61), Members: []string{med.ID, tenant.ID}}, "at most 60 characters"},
		{med, cases.NewRoom{Label: "  ", Members: []string{med.ID, tenant.ID}}, "required"},
		{tenant, cases.NewRoom{Label: "Mine", Members: []string{med.ID, tenant.ID}}, ""},
	} {
		_, err := e.rooms.OpenRoom(ctx, tc.by, c.ID, tc.n)
		inv, isInv := fault.AsInvalid(err)
		switch {
		case tc.invalid == "" && !errors.Is(err, fault.ErrForbidden):
			t.Errorf("%s opening %q: %v, want forbidden", tc.by.Name, tc.n.Label, err)
		case tc.invalid != "" && (!isInv || !strings.Contains(inv.Detail, tc.invalid)):
			t.Errorf("opening %q: %v, want it to say %q", tc.n.Label, err, tc.invalid)
		}
	}

	r, err := e.rooms.OpenRoom(ctx, med, c.ID, cases.NewRoom{Label: " Tara alone ", Members: []string{med.ID, tenant.ID, tenant.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Room != "room:"+r.ID || r.Label != "Tara alone" || !slices.Equal(r.Members, []string{med.ID, tenant.ID}) {
		t.Fatalf("opened %+v", r)
	}
	if c, err = e.cases.Load(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(RoomNames(c), r.Room) {
		t.Fatalf("RoomNames %v lacks %s", RoomNames(c), r.Room)
	}
	listed := func(who account.Account) bool {
		views, err := e.rooms.Rooms(ctx, who, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range views {
			if v.Name == r.Room {
				if !v.CrossSide && v.Label == "Tara alone" && strings.Contains(v.Audience, "Mia, Tara") {
					return true
				}
				t.Fatalf("%s sees %+v", who.Name, v)
			}
		}
		return false
	}
	if !listed(med) || !listed(tenant) {
		t.Fatal("a member does not list the room")
	}
	for _, who := range []account.Account{med2, tenantLawyer, landlordLawyer, obs} {
		if listed(who) {
			t.Fatalf("%s lists the room", who.Name)
		}
		if rs, err := e.rooms.DefinedRooms(ctx, who, c.ID); err != nil || len(rs) != 0 {
			t.Fatalf("%s: defined rooms %v %v", who.Name, rs, err)
		}
		_, _, err := e.rooms.History(ctx, who, c.ID, r.Room, messaging.Position{}, 10)
		_, _, errNone := e.rooms.History(ctx, who, c.ID, "room:nosuchroom", messaging.Position{}, 10)
		if !errors.Is(err, fault.ErrNotFound) || err.Error() != strings.Replace(errNone.Error(), "room:nosuchroom", r.Room, 1) {
			t.Fatalf("%s paging the room: %v (a room that does not exist: %v)", who.Name, err, errNone)
		}
	}

	// A post, stored under the case's history prefix.
	auth := e.rooms.Authorizer(tenant, c.ID)
	mr, err := auth.Resolve(ctx, r.Room, "post")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.msg.Publish(ctx, mr.ID, messaging.Message{ID: "m1", From: tenant.ID, Body: []byte("ciphertext")}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := e.store.List(ctx, HistoryPrefix(c.ID), func(info objstore.Info) error {
		keys = append(keys, info.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, "/"+c.ID+"/room-"+r.ID+"/") }) {
		t.Fatalf("the room's history is not under the case's history prefix: %v", keys)
	}

	// Closing: only a mediator in the room; then sealed, no posts, history kept.
	if _, err := e.rooms.CloseRoom(ctx, med2, c.ID, r.Room); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("a mediator not in the room closed it: %v", err)
	}
	if _, err := e.rooms.CloseRoom(ctx, tenant, c.ID, r.Room); err == nil {
		t.Fatal("a party closed the room")
	}
	closed, err := e.rooms.CloseRoom(ctx, med, c.ID, r.Room)
	if err != nil || closed.Closed == nil {
		t.Fatalf("close: %+v %v", closed, err)
	}
	if _, err := e.rooms.CloseRoom(ctx, med, c.ID, r.Room); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("closing twice: %v", err)
	}
	if _, err := e.rooms.Authorizer(tenant, c.ID).Resolve(ctx, r.Room, "post"); !errors.Is(err, messaging.ErrForbidden) {
		t.Fatalf("posting in a closed room: %v", err)
	}
	var msgs []messaging.Message
	for pos := (messaging.Position{}); ; {
		page, next, err := e.rooms.History(ctx, tenant, c.ID, r.Room, pos, 10)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, page...)
		if !pos.Before(next) {
			break
		}
		pos = next
	}
	if len(msgs) != 1 || string(msgs[0].Body) != "ciphertext" {
		t.Fatalf("the closed room's history, as its member pages it: %+v", msgs)
	}
	// The epoch was sealed: anything the store took now is in epoch 2.
	if m, err := e.msg.Publish(ctx, mr.ID, messaging.Message{ID: "probe", From: med.ID, Body: []byte("probe")}); err != nil || m.Epoch != 2 {
		t.Fatalf("after closing, epoch %d (%v), want 2", m.Epoch, err)
	}

	// Audited: the opening (with its members) and the closing.
	var opened, closedEv *audit.Event
	for i := range e.log.Size() {
		ev, err := e.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Type {
		case "room.opened":
			opened = &ev
		case "room.closed":
			closedEv = &ev
		}
	}
	if opened == nil || opened.Attrs["room"] != r.Room || !slices.Equal(opened.Objects, r.Members) || strings.Contains(opened.Attrs["label"], "Tara") {
		t.Fatalf("room.opened: %+v", opened)
	}
	if closedEv == nil || closedEv.Attrs["room"] != r.Room || closedEv.Actor != med.ID {
		t.Fatalf("room.closed: %+v", closedEv)
	}
}

// TestDefinedRoomPrunedOnRemoval: a person removed from the case leaves
// every defined room they were in — the room's epoch moves on — and coming
// back into the case (a new invite) brings them into none of them: they do
// not list, join or page the room again. A mediator's recusal does the same.
func TestDefinedRoomPrunedOnRemoval(t *testing.T) {
	e := newRoomsEnv(t)
	e.cases.OnMembership = e.rooms.MembershipChanged
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	med2 := account.Account{ID: ids.New("u"), Name: "Max", Role: policy.RoleMediator}
	tenant := account.Account{ID: ids.New("u"), Name: "Tara", Role: policy.RoleParticipant}
	c := e.tenancyCase(t, med, func(k *cases.Case) {
		k.Mediators = append(k.Mediators, cases.Mediator{AccountID: med2.ID, Name: med2.Name})
	})
	// Both confirmed (a co-mediator nobody confirmed is in no room:
	// TestUnconfirmedMediatorInNoRoom).
	e.cases.Membership = &seats{seated: []string{med.ID, med2.ID}, statement: true}
	party := cases.Participant{AccountID: tenant.ID, Name: tenant.Name, Role: cases.RoleParty, Side: c.Sides[0].ID}
	rejoin := func() {
		t.Helper()
		if _, err := metastore.Update(ctx, e.meta, "cases/"+c.ID+"/case", func(k *cases.Case) error {
			k.Participants = append(k.Participants, party)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	rejoin()
	r, err := e.rooms.OpenRoom(ctx, med, c.ID, cases.NewRoom{Label: "Tara alone", Members: []string{med.ID, med2.ID, tenant.ID}})
	if err != nil {
		t.Fatal(err)
	}
	mr, err := e.rooms.Authorizer(tenant, c.ID).Resolve(ctx, r.Room, "post")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := e.msg.Publish(ctx, mr.ID, messaging.Message{ID: "m1", From: tenant.ID, Body: []byte("ciphertext")}); err != nil || m.Epoch != 1 {
		t.Fatalf("first post: epoch %d, %v", m.Epoch, err)
	}

	if _, err := e.cases.RemoveParticipant(ctx, med, c.ID, tenant.ID); err != nil {
		t.Fatal(err)
	}
	rejoin() // invited again, same account
	if rs, err := e.rooms.DefinedRooms(ctx, tenant, c.ID); err != nil || len(rs) != 0 {
		t.Fatalf("after removal and a new invite, the tenant lists %+v (%v)", rs, err)
	}
	for _, action := range []string{"join", "post"} {
		if _, err := e.rooms.Authorizer(tenant, c.ID).Resolve(ctx, r.Room, action); err == nil {
			t.Fatalf("after removal and a new invite, the tenant may %s the room again", action)
		}
	}
	if _, _, err := e.rooms.History(ctx, tenant, c.ID, r.Room, messaging.Position{}, 10); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("after removal and a new invite, the tenant pages the room: %v", err)
	}
	got, err := e.cases.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := got.DefinedRoomNamed(r.Room)
	if !slices.Equal(d.Members, []string{med.ID, med2.ID}) {
		t.Fatalf("room members after the removal: %v", d.Members)
	}
	// Leaving sealed the room's epoch.
	if m, err := e.msg.Publish(ctx, mr.ID, messaging.Message{ID: "m2", From: med.ID, Body: []byte("ciphertext")}); err != nil || m.Epoch != 2 {
		t.Fatalf("after the removal: epoch %d (%v), want 2", m.Epoch, err)
	}

	// A recused mediator leaves it too.
	if _, err := e.cases.Recuse(ctx, med2, c.ID, med2.ID, "conflict"); err != nil {
		t.Fatal(err)
	}
	if got, err = e.cases.Load(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if d, _ := got.DefinedRoomNamed(r.Room); !slices.Equal(d.Members, []string{med.ID}) {
		t.Fatalf("room members after the recusal: %v", d.Members)
	}
	if m, err := e.msg.Publish(ctx, mr.ID, messaging.Message{ID: "m3", From: med.ID, Body: []byte("ciphertext")}); err != nil || m.Epoch != 3 {
		t.Fatalf("after the recusal: epoch %d (%v), want 3", m.Epoch, err)
	}
}

// TestRoomEntryKeptForMembers: the server keeps a defined room's sealed
// entries for its members only. A mediator in the room hands over the
// opening (the people it was opened with) and, once closed, the closing;
// a mediator not in it is answered as for a room that does not exist; an
// entry with other people, of another room, a second opening, or a
// closing of an open room is refused; the same entry again changes
// nothing. Only members list the entries.
func TestRoomEntryKeptForMembers(t *testing.T) {
	e := newRoomsEnv(t)
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	med2 := account.Account{ID: ids.New("u"), Name: "Max", Role: policy.RoleMediator}
	tenant := account.Account{ID: ids.New("u"), Name: "Tara", Role: policy.RoleParticipant}
	lawyer := account.Account{ID: ids.New("u"), Name: "Lee", Role: policy.RoleParticipant}
	c := e.tenancyCase(t, med, func(k *cases.Case) {
		k.Mediators = append(k.Mediators, cases.Mediator{AccountID: med2.ID, Name: med2.Name})
		k.Participants = append(k.Participants,
			cases.Participant{AccountID: tenant.ID, Name: tenant.Name, Role: cases.RoleParty, Side: k.Sides[0].ID},
			cases.Participant{AccountID: lawyer.ID, Name: lawyer.Name, Role: cases.RoleCounsel, Side: k.Sides[0].ID})
	})
	// Both confirmed (a co-mediator nobody confirmed is in no room:
	// TestUnconfirmedMediatorInNoRoom).
	e.cases.Membership = &seats{seated: []string{med.ID, med2.ID}, statement: true}
	opening, err := e2ee.NewRoomOpening(c.ID, false, []string{med.ID, tenant.ID})
	if err != nil {
		t.Fatal(err)
	}
	rid, _, _ := e2ee.DefinedRoom(opening.Room)
	r, err := e.rooms.OpenRoom(ctx, med, c.ID, cases.NewRoom{ID: rid, Label: "Tara alone", Members: []string{med.ID, tenant.ID}})
	if err != nil || r.Room != opening.Room {
		t.Fatalf("%+v %v", r, err)
	}
	// An opening names its room from its salt: any other opening entry
	// (more people, another room) is under another name.
	entry := func(room string, kind uint8, members ...string) []byte {
		t.Helper()
		var en *e2ee.RoomEntry
		var err error
		if kind == e2ee.EntryOpen {
			en, err = e2ee.NewRoomOpening(c.ID, false, members)
		} else {
			en, err = e2ee.NewRoomEntry(c.ID, room, kind, members)
		}
		if err != nil {
			t.Fatal(err)
		}
		return en.Raw
	}
	open := opening.Raw
	for _, tc := range []struct {
		what string
		by   account.Account
		raw  []byte
		want error // nil: invalid input
	}{
		{"a mediator not in the room", med2, open, fault.ErrNotFound},
		{"a party in the room", tenant, open, fault.ErrNotFound},
		{"another person added", med, entry(r.Room, e2ee.EntryOpen, med.ID, tenant.ID, lawyer.ID), nil},
		{"another room's name", med, entry("room:zzzzzzzzzz", e2ee.EntryOpen, med.ID, tenant.ID), nil},
		{"not an entry", med, []byte("PE\x01\x0bnonsense"), nil},
		{"a closing of an open room", med, entry(r.Room, e2ee.EntryClose), fault.ErrConflict},
	} {
		_, err := e.rooms.AddRoomEntry(ctx, tc.by, c.ID, r.Room, tc.raw)
		if _, invalid := fault.AsInvalid(err); tc.want == nil && !invalid || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, err, tc.want)
		}
	}
	// A stranger to the case (review L4) learns nothing from the room
	// routes, not even that the case exists: the same answer, word for
	// word, as for a case id that names no case.
	stranger := account.Account{ID: ids.New("u"), Name: "Sam", Role: policy.RoleParticipant}
	nowhere := ids.New("c")
	_, errNone := e.rooms.AddRoomEntry(ctx, stranger, nowhere, r.Room, open)
	_, errEntry := e.rooms.AddRoomEntry(ctx, stranger, c.ID, r.Room, open)
	_, errClose := e.rooms.CloseRoom(ctx, stranger, c.ID, r.Room)
	wantWords := strings.ReplaceAll(errNone.Error(), nowhere, c.ID)
	for what, err := range map[string]error{"an entry": errEntry, "a closing": errClose} {
		if !errors.Is(err, fault.ErrNotFound) || err.Error() != wantWords {
			t.Errorf("a stranger handing %s: %v, want %q (as for no case)", what, err, wantWords)
		}
	}
	for range 2 {
		if _, err := e.rooms.AddRoomEntry(ctx, med, c.ID, r.Room, open); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.rooms.AddRoomEntry(ctx, med, c.ID, r.Room, entry(r.Room, e2ee.EntryOpen, med.ID, tenant.ID)); err == nil {
		t.Fatalf("a second opening: %v", err)
	}
	if _, err := e.rooms.CloseRoom(ctx, med, c.ID, r.Room); err != nil {
		t.Fatal(err)
	}
	closing := entry(r.Room, e2ee.EntryClose)
	if _, err := e.rooms.AddRoomEntry(ctx, med, c.ID, r.Room, closing); err != nil {
		t.Fatal(err)
	}
	listed := func(who account.Account) [][]byte {
		rs, err := e.rooms.DefinedRooms(ctx, who, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for _, d := range rs {
			out = append(out, d.Entries...)
		}
		return out
	}
	if got := listed(tenant); len(got) != 2 || !slices.Equal(got[0], open) || !slices.Equal(got[1], closing) {
		t.Fatalf("the tenant lists %d entries", len(got))
	}
	for _, who := range []account.Account{med2, lawyer} {
		if got := listed(who); len(got) != 0 {
			t.Fatalf("%s lists %d entries", who.Name, len(got))
		}
	}
}
