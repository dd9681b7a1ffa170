package caucus

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

// TestRoomNameCheckedBeforeAudit: a room name is audited with every
// refusal, so a name outside the room-name grammar (a sentence typed into
// the path, one over the audit log's attribute limit, a near miss) is
// invalid before anything is decided or audited — by History, a socket's
// Resolve, CloseRoom and AddRoomEntry — while a well-formed name of a room
// the person is not in, or of none, is still refused and audited under
// that name.
func TestRoomNameCheckedBeforeAudit(t *testing.T) {
	e := newRoomsEnv(t)
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	tenant := account.Account{ID: ids.New("u"), Name: "Tara", Role: policy.RoleParticipant}
	c := e.tenancyCase(t, med, func(k *cases.Case) {
		k.Participants = append(k.Participants, cases.Participant{AccountID: tenant.ID, Name: tenant.Name, Role: cases.RoleParty, Side: k.Sides[0].ID})
	})

	secret := "Tara would accept 40000 if the landlord apologises"
	for _, name := range []string{
		secret,
		strings.Repeat("y", 300),
		"caucus:" + secret,
		"room:" + secret,
		"caucus:a", "caucus:A ", "caucus:AB", "room:", "room:0123456789abcdef0123456789abcdeg", "cross:r1", "Joint",
	} {
		before := e.log.Size()
		_, _, errH := e.rooms.History(ctx, tenant, c.ID, name, messaging.Position{}, 10)
		_, errR := e.rooms.Authorizer(tenant, c.ID).Resolve(ctx, name, "join")
		_, errC := e.rooms.CloseRoom(ctx, med, c.ID, name)
		_, errE := e.rooms.AddRoomEntry(ctx, med, c.ID, name, []byte("x"))
		for what, err := range map[string]error{"History": errH, "CloseRoom": errC, "AddRoomEntry": errE} {
			if _, ok := fault.AsInvalid(err); !ok {
				t.Errorf("%s(%q): %v, want invalid", what, name, err)
			}
		}
		if !errors.Is(errR, messaging.ErrForbidden) {
			t.Errorf("Resolve(%q): %v, want a room refusal", name, errR)
		}
		if after := e.log.Size(); after != before {
			for i := before; i < after; i++ {
				ev, _ := e.log.Entry(ctx, i)
				t.Errorf("%q: audited %s %v", name, ev.Type, ev.Attrs)
			}
		}
	}

	// Well-formed names are decided, refused alike and audited by name.
	for _, name := range []string{"caucus:B", "caucus:Z", "mediators", "room:zzzzzzzzzz", "cross:0123456789abcdef0123456789abcdef"} {
		before := e.log.Size()
		if _, _, err := e.rooms.History(ctx, tenant, c.ID, name, messaging.Position{}, 10); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("History(%q): %v, want not found", name, err)
		}
		var rooms []string
		for i := before; i < e.log.Size(); i++ {
			ev, err := e.log.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type == "access.denied" && ev.Actor == tenant.ID {
				rooms = append(rooms, ev.Attrs["room"])
			}
		}
		if len(rooms) != 1 || rooms[0] != name {
			t.Errorf("History(%q) refusal audited with rooms %q", name, rooms)
		}
	}
}

// TestMembershipAuditedWithManyRooms: a membership change touching many
// defined rooms (a mediator in eight of them recused: eight room names of
// 37 bytes would not fit one 256-byte attribute) is always audited — a
// "room.membership" summary with the number of rooms sealed, and one
// "room.membership.room" entry naming each room.
func TestMembershipAuditedWithManyRooms(t *testing.T) {
	e := newRoomsEnv(t)
	e.cases.OnMembership = e.rooms.MembershipChanged
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	med2 := account.Account{ID: ids.New("u"), Name: "Max", Role: policy.RoleMediator}
	tenant := account.Account{ID: ids.New("u"), Name: "Tara", Role: policy.RoleParticipant}
	c := e.tenancyCase(t, med, func(k *cases.Case) {
		k.Mediators = append(k.Mediators, cases.Mediator{AccountID: med2.ID, Name: med2.Name})
		k.Participants = append(k.Participants, cases.Participant{AccountID: tenant.ID, Name: tenant.Name, Role: cases.RoleParty, Side: k.Sides[0].ID})
	})
	// Both confirmed (a co-mediator nobody confirmed is in no room:
	// TestUnconfirmedMediatorInNoRoom).
	e.cases.Membership = &seats{seated: []string{med.ID, med2.ID}, statement: true}
	want := map[string]bool{}
	for i := range 8 {
		id := fmt.Sprintf("%032x", i+1)
		r, err := e.rooms.OpenRoom(ctx, med, c.ID, cases.NewRoom{ID: id, Label: fmt.Sprintf("Room %d", i), Members: []string{med.ID, med2.ID, tenant.ID}})
		if err != nil {
			t.Fatal(err)
		}
		want[r.Room] = true
	}
	before := e.log.Size()
	if _, err := e.cases.Recuse(ctx, med, c.ID, med2.ID, "conflict"); err != nil {
		t.Fatal(err)
	}
	var summary map[string]string
	got := map[string]bool{}
	for i := before; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Type {
		case "room.membership":
			summary = ev.Attrs
		case "room.membership.room":
			if ev.Attrs["state"] != "sealed" || ev.Attrs["change"] != "mediator.recused" {
				t.Errorf("room entry %v", ev.Attrs)
			}
			got[ev.Attrs["room"]] = true
		}
	}
	if summary == nil {
		t.Fatal("the recusal's room.membership entry is not in the audit log")
	}
	// Joint, two caucuses, mediators and the eight defined rooms.
	if summary["rooms"] != "12" || summary["unsealed"] != "" {
		t.Errorf("summary %v, want 12 rooms sealed", summary)
	}
	for room := range want {
		if !got[room] {
			t.Errorf("no room.membership.room entry for %s", room)
		}
	}
	if len(got) != 12 {
		t.Errorf("room entries for %d rooms, want 12: %v", len(got), got)
	}
}

// TestMembershipEntriesNameWhoActed: a membership change's entries name
// who made it as their actor and whom it concerns as their object: a
// mediator recusing a co-mediator is the actor of room.membership and
// room.membership.room, the recused one their object (before, the
// recused one was named the actor). A change no one made (a nominee's
// notice period elapsed) names cases.SystemActor.
func TestMembershipEntriesNameWhoActed(t *testing.T) {
	e := newRoomsEnv(t)
	e.cases.OnMembership = e.rooms.MembershipChanged
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	med2 := account.Account{ID: ids.New("u"), Name: "Max", Role: policy.RoleMediator}
	c := e.tenancyCase(t, med, func(k *cases.Case) {
		k.Mediators = append(k.Mediators, cases.Mediator{AccountID: med2.ID, Name: med2.Name})
	})
	before := e.log.Size()
	if _, err := e.cases.Recuse(ctx, med, c.ID, med2.ID, "conflict"); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := before; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != "room.membership" && ev.Type != "room.membership.room" {
			continue
		}
		n++
		if ev.Actor != med.ID || len(ev.Objects) != 1 || ev.Objects[0] != med2.ID {
			t.Errorf("%s: actor %s, objects %v; want actor %s (who recused), object %s (recused)", ev.Type, ev.Actor, ev.Objects, med.ID, med2.ID)
		}
	}
	if n == 0 {
		t.Fatal("no room.membership entries for the recusal")
	}
	for _, ev := range membershipEvents(c.ID, cases.MembershipChange{Kind: "mediator.added", Account: med2.ID}, []string{"joint"}, nil, false, time.Now()) {
		if ev.Actor != cases.SystemActor || ev.Objects[0] != med2.ID {
			t.Errorf("%s of a change no one made: actor %q, objects %v", ev.Type, ev.Actor, ev.Objects)
		}
	}
}
