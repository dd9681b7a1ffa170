package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
)

// joinCounsel adds counsel for side to tc's case, with a device.
func joinCounsel(t *testing.T, tc *e2eeCase, side, name string) person {
	t.Helper()
	ctx := context.Background()
	inv, err := tc.med.c.Invite(ctx, tc.caseID, "counsel", side, name, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pc := client.New(tc.n.URL, "")
	s, err := pc.Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	p := person{id: s.Account.ID, c: pc}
	p.dir, p.x = newDevice(t, pc, s.Account.ID, e2ee.KEMXWing)
	return p
}

// signedRoom waits (bounded) until the chain the chat holds places room
// at epoch at least, and returns its signed members.
func signedRoom(t *testing.T, s *client.SecureChat, room string, epoch int64) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st := s.Chain().Latest(); st != nil {
			if r, ok := st.Room(room); ok && r.Epoch >= epoch {
				return r.Members
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement places %s at epoch %d", room, epoch)
		}
		select {
		case <-s.Events():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readsNothing fails if p reads any message of room.
func readsNothing(t *testing.T, p person, caseID, room string) {
	t.Helper()
	evs, err := p.x.ReadRoom(context.Background(), caseID, room, messaging.Position{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Rejected == nil && ev.Text != "" {
			t.Fatalf("%s read %q in %s", p.id, ev.Text, room)
		}
	}
}

// TestServerInjectedRoomMemberRefused: a mediator opens a room with side
// A's party, without their counsel. The server then writes A's counsel
// into the room's record (so policy lets them in) and seals it; later it
// flips the room to cross-side with side B's party in it. The mediator's
// device keeps signing the room as it opened it; the counsel reads
// nothing and what they post is refused by the party's client; the
// flipped room has no signed membership, so the party's client will not
// write in it, and B reads nothing of it.
func TestServerInjectedRoomMemberRefused(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	counselA := joinCounsel(t, tc, "A", "Casey Counsel")
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	room, err := med.OpenRoom(ctx, "Avery alone", []string{tc.med.id, tc.a.id}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(room.Room, "room:") || room.CrossSide {
		t.Fatalf("opened %+v", room)
	}
	if got := signedRoom(t, med, room.Room, 1); !slices.Equal(got, sorted(tc.med.id, tc.a.id)) {
		t.Fatalf("signed members %v", got)
	}
	// The counsel is not in the room: not listed, not let in.
	if rs, err := counselA.c.DefinedRooms(ctx, tc.caseID); err != nil || len(rs) != 0 {
		t.Fatalf("counsel lists %v %v", rs, err)
	}
	var page api.HistoryPage
	if err := counselA.c.Do(ctx, "GET", "/api/v1/cases/"+tc.caseID+"/rooms/"+room.Room+"/messages", nil, &page); !isStatus(err, 404) {
		t.Fatalf("counsel paged the room: %v", err)
	}

	a := open(t, tc.a, tc.caseID, client.SecureOptions{StatementWait: 5 * time.Second})
	send(t, a, room.Room, "between me and the mediator")
	med.Close()
	med = open(t, tc.med, tc.caseID, client.SecureOptions{})
	if ev := expect(t, med, room.Room); ev.Text != "between me and the mediator" {
		t.Fatalf("mediator read %q", ev.Text)
	}

	// The server writes A's counsel into the room and seals it.
	forge := func(change func(r *cases.DefinedRoom)) {
		t.Helper()
		if _, err := metastore.Update(ctx, n.Meta, "cases/"+tc.caseID+"/case", func(c *cases.Case) error {
			change(&c.Rooms[0])
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	forge(func(r *cases.DefinedRoom) { r.Members = append(r.Members, counselA.id) })
	n.Rooms.MembershipChanged(ctx, tc.caseID, cases.MembershipChange{Kind: "participant.removed", Account: counselA.id, Side: "A"})
	// The mediator's device signs the room's new epoch without them.
	if got := signedRoom(t, med, room.Room, 2); !slices.Equal(got, sorted(tc.med.id, tc.a.id)) {
		t.Fatalf("the mediator's device signed %v into the room", got)
	}
	a.Close()
	a = open(t, tc.a, tc.caseID, client.SecureOptions{StatementWait: 5 * time.Second})
	send(t, a, room.Room, "still just us")
	if ev := expect(t, med, room.Room); ev.Text != "still just us" {
		t.Fatalf("mediator read %q", ev.Text)
	}
	// The server now lets the counsel page the room: they read nothing.
	if err := counselA.c.Do(ctx, "GET", "/api/v1/cases/"+tc.caseID+"/rooms/"+room.Room+"/messages", nil, &page); err != nil {
		t.Fatalf("the forged record should let the counsel page the room: %v", err)
	}
	readsNothing(t, counselA, tc.caseID, room.Room)
	// What the counsel posts there is refused by the party's client.
	devs, _, err := counselA.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := counselA.x.Statements(ctx, tc.caseID, devs)
	if err != nil {
		t.Fatal(err)
	}
	epoch := a.Epoch(room.Room)
	sc := e2ee.NewSenderChain(e2ee.ChainContext{Case: tc.caseID, Room: room.Room, Epoch: epoch, StatementSeq: chain.Latest().Seq,
		Account: counselA.id, Device: counselA.x.Me.ID})
	dists, err := sc.KeyDist(counselA.x.Me, devs.Active(tc.a.id))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := sc.Encrypt(counselA.x.Me, &e2ee.Plaintext{Kind: e2ee.KindText, Text: "your lawyer here"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := counselA.c.Chat(ctx, tc.caseID, map[string]*messaging.Position{room.Room: nil})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for i, p := range append(dists, msg) {
		if _, err := raw.Send(ctx, room.Room, fmt.Sprint("inject-", i), p); err != nil {
			t.Fatal(err)
		}
	}
	evs := collectUntil(a, func(evs []client.SecureEvent) bool {
		_, refused := payloadsIn(room.Room, evs)
		return len(refused) == 2
	})
	texts, refused := payloadsIn(room.Room, evs)
	if slices.Contains(texts, "your lawyer here") || len(refused) != 2 {
		t.Fatalf("the party's client read %v, refused %d of the counsel's 2 payloads", texts, len(refused))
	}
	for _, err := range refused {
		if !errors.Is(err, e2ee.ErrNotMember) && !errors.Is(err, e2ee.ErrWrongPlace) {
			t.Fatalf("refused for the wrong reason: %v", err)
		}
	}

	// The server flips the room to cross-side and puts B's party in it.
	forge(func(r *cases.DefinedRoom) {
		r.CrossSide, r.Members = true, append(r.Members, tc.b.id)
	})
	flipped := e2ee.DefinedRoomName(room.ID, true)
	n.Rooms.MembershipChanged(ctx, tc.caseID, cases.MembershipChange{Kind: "participant.removed", Account: tc.b.id, Side: "B"})
	// Whatever the mediator's device signs next, it never names the
	// flipped room, and it keeps the room as it opened it.
	signedRoom(t, med, room.Room, 2)
	a.Close()
	a = open(t, tc.a, tc.caseID, client.SecureOptions{Rooms: []string{flipped}, StatementWait: time.Second})
	if _, err := a.Send(ctx, flipped, "must not be sent"); !errors.Is(err, e2ee.ErrNoStatement) {
		t.Fatalf("A sent into a room flipped to cross-side that no mediator signed: %v", err)
	}
	if st := a.Chain().Latest(); st != nil {
		if _, ok := st.Room(flipped); ok {
			t.Fatal("a statement names the flipped room")
		}
	}
	readsNothing(t, tc.b, tc.caseID, flipped)
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func isStatus(err error, status int) bool {
	var ae *client.Error
	return errors.As(err, &ae) && ae.Status == status
}

// TestServerInjectedRoomReusedName: a mediator opens a room with side A's
// party; when they open a second room with A's party and counsel, the
// server answers with the first room's id (as the people asked for). Were
// the answer taken, nothing new would be signed, the device would report
// the room open, and what is written in "the new room" would go to the
// first room. The device refuses a name the verified chain already holds,
// and the first room keeps exactly its people.
func TestServerInjectedRoomReusedName(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	counselA := joinCounsel(t, tc, "A", "Casey Counsel")
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	first, err := med.OpenRoom(ctx, "Avery alone", []string{tc.med.id, tc.a.id}, false)
	if err != nil {
		t.Fatal(err)
	}
	signedRoom(t, med, first.Room, 1)
	asked := []string{tc.med.id, tc.a.id, counselA.id}
	answer := api.DefinedRoom{ID: first.ID, Room: first.Room, Label: "Avery with counsel", Members: asked}
	entry, err := e2ee.NewRoomOpening(tc.caseID, false, asked)
	if err != nil {
		t.Fatal(err)
	}
	err = med.SignRoom(ctx, answer, entry)
	if !errors.Is(err, e2ee.ErrMembership) {
		t.Fatalf("the device took an existing room's name as a new room: %v", err)
	}
	// The server cannot choose the name either: the one the device's
	// opening gives is the room it opens, and the server keeps it.
	second, err := med.OpenRoom(ctx, "Avery with counsel", asked, false)
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := e2ee.DefinedRoom(second.Room); len(id) != 32 || second.Room == first.Room {
		t.Fatalf("the second room is %q (first %q)", second.Room, first.Room)
	}
	if got := signedRoom(t, med, first.Room, 1); !slices.Equal(got, sorted(tc.med.id, tc.a.id)) {
		t.Fatalf("the first room is signed with %v", got)
	}
}
