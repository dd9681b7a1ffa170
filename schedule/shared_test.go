package schedule

import (
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
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

// TestSharedAddressCheckInCheckedBeforeSending: a check-in or survey link
// for A waiting in the outbox for an address another seat of the case has
// (queued before this rule, by an earlier version: a check-in waits up to
// MaxFollowUpDays) is not sent: side B could answer it in A's name. The
// outbox asks Current just before sending; B's own link, at B's own
// address, still goes.
func TestSharedAddressCheckInCheckedBeforeSending(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	if _, err := e.cases.CreateInvite(ctx, e.mediator, e.c.ID, cases.NewInvite{Role: cases.RoleCounsel, Side: "B", Name: "Casey Counsel", Email: " Alex@Example.test"}); err != nil {
		t.Fatal(err)
	}
	e.close(t, cases.FullAgreement)
	old := func(kind mail.Kind, id string, who account.Account) mail.Message {
		m := mail.Message{ID: id, CaseID: e.c.ID, Kind: kind, To: who.Email, ToAccount: who.ID,
			Subject: "How is your agreement working?", Text: "https://parley.example.test/checkin#token"}
		if err := e.outbox.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		m    mail.Message
		want bool
	}{
		{old(mail.KindFollowUp, mailID("fu", e.c.ID, "30", e.tenant.ID), e.tenant), false},
		{old(mail.KindSurvey, mailID("survey", e.c.ID, e.tenant.ID), e.tenant), false},
		{old(mail.KindFollowUp, mailID("fu", e.c.ID, "30", e.landlord.ID), e.landlord), true},
		{old(mail.KindSurvey, mailID("survey", e.c.ID, e.landlord.ID), e.landlord), true},
	} {
		if ok, err := e.svc.Current(ctx, &tc.m); err != nil || ok != tc.want {
			t.Fatalf("%s to %s: current %v, %v; want %v", tc.m.ID, tc.m.To, ok, err, tc.want)
		}
	}
}
