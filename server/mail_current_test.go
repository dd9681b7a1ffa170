package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/schedule"
)

// A node's outbox asks its schedule, when a session's reminder comes due,
// whether it is still current: one written for the session's time before
// a Move is recorded as cancelled, not sent.
func TestNodeOutboxDropsStaleReminders(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	p := seedCase(t, n)
	med, err := n.Accounts.Get(ctx, p.medID)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(72 * time.Hour).UTC()
	sess, err := n.Schedule.Add(ctx, med, p.caseID, schedule.NewSession{Start: start.Format(schedule.LocalLayout), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Schedule.Move(ctx, med, p.caseID, sess.ID, start.Add(time.Hour).Format(schedule.LocalLayout), "", 0, "room unavailable"); err != nil {
		t.Fatal(err)
	}
	// As if a notify of the first time had queued it after the Move's.
	stale := "rem-" + sess.ID + "-0-60m-" + p.medID
	if err := n.Outbox.Enqueue(ctx, mail.Message{ID: stale, CaseID: p.caseID, Kind: mail.KindReminder, To: "avery@example.test",
		Subject: "Reminder", Text: "t", Ref: sess.ID}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := n.Outbox.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		m, err := n.Outbox.Get(ctx, p.caseID, stale)
		if err != nil {
			t.Fatal(err)
		}
		if m.State != mail.Pending && m.State != mail.Sending {
			if m.State != mail.Cancelled {
				t.Fatalf("the stale reminder is %s, want cancelled", m.State)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stale reminder is still %s", m.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
