package schedule

import (
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/mail"
)

// TestSharedAddressCheckedBeforeSending: mail about side A's caucus
// session, queued while A's address was A's alone, is not sent once a seat
// not expected at the session (an invitation for side B) has that address:
// the outbox asks Current just before sending.
func TestSharedAddressCheckedBeforeSending(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	startAt := e.clock.Now().Add(96 * time.Hour).Truncate(time.Hour)
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt, "UTC"), TimeZone: "UTC", Minutes: 60, Rooms: []string{"caucus:A"}})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var toA []mail.Message
	for _, m := range msgs {
		if m.Ref == s.ID && m.ToAccount == e.tenant.ID {
			toA = append(toA, m)
		}
	}
	if len(toA) < 2 {
		t.Fatalf("%d messages to A queued, want the invitation and reminders", len(toA))
	}
	for _, m := range toA {
		if ok, err := e.svc.Current(ctx, &m); err != nil || !ok {
			t.Fatalf("%s before: current %v, %v", m.ID, ok, err)
		}
	}
	if _, err := e.cases.CreateInvite(ctx, e.mediator, e.c.ID, cases.NewInvite{Role: cases.RoleCounsel, Side: "B", Name: "Casey Counsel", Email: "ALEX@example.test"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range toA {
		if ok, err := e.svc.Current(ctx, &m); err != nil || ok {
			t.Fatalf("%s after side B was invited at A's address: current %v, %v", m.ID, ok, err)
		}
	}
}
