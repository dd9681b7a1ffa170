package cases

import (
	"errors"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/policy"
)

// TestOnlySeatedMediatorsAddPeople: a mediator adds people to a case —
// an invitation, a link back in — only if the case's signed membership
// seats them (MembershipReader; the key directory in a server: web
// TestInviteNeedsASeatedMediator, client
// TestUnadmittedMediatorInviteGetsNoCaucusKey). A co-mediator on the
// record whom no sitting mediator confirmed is refused with
// ErrNotConfirmed; with no statement yet, every mediator of a case with
// two is refused (ErrNotOpenYet), its only mediator is not. Each refusal
// is audited as access.denied naming the action and the rule.
func TestOnlySeatedMediatorsAddPeople(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	c := e.newCase(t, mia, "Flat 3")
	// No statement and one mediator: she adds people.
	pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error, want error, actor string, action policy.Action) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v; want %v", what, err, want)
		}
		ev := e.lastEntry(t)
		if ev.Type != "access.denied" || ev.Actor != actor || ev.Case != c.ID || ev.Attrs["action"] != string(action) || ev.Attrs["rule"] != ruleUnadmitted {
			t.Fatalf("%s audited as %+v", what, ev)
		}
	}
	for _, who := range []struct {
		name string
		acct account.Account
	}{{"Mia", mia}, {"Max", max}} {
		_, err := e.svc.CreateInvite(ctx, who.acct, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam"})
		refused(who.name+"'s invitation, no statement, two mediators", err, ErrNotOpenYet, who.acct.ID, policy.CaseInvite)
		_, err = e.svc.CreateReentry(ctx, who.acct, c.ID, pat.ID, 0)
		refused(who.name+"'s link back in, no statement, two mediators", err, ErrNotOpenYet, who.acct.ID, policy.CaseReentry)
	}

	e.svc.Membership = seatedIn{mia.ID}
	if _, err := e.svc.CreateInvite(ctx, mia, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam"}); err != nil {
		t.Fatalf("the seated mediator's invitation: %v", err)
	}
	if _, err := e.svc.CreateReentry(ctx, mia, c.ID, pat.ID, 0); err != nil {
		t.Fatalf("the seated mediator's link back in: %v", err)
	}
	_, err := e.svc.CreateInvite(ctx, max, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "P"})
	refused("Max's invitation, not seated", err, ErrNotConfirmed, max.ID, policy.CaseInvite)
	_, err = e.svc.CreateReentry(ctx, max, c.ID, pat.ID, 0)
	refused("Max's link back in, not seated", err, ErrNotConfirmed, max.ID, policy.CaseReentry)

	e.svc.Membership = seatedIn{mia.ID, max.ID}
	if _, err := e.svc.CreateInvite(ctx, max, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "P"}); err != nil {
		t.Fatalf("the confirmed co-mediator's invitation: %v", err)
	}
}
