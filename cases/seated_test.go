package cases

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
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

// TestUnconfirmedMediatorChangesNobody: a co-mediator on the record whom
// no seated mediator has confirmed cannot recuse the seated mediator (who
// alone could sign the membership: after that nobody could), add a
// mediator or take a participant out; each refusal is audited as
// access.denied naming the action and the rule, and says in words what
// they wait for (ErrUnconfirmed). They may still withdraw themselves.
// Once admitted, they do all of it. Before any statement, the case's
// opener is the confirmed one (Admission).
func TestUnconfirmedMediatorChangesNobody(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	kim := e.stored(t, policy.RoleMediator, "kim@example.org", nil)
	c := e.newCase(t, mia, "Flat 4")
	pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error, action policy.Action) {
		t.Helper()
		if !errors.Is(err, ErrUnconfirmed) || !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("%s: %v; want a refusal for an unconfirmed mediator", what, err)
		}
		if strings.Contains(err.Error(), "unconfirmed-mediators") {
			t.Fatalf("%s: the words name a rule: %v", what, err)
		}
		ev := e.lastEntry(t)
		if ev.Type != "access.denied" || ev.Actor != max.ID || ev.Case != c.ID || ev.Attrs["action"] != string(action) || ev.Attrs["rule"] != RuleUnconfirmedCase {
			t.Fatalf("%s audited as %+v", what, ev)
		}
	}
	tryAll := func(stage string) {
		t.Helper()
		_, err := e.svc.Recuse(ctx, max, c.ID, mia.ID, "conflict of interest")
		refused(stage+": Max recuses Mia", err, policy.CaseRecuse)
		_, err = e.svc.AddMediator(ctx, max, c.ID, kim.ID)
		refused(stage+": Max adds Kim", err, policy.CaseAddMediator)
		_, err = e.svc.RemoveParticipant(ctx, max, c.ID, pat.ID)
		refused(stage+": Max takes Pat out", err, policy.CaseRemoveParticipant)
	}
	// No statement: Mia, the opener, is the confirmed one.
	tryAll("no statement")
	// A statement seating Mia alone.
	e.svc.Membership = seatedIn{mia.ID}
	tryAll("not admitted")

	e.svc.Membership = seatedIn{mia.ID, max.ID}
	e.svc.ForgetSeats(c.ID)
	if _, err := e.svc.AddMediator(ctx, max, c.ID, kim.ID); err != nil {
		t.Fatalf("the admitted co-mediator adds Kim: %v", err)
	}
	// Kim is on the record, not in the statement: unconfirmed at once.
	if _, err := e.svc.Recuse(ctx, kim, c.ID, max.ID, "conflict of interest"); !errors.Is(err, ErrUnconfirmed) {
		t.Fatalf("Kim, just added, recuses Max: %v", err)
	}
	// Withdrawing oneself needs no confirmation.
	if _, err := e.svc.Recuse(ctx, kim, c.ID, kim.ID, "conflict of interest"); err != nil {
		t.Fatalf("Kim withdraws: %v", err)
	}
	if _, err := e.svc.RemoveParticipant(ctx, max, c.ID, pat.ID); err != nil {
		t.Fatalf("the admitted co-mediator takes Pat out: %v", err)
	}
	if _, err := e.svc.Recuse(ctx, max, c.ID, mia.ID, "conflict of interest"); err != nil {
		t.Fatalf("the admitted co-mediator recuses Mia: %v", err)
	}
}

// TestAdmissionBeforeAnyStatement: before a case's first membership
// statement, its opener alone counts as confirmed (Admission): the
// mediator who created it, or, once they are gone, the one longest on it.
func TestAdmissionBeforeAnyStatement(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	c := e.newCase(t, mia, "Flat 5")
	got, err := e.svc.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil || len(got.Facts().Unconfirmed) != 0 {
		t.Fatalf("one mediator: %v, %v", got.Facts().Unconfirmed, err)
	}
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	if got, err = e.svc.Load(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil || !slices.Equal(got.Facts().Unconfirmed, []string{max.ID}) {
		t.Fatalf("two mediators, no statement: %v, %v", got.Facts().Unconfirmed, err)
	}
	if _, err := e.svc.Recuse(ctx, mia, c.ID, mia.ID, "conflict of interest"); err != nil {
		t.Fatal(err)
	}
	if got, err = e.svc.Load(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil || len(got.Facts().Unconfirmed) != 0 {
		t.Fatalf("Mia gone, Max the only mediator: %v, %v", got.Facts().Unconfirmed, err)
	}
}

// TestAdmissionOnceTheSeatedMediatorsLeft: in a signed case, once every
// mediator the statement seats has left (recused), nobody could confirm
// the active ones, so none is unconfirmed: the program's reassignment of
// an orphaned case (the assigned mediator reads what policy gives a
// mediator) works after the conversation was opened, as before it
// (review 360). A recused mediator is never counted as waiting.
func TestAdmissionOnceTheSeatedMediatorsLeft(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	c := e.newCase(t, mia, "Flat 6")
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	e.svc.Membership = seatedIn{mia.ID}
	got, err := e.svc.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil || !slices.Equal(got.Facts().Unconfirmed, []string{max.ID}) {
		t.Fatalf("Mia seated, Max not: %v, %v", got.Facts().Unconfirmed, err)
	}
	if _, err := e.svc.Recuse(ctx, mia, c.ID, mia.ID, "conflict of interest"); err != nil {
		t.Fatal(err)
	}
	e.svc.ForgetSeats(c.ID)
	if got, err = e.svc.Load(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil || len(got.Facts().Unconfirmed) != 0 {
		t.Fatalf("Mia recused, Max the only mediator, nobody left to confirm him: %v, %v", got.Facts().Unconfirmed, err)
	}
	// Seated Max, recused Mia unseated: Mia is not counted as waiting.
	e.svc.Membership = seatedIn{max.ID}
	e.svc.ForgetSeats(c.ID)
	if err := e.svc.Admission(ctx, got); err != nil || len(got.Facts().Unconfirmed) != 0 {
		t.Fatalf("recused Mia counted as waiting: %v, %v", got.Facts().Unconfirmed, err)
	}
}
