package schedule

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/policy"
)

func TestValidation(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	future := local(e.clock.Now().Add(72*time.Hour), "Europe/Berlin")
	ok := NewSession{Start: future, TimeZone: "Europe/Berlin", Minutes: 90}
	bad := []struct {
		name  string
		n     NewSession
		field string
	}{
		{"30 February", NewSession{Start: "2027-02-30T10:00", TimeZone: "Europe/Berlin", Minutes: 60}, "start"},
		{"hour 25", NewSession{Start: "2027-03-01T25:00", TimeZone: "Europe/Berlin", Minutes: 60}, "start"},
		{"clock-change gap", NewSession{Start: "2027-03-28T02:30", TimeZone: "Europe/Berlin", Minutes: 60}, "start"},
		{"not a time", NewSession{Start: "next tuesday", TimeZone: "Europe/Berlin", Minutes: 60}, "start"},
		{"past", NewSession{Start: local(e.clock.Now().Add(-time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60}, "start"},
		{"too far", NewSession{Start: local(e.clock.Now().Add(3*365*24*time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60}, "start"},
		{"unknown zone", NewSession{Start: future, TimeZone: "Mars/Olympus_Mons", Minutes: 60}, "timeZone"},
		{"server's zone", NewSession{Start: future, TimeZone: "Local", Minutes: 60}, "timeZone"},
		{"path zone", NewSession{Start: future, TimeZone: "../../etc/passwd", Minutes: 60}, "timeZone"},
		{"oversized zone", NewSession{Start: future, TimeZone: strings.Repeat("A", 100), Minutes: 60}, "timeZone"},
		{"too short", NewSession{Start: future, TimeZone: "UTC", Minutes: 5}, "minutes"},
		{"too long", NewSession{Start: future, TimeZone: "UTC", Minutes: 10000}, "minutes"},
		{"unknown room", NewSession{Start: future, TimeZone: "UTC", Minutes: 60, Rooms: []string{"kitchen"}}, "rooms[0]"},
		{"room twice", NewSession{Start: future, TimeZone: "UTC", Minutes: 60, Rooms: []string{"joint", "joint"}}, "rooms[1]"},
		{"stranger expected", NewSession{Start: future, TimeZone: "UTC", Minutes: 60, Expected: []string{ids.New("u")}}, "expected[0]"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			_, err := e.svc.Add(ctx, e.mediator, e.c.ID, b.n)
			wantInvalid(t, err, b.field)
		})
	}
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, ok)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Move(ctx, e.mediator, e.c.ID, s.ID, future, "", 0, "")
	wantInvalid(t, err, "reason")
	_, err = e.svc.Move(ctx, e.mediator, e.c.ID, s.ID, future, "", 0, strings.Repeat("x", MaxReasonLen+1))
	wantInvalid(t, err, "reason")
	_, err = e.svc.Cancel(ctx, e.mediator, e.c.ID, s.ID, " ")
	wantInvalid(t, err, "reason")
	_, err = e.svc.Move(ctx, e.mediator, e.c.ID, ids.New("s"), future, "", 0, "the mediator is ill")
	wantIs(t, err, fault.ErrNotFound)
	if _, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, s.ID, "settled"); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Move(ctx, e.mediator, e.c.ID, s.ID, future, "", 0, "after all")
	wantIs(t, err, fault.ErrConflict)
}

// The start is stored as the instant meant in its zone (summer and
// winter time), and a move keeps the UID and raises the sequence.
func TestStartInZoneAndSequence(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	y := e.clock.Now().Year() + 1
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: time.Date(y, 7, 1, 10, 0, 0, 0, time.UTC).Format(LocalLayout), TimeZone: "America/New_York", Minutes: 90})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(y, 7, 1, 14, 0, 0, 0, time.UTC); !s.Start.Equal(want) || s.Sequence != 0 {
		t.Fatalf("start %v seq %d, want %v (EDT is UTC-4)", s.Start, s.Sequence, want)
	}
	m, err := e.svc.Move(ctx, e.mediator, e.c.ID, s.ID, time.Date(y, 12, 1, 10, 0, 0, 0, time.UTC).Format(LocalLayout), "", 0, "a party asked for later")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(y, 12, 1, 15, 0, 0, 0, time.UTC); !m.Start.Equal(want) || m.Sequence != 1 || m.ID != s.ID {
		t.Fatalf("moved: start %v seq %d", m.Start, m.Sequence)
	}
	if len(m.Expected) != 3 {
		t.Fatalf("expected by default: %v (mediator and both parties)", m.Expected)
	}
}

func TestSessionPolicy(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	n := NewSession{Start: local(e.clock.Now().Add(72*time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60}
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, n)
	if err != nil {
		t.Fatal(err)
	}
	other := account.Account{ID: ids.New("u"), Name: "Other Mediator", Role: policy.RoleMediator}
	records := account.Account{ID: ids.New("u"), Name: "Rec", Role: policy.RoleRecords}
	admin := account.Account{ID: ids.New("u"), Name: "Adm", Role: policy.RoleAdmin}
	// A mediator of another case is told the case is not there, as for a
	// case that does not exist (no probing of ids); staff are refused.
	refusal := func(who account.Account) error {
		if who.ID == other.ID {
			return fault.ErrNotFound
		}
		return fault.ErrForbidden
	}
	for _, who := range []account.Account{e.tenant, other, records, admin} {
		_, err := e.svc.Add(ctx, who, e.c.ID, n)
		wantIs(t, err, refusal(who))
		_, err = e.svc.Move(ctx, who, e.c.ID, s.ID, n.Start, "", 0, "why not")
		wantIs(t, err, refusal(who))
		_, err = e.svc.Cancel(ctx, who, e.c.ID, s.ID, "why not")
		wantIs(t, err, refusal(who))
		_, err = e.svc.Mail(ctx, who, e.c.ID)
		wantIs(t, err, refusal(who))
	}
	for _, who := range []account.Account{other, records, admin} {
		_, err := e.svc.List(ctx, who, e.c.ID)
		wantIs(t, err, refusal(who))
	}
	_, err = e.svc.List(ctx, e.tenant, ids.New("c"))
	wantIs(t, err, fault.ErrNotFound)
	list, err := e.svc.List(ctx, e.landlord, e.c.ID)
	if err != nil || len(list) != 1 || list[0].ID != s.ID {
		t.Fatalf("a party's list: %v %v", list, err)
	}
	// A recused mediator loses the sessions too.
	if _, err := e.cases.Recuse(ctx, e.mediator, e.c.ID, e.mediator.ID, "I know the landlord"); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.List(ctx, e.mediator, e.c.ID)
	wantIs(t, err, fault.ErrForbidden)
	// The audit log names ids only.
	n2 := e.log.Size()
	for i := range n2 {
		ev, _ := e.log.Entry(ctx, i)
		// Audited first, each entry carries its op id (audit.OpAttr) and
		// nothing else.
		_, op := ev.Attrs[audit.OpAttr]
		if strings.HasPrefix(ev.Type, "session.") && (len(ev.Objects) != 1 || ev.Objects[0] != s.ID || len(ev.Attrs) != 1 || !op) {
			t.Fatalf("audit entry %+v", ev)
		}
	}
}

// A session in side A's caucus is A's: side B neither sees it in the list
// nor is expected at it (so gets no mail about it), by default or when
// named.
func TestCaucusSessionIsNotTheOtherSides(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	start := local(e.clock.Now().Add(72*time.Hour), "UTC")
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: start, TimeZone: "UTC", Minutes: 30, Rooms: []string{"caucus:A"}})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(s.Expected, e.landlord.ID) || !slices.Contains(s.Expected, e.tenant.ID) {
		t.Fatalf("expected at A's caucus: %v", s.Expected)
	}
	_, err = e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: start, TimeZone: "UTC", Minutes: 30, Rooms: []string{"caucus:A"}, Expected: []string{e.landlord.ID}})
	wantInvalid(t, err, "expected[0]")
	for who, want := range map[string]int{e.landlord.ID: 0, e.tenant.ID: 1, e.mediator.ID: 1} {
		acct := map[string]account.Account{e.landlord.ID: e.landlord, e.tenant.ID: e.tenant, e.mediator.ID: e.mediator}[who]
		list, err := e.svc.List(ctx, acct, e.c.ID)
		if err != nil || len(list) != want {
			t.Fatalf("%s sees %d sessions (%v), want %d", acct.Name, len(list), err, want)
		}
	}
}

// A session in the joint room and side A's caucus is, to side B, a session
// in the joint room: B's list names neither A's caucus nor, of a session in
// both caucuses, the people of A's. The mediator sees it whole.
func TestSessionShowsOnlyTheViewersRooms(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	counsel := e.join(t, cases.RoleCounsel, "A", "Casey Counsel", "casey@example.test")
	start := local(e.clock.Now().Add(72*time.Hour), "UTC")
	joint, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: start, TimeZone: "UTC", Minutes: 120,
		Rooms: []string{caucus.JointName, caucus.CaucusName("A")}})
	if err != nil {
		t.Fatal(err)
	}
	both, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: start, TimeZone: "UTC", Minutes: 60,
		Rooms: []string{caucus.CaucusName("A"), caucus.CaucusName("B")}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(both.Expected, counsel.ID) || !slices.Contains(both.Expected, e.landlord.ID) {
		t.Fatalf("expected at both caucuses: %v", both.Expected)
	}
	want := map[string]map[string][]string{ // viewer -> session -> rooms
		e.landlord.ID: {joint.ID: {caucus.JointName}, both.ID: {caucus.CaucusName("B")}},
		e.tenant.ID:   {joint.ID: {caucus.JointName, caucus.CaucusName("A")}, both.ID: {caucus.CaucusName("A")}},
		e.mediator.ID: {joint.ID: joint.Rooms, both.ID: both.Rooms},
	}
	side := map[string]string{e.landlord.ID: "B", e.tenant.ID: "A", counsel.ID: "A"}
	for _, acct := range []account.Account{e.landlord, e.tenant, e.mediator} {
		list, err := e.svc.List(ctx, acct, e.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("%s sees %d sessions, want 2", acct.Name, len(list))
		}
		for _, s := range list {
			if !slices.Equal(s.Rooms, want[acct.ID][s.ID]) {
				t.Errorf("%s is shown session %s with rooms %v, want %v", acct.Name, s.ID, s.Rooms, want[acct.ID][s.ID])
			}
			if s.ID != both.ID || acct.ID == e.mediator.ID {
				continue
			}
			for _, id := range s.Expected {
				if other, ok := side[id]; ok && other != side[acct.ID] {
					t.Errorf("%s is shown that %s (side %s) is expected at session %s", acct.Name, id, other, s.ID)
				}
			}
			if !slices.Contains(s.Expected, acct.ID) || !slices.Contains(s.Expected, e.mediator.ID) {
				t.Errorf("%s's view of session %s lacks themselves or the mediator: %v", acct.Name, s.ID, s.Expected)
			}
		}
	}
	// The stored session is whole: the mediator's list after the others'.
	list, err := e.svc.List(ctx, e.mediator, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.ID == both.ID && !slices.Contains(s.Expected, e.landlord.ID) {
			t.Errorf("the mediator's list lost side B at session %s: %v", s.ID, s.Expected)
		}
	}
}

// A joint-room session whose expected people, besides the mediators, are
// all of one side works as a caucus everyone can see: side B reads in its
// list that the mediator meets side A's party, when and for how long. It
// is refused in plain words (the side's label, never its id or a wire
// room name) that say what to do instead; a list that meets both sides, no
// side, or the default (everyone in the case), and a caucus session, are
// scheduled.
func TestOneSidedJointSessionRefused(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	counsel := e.join(t, cases.RoleCounsel, "A", "Casey Counsel", "casey@example.test")
	observer := e.join(t, cases.RoleObserver, "", "Olu Observer", "olu@example.test")
	start := local(e.clock.Now().Add(72*time.Hour), "UTC")
	joint, jointAndA := []string{caucus.JointName}, []string{caucus.JointName, caucus.CaucusName("A")}
	for _, b := range []struct {
		name     string
		rooms    []string
		expected []string
	}{
		{"mediator and side A's party", joint, []string{e.mediator.ID, e.tenant.ID}},
		{"side A's party alone (rooms defaulted)", nil, []string{e.tenant.ID}},
		{"side A with an observer", joint, []string{e.mediator.ID, e.tenant.ID, observer.ID}},
		{"joint and A's caucus, side A's people", jointAndA, []string{e.mediator.ID, e.tenant.ID, counsel.ID}},
		{"side B's party", joint, []string{e.landlord.ID, e.mediator.ID}},
	} {
		t.Run(b.name, func(t *testing.T) {
			_, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: start, TimeZone: "UTC", Minutes: 45, Rooms: b.rooms, Expected: b.expected})
			wantInvalid(t, err, "expected")
			ie, _ := fault.AsInvalid(err)
			label := "Tenant"
			if slices.Contains(b.expected, e.landlord.ID) {
				label = "Landlord"
			}
			want := "this meets only the " + label + " side's people: schedule it in the " + label + " side's private room (caucus) instead, or add someone from the other side"
			if ie.Detail != want {
				t.Errorf("detail %q, want %q", ie.Detail, want)
			}
		})
	}
	for _, b := range []struct {
		name     string
		rooms    []string
		expected []string
	}{
		{"both sides", joint, []string{e.mediator.ID, e.tenant.ID, e.landlord.ID}},
		{"the mediator alone", joint, []string{e.mediator.ID}},
		{"the mediator and the observer", joint, []string{e.mediator.ID, observer.ID}},
		{"everyone (default)", joint, nil},
		{"side A's caucus", []string{caucus.CaucusName("A")}, []string{e.mediator.ID, e.tenant.ID}},
	} {
		if _, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: start, TimeZone: "UTC", Minutes: 45, Rooms: b.rooms, Expected: b.expected}); err != nil {
			t.Errorf("%s: %v", b.name, err)
		}
	}
	// Side B's list shows the mediator meeting no one of side A alone.
	list, err := e.svc.List(ctx, e.landlord, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if slices.Contains(s.Expected, e.tenant.ID) && !slices.Contains(s.Expected, e.landlord.ID) {
			t.Errorf("side B is shown a session where side A meets without it: %+v", s)
		}
	}
}
