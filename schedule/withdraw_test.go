package schedule

import (
	"strings"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/mail"
)

// TestWithdrawnInviteMailNotSent: the mail of a withdrawn invitation is
// not sent. Still waiting in the outbox, it is cancelled when the
// invitation is withdrawn (CancelInviteMail); one the cancelling missed
// (a sender had claimed it, or the cancelling failed) is refused by the
// check just before sending (Current). An invitation not withdrawn is
// mailed as before.
func TestWithdrawnInviteMailNotSent(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	ctx := t.Context()
	mailed := func(name, addr string) cases.IssuedInvite {
		t.Helper()
		inv, err := e.cases.CreateInvite(ctx, e.mediator, e.c.ID, cases.NewInvite{Role: cases.RoleObserver, Name: name, Email: addr})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.MailInvite(ctx, e.c.ID, inv.Seat, addr, joinURL+"/join#"+inv.Token, inv.Expires); err != nil {
			t.Fatal(err)
		}
		return inv
	}
	id := func(inv cases.IssuedInvite) string { return strings.TrimPrefix(inv.Seat, "invite:") }
	cancelled := "cancelled-" + e.c.ID + "@example.test"
	missed := "missed-" + e.c.ID + "@example.test"
	kept := "kept-" + e.c.ID + "@example.test"
	inv1 := mailed("Obi One", cancelled)
	inv2 := mailed("Obi Two", missed)
	mailed("Obi Three", kept)

	w, err := e.cases.WithdrawInvite(ctx, e.mediator, e.c.ID, id(inv1))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.CancelInviteMail(ctx, e.c.ID, w.Seat); err != nil {
		t.Fatal(err)
	}
	state := func() map[string]mail.State {
		t.Helper()
		msgs, err := e.outbox.List(ctx, e.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]mail.State{}
		for _, m := range msgs {
			if m.Kind == mail.KindJoin {
				got[m.To] = m.State
			}
		}
		return got
	}
	if got := state(); got[cancelled] != mail.Cancelled || got[missed] != mail.Pending || got[kept] != mail.Pending {
		t.Fatalf("after the first withdrawal: %v", got)
	}
	// Withdrawn, its mail not cancelled: the send-time check refuses it.
	if _, err := e.cases.WithdrawInvite(ctx, e.mediator, e.c.ID, id(inv2)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := state(); got[cancelled] != mail.Cancelled || got[missed] != mail.Cancelled || got[kept] != mail.Sent {
		t.Fatalf("after sending: %v", got)
	}
}
