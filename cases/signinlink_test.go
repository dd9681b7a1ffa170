package cases

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/policy"
)

// TestSignInLinkOwnStanding: a sign-in link a participant had emailed to
// themselves is a re-entry link into their newest open case, 15 minutes,
// once (of concurrent uses exactly one wins), audited as made by them via
// email; it counts their own standing, not a mediator's: once they are
// removed it is refused and no new one is made. An address nobody in a
// case has gets none.
func TestSignInLinkOwnStanding(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	old := e.newCase(t, med, "Flat 2")
	c := e.newCase(t, med, "Flat 3")
	const addr = "pat@example.test"
	for _, id := range []string{old.ID, c.ID} {
		inv := e.invite(t, med, id, NewInvite{Role: RoleParty, Side: "A", Name: "Pat", Email: addr})
		if _, err := e.svc.Join(ctx, inv.Token); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := e.svc.IssueSignInLink(ctx, "nobody@example.test"); ok || err != nil {
		t.Fatalf("an unknown address: ok %v, %v", ok, err)
	}
	r, ok, err := e.svc.IssueSignInLink(ctx, "PAT@example.test ")
	if err != nil || !ok {
		t.Fatalf("Pat's address: ok %v, %v", ok, err)
	}
	if r.CaseID != c.ID || r.Email != addr || r.Expires.Sub(time.Now()) > SignInLinkTTL {
		t.Fatalf("link into %s for %s until %s", r.CaseID, r.Email, r.Expires)
	}
	if ev := e.lastEntry(t); ev.Type != "case.reentry.created" || ev.Actor != r.AccountID || ev.Attrs["via"] != "email" {
		t.Fatalf("audit entry %+v", ev)
	}
	var wg sync.WaitGroup
	var won atomic.Int32
	for range 8 {
		wg.Go(func() {
			if j, err := e.svc.Join(ctx, r.Token); err == nil && j.Account.ID == r.AccountID && j.CaseID == c.ID {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d uses succeeded, want exactly 1", won.Load())
	}
	if ev := e.lastEntry(t); ev.Type != "case.reentry.redeemed" || ev.Attrs["via"] != "email" {
		t.Fatalf("audit entry %+v", ev)
	}

	// Removed from the newer case: an unused link is refused; a new one
	// goes to the case they are still in.
	r2, _, err := e.svc.IssueSignInLink(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RemoveParticipant(ctx, med, c.ID, r.AccountID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, r2.Token); !errors.Is(err, ErrInviteGone) {
		t.Fatalf("after removal: %v, want ErrInviteGone", err)
	}
	r3, ok, err := e.svc.IssueSignInLink(ctx, addr)
	if err != nil || !ok || r3.CaseID != old.ID {
		t.Fatalf("after removal from %s: a link into %s (ok %v, %v), want %s", c.ID, r3.CaseID, ok, err, old.ID)
	}
	oldCase, err := e.svc.Load(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RemoveParticipant(ctx, med, old.ID, oldCase.Participants[0].AccountID); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.svc.IssueSignInLink(ctx, addr); ok || err != nil {
		t.Fatalf("removed from every case: ok %v, %v", ok, err)
	}
}
