package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
)

const mediatorAddr = "morgan@example.test"

// withMediatorAddress gives e's mediator a mail address.
func (e *env) withMediatorAddress(t *testing.T) {
	t.Helper()
	a, err := metastore.Update(t.Context(), e.svc.cfg.Meta, account.RecordKey(e.mediator.ID), func(a *account.Account) error {
		a.Email = mediatorAddr
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.mediator = a
}

// TestDisabledMediatorIsNotRemindedOfSessions: an administrator disables
// a mediator without recusing them (they left the program). Policy
// refuses a disabled account everything, and its address is no longer
// theirs to read: nothing more about the case's sessions goes there. The
// invitation and reminders queued for side A's caucus before the account
// was disabled are withdrawn when their time comes (Current), side B's
// caucus scheduled after is not announced to it at all (notify), and a
// resend to it is refused in plain words. Once the account is enabled
// again, a session scheduled then reaches it.
func TestDisabledMediatorIsNotRemindedOfSessions(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	mp = mp.Outbox(e.sentIDs())
	ctx := t.Context()
	e.withMediatorAddress(t)
	t0 := e.clock.Now()
	startA := t0.Add(72 * time.Hour)
	a, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startA, "UTC"), TimeZone: "UTC", Minutes: 60, Rooms: []string{caucus.CaucusName("A")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.accounts.Disable(ctx, e.mediator.ID, nil); err != nil {
		t.Fatal(err)
	}
	startB := t0.Add(80 * time.Hour)
	// A co-mediator would schedule it (the disabled one cannot sign in):
	// the service is asked as e.mediator's record stood before it was
	// disabled, which policy lets schedule; what is checked is who is
	// mailed.
	b, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startB, "UTC"), TimeZone: "UTC", Minutes: 60, Rooms: []string{caucus.CaucusName("B")}})
	if err != nil {
		t.Fatal(err)
	}
	// Before the first session: both 48-hour reminders and A's 2-hour
	// one are due. The outbox runs at each's time (one found more than
	// half its lead late is not sent: tooLate).
	for _, at := range []time.Time{t0, startA.Add(-48 * time.Hour), startB.Add(-48 * time.Hour), startA.Add(-time.Hour)} {
		e.clock.Set(at)
		if _, err := e.outbox.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var reminders, others int
	var failed *mail.Message
	for _, m := range msgs {
		if m.To != mediatorAddr {
			if m.State != mail.Sent && m.State != mail.Pending {
				t.Errorf("%s to %s: %s, want sent or (B's 2-hour reminder) pending", m.ID, m.To, m.State)
			}
			others++
			continue
		}
		if m.Ref == b.ID {
			t.Errorf("%s (%s) about side B's caucus was queued to the disabled mediator", m.ID, m.Kind)
		}
		if m.Kind == mail.KindReminder {
			reminders++
		}
		if m.State != mail.Cancelled {
			t.Errorf("%s (%s) to the disabled mediator: %s, want cancelled", m.ID, m.Kind, m.State)
		}
		failed = &m
	}
	if reminders != 2 {
		t.Errorf("%d reminders of side A's caucus were queued to the mediator, want 2 (both withdrawn)", reminders)
	}
	// The tenant: A's invitation and reminders; the landlord: B's.
	if others != 6 {
		t.Errorf("%d messages to the parties, want 6", others)
	}
	if got, _ := mp.WithPrefix(mailID("rem", a.ID)); len(got) != 2 {
		t.Errorf("%d reminders of side A's caucus arrived, want 2 (the tenant's)", len(got))
	}
	for _, prefix := range []string{mailID("inv", a.ID), mailID("rem", a.ID), mailID("inv", b.ID), mailID("rem", b.ID)} {
		got, err := mp.WithPrefix(prefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			for _, to := range s.To {
				if to.Address == mediatorAddr {
					t.Errorf("%q reached the disabled mediator", s.Subject)
				}
			}
		}
	}

	// A resend to the disabled account is refused, saying who and why.
	// (Only a failed or uncertain message is resent with a new id; the
	// check comes before that, so a withdrawn one shows it. Asked as a
	// co-mediator would, as above.)
	if failed != nil {
		_, err := e.svc.Resend(ctx, e.mediator, e.c.ID, failed.ID)
		if !strings.Contains(errText(err), "Morgan Reyes") || !strings.Contains(errText(err), "disabled") || strings.Contains(errText(err), e.mediator.ID) {
			t.Errorf("resend to the disabled mediator: %v, want a refusal naming them and why, without ids", err)
		}
		wantIs(t, err, fault.ErrConflict)
	}

	// Enabled again: what is scheduled from now on reaches them.
	if _, err := e.accounts.Enable(ctx, e.mediator.ID, nil); err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startB.Add(24*time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := e.outbox.Get(ctx, e.c.ID, mailID("inv", c.ID, "0", e.mediator.ID))
	if err != nil || m.State != mail.Sent || m.To != mediatorAddr {
		t.Fatalf("the invitation to the mediator enabled again: %+v, %v", m, err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
