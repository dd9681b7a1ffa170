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
// themselves is a re-entry link into their open case, 15 minutes, once
// (of concurrent uses exactly one wins), audited as made by them via
// email; it counts their own standing, not a mediator's: once they are
// removed it is refused and no new one is made. An address nobody in a
// case has gets none; an address also on file in another open case gets
// none, and still none once that other seat is removed (a removed seat
// counts until its case is disposed of).
func TestSignInLinkOwnStanding(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	old := e.newCase(t, med, "Flat 2")
	c := e.newCase(t, med, "Flat 3")
	const addr = "pat@example.test"
	pat := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", addr)
	e.confirm(t, pat, c.ID)
	if _, ans, err := e.svc.IssueSignInLink(ctx, "nobody@example.test"); ans != SignInNone || err != nil {
		t.Fatalf("an unknown address: answer %v, %v", ans, err)
	}
	const two = "ola@example.test"
	before := e.joinAs(t, med, old.ID, RoleParty, "A", "Ola", two)
	ola := e.joinAs(t, med, c.ID, RoleParty, "B", "Ola", two)
	e.confirm(t, ola, c.ID)
	if _, ans, err := e.svc.IssueSignInLink(ctx, two); ans != SignInShared || err != nil {
		t.Fatalf("an address in two open cases: answer %v, %v; want SignInShared", ans, err)
	}
	if _, err := e.svc.RemoveParticipant(ctx, med, old.ID, before.ID); err != nil {
		t.Fatal(err)
	}
	if _, ans, err := e.svc.IssueSignInLink(ctx, two); ans != SignInShared || err != nil {
		t.Fatalf("the other seat removed: answer %v, %v; want SignInShared", ans, err)
	}
	r, ans, err := e.svc.IssueSignInLink(ctx, "PAT@example.test ")
	if err != nil || ans != SignInLinkMade {
		t.Fatalf("Pat's address: answer %v, %v", ans, err)
	}
	if r.CaseID != c.ID || r.Email != addr || time.Until(r.Expires) > SignInLinkTTL {
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

	// Removed from the case: an unused link is refused and no new one is
	// made.
	r2, _, err := e.svc.IssueSignInLink(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RemoveParticipant(ctx, med, c.ID, pat.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, r2.Token); !errors.Is(err, ErrInviteGone) {
		t.Fatalf("after removal: %v, want ErrInviteGone", err)
	}
	if _, ans, err := e.svc.IssueSignInLink(ctx, addr); ans != SignInNone || err != nil {
		t.Fatalf("removed from every case: answer %v, %v", ans, err)
	}
}
