package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/mail"
)

// A node that was down while a session's mail came due sends none of it
// once the session has started: its invitations and reminders are
// cancelled when their time comes (Current), none reaches the mailbox.
func TestMailAfterStartCancelled(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	mp = mp.Outbox(e.sentIDs())
	ctx := t.Context()
	startAt := e.clock.Now().Add(72 * time.Hour)
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing was sent before: the node was down until an hour into it.
	e.clock.Set(startAt.Add(time.Hour))
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 6 { // two invitations, two 48-hour and two 2-hour reminders
		t.Fatalf("%d messages, want 6", len(msgs))
	}
	for _, m := range msgs {
		if m.State != mail.Cancelled {
			t.Fatalf("%s: %s after the session started, want cancelled", m.ID, m.State)
		}
	}
	for _, p := range []string{mailID("inv", s.ID), mailID("rem", s.ID)} {
		if got, _ := mp.WithPrefix(p); len(got) != 0 {
			t.Fatalf("%d messages %s… sent after the session started", len(got), p)
		}
	}
}

// A reminder that comes due late (the node was down) goes only while it is
// less than half its lead time late, and its subject states the session's
// time, not a lead ("in 2 hours") fixed when it was queued.
func TestLateReminderSubject(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	mp = mp.Outbox(e.sentIDs())
	ctx := t.Context()
	startAt := e.clock.Now().Add(72 * time.Hour)
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	e.outbox.RunOnce(ctx) // the invitations
	fetch(t, mp, mailID("inv", s.ID), 2)
	// Down from before the 48-hour reminder until 70 minutes before the
	// start: the 48-hour reminders are far too late, the 2-hour ones 50
	// minutes late (less than half of 2 hours).
	e.clock.Set(startAt.Add(-70 * time.Minute))
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := mp.WithPrefix(mailID("rem", s.ID, "0", "2880m")); len(got) != 0 {
		t.Fatalf("%d 48-hour reminders sent 70 minutes before the session", len(got))
	}
	for _, r := range fetch(t, mp, mailID("rem", s.ID, "0", "120m"), 2) {
		if strings.Contains(r.subject, "2 hours") || !strings.Contains(r.subject, "Reminder: mediation session on "+WhenText(s)) {
			t.Fatalf("subject %q 70 minutes before the session", r.subject)
		}
	}
	// Queued again (a move back and forth is not needed: a second session
	// suffices) and due at 2 hours, the 2-hour reminder found 90 minutes
	// late (30 minutes before the start) is cancelled.
	s2, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt.Add(24*time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	e.outbox.RunOnce(ctx)
	e.clock.Set(startAt.Add(24*time.Hour - 30*time.Minute))
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, _ := e.outbox.List(ctx, e.c.ID)
	for _, m := range msgs {
		if m.Kind == mail.KindReminder && m.Ref == s2.ID && m.State != mail.Cancelled {
			t.Fatalf("%s: %s 30 minutes before the session, want cancelled", m.ID, m.State)
		}
	}
	if got, _ := mp.WithPrefix(mailID("rem", s2.ID)); len(got) != 0 {
		t.Fatalf("%d reminders sent more than half their lead late", len(got))
	}
}

// The time in a session's mail names the UTC date too when it is another
// day than the local one, and UTC alone when the zone cannot be loaded.
func TestWhenTextDates(t *testing.T) {
	at := func(zone, local string) *Session {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		st, err := time.ParseInLocation("2006-01-02 15:04", local, loc)
		if err != nil {
			t.Fatal(err)
		}
		return &Session{Start: st.UTC(), TimeZone: zone}
	}
	for _, c := range []struct {
		s    *Session
		want string
	}{
		{at("Australia/Sydney", "2026-12-10 09:00"), "Thursday 10 December 2026, 09:00 (Australia/Sydney; Wednesday 9 December 2026, 22:00 UTC)"},
		{at("America/New_York", "2026-12-10 20:00"), "Thursday 10 December 2026, 20:00 (America/New_York; Friday 11 December 2026, 01:00 UTC)"},
		{at("Europe/Berlin", "2026-12-10 10:00"), "Thursday 10 December 2026, 10:00 (Europe/Berlin; 09:00 UTC)"},
		{&Session{Start: time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC), TimeZone: "Not/AZone"}, "Thursday 10 December 2026, 09:00 UTC"},
	} {
		if got := WhenText(c.s); got != c.want {
			t.Errorf("WhenText = %q, want %q", got, c.want)
		}
	}
}
