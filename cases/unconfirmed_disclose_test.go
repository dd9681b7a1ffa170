package cases

import (
	"errors"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// TestUnconfirmedMediatorMakesNoDisclosure: a co-mediator on the record
// whom no seated mediator has confirmed makes no conflict disclosure (the
// parties would read it and be asked to acknowledge it: text put in front
// of them by whoever holds such an account), before the case's first
// statement and after it: refused, audited as access.denied naming the
// action and the rule, in words that say what they wait for and name no
// rule, and the record keeps the disclosures it had. Once admitted they
// disclose; withdrawing themselves stays open meanwhile.
func TestUnconfirmedMediatorMakesNoDisclosure(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	sam := e.stored(t, policy.RoleMediator, "sam@example.org", nil)
	c := e.newCase(t, mia, "Flat 12")
	e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.Disclose(ctx, mia, c.ID, "I once rented from side B's agent"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{max.ID, sam.ID} {
		if _, err := e.svc.AddMediator(ctx, mia, c.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, stage := range []string{"no statement", "not admitted"} {
		if stage == "not admitted" {
			e.svc.Membership = seatedIn{mia.ID}
			e.svc.ForgetSeats(c.ID)
		}
		_, err := e.svc.Disclose(ctx, max, c.ID, "Please call me on this number before the session")
		if !errors.Is(err, ErrUnconfirmed) || !errors.Is(err, fault.ErrForbidden) || strings.Contains(err.Error(), "unconfirmed-mediators") ||
			!strings.Contains(err.Error(), "you can make a disclosure in this case once") {
			t.Fatalf("%s: Max discloses: %v", stage, err)
		}
		if stage == "not admitted" && !strings.Contains(err.Error(), "once a mediator already in this case has confirmed you as a co-mediator") {
			t.Fatalf("%s: the words: %v", stage, err)
		}
		ev := e.lastEntry(t)
		if ev.Type != "access.denied" || ev.Actor != max.ID || ev.Case != c.ID || ev.Attrs["action"] != string(policy.CaseDisclose) || ev.Attrs["rule"] != RuleUnconfirmedRecord {
			t.Fatalf("%s: audited as %+v", stage, ev)
		}
		if got, err := e.svc.Load(ctx, c.ID); err != nil || len(got.Disclosures) != 1 || got.Disclosures[0].Mediator != mia.ID {
			t.Fatalf("%s: the disclosures after Max's refusal: %+v, %v", stage, got.Disclosures, err)
		}
	}
	// Sam, waiting too, withdraws from the case.
	if _, err := e.svc.Recuse(ctx, sam, c.ID, sam.ID, "not my case"); err != nil {
		t.Fatalf("the waiting mediator withdraws: %v", err)
	}

	e.svc.Membership = seatedIn{mia.ID, max.ID}
	e.svc.ForgetSeats(c.ID)
	got, err := e.svc.Disclose(ctx, max, c.ID, "I know side A's lawyer from university")
	if err != nil || len(got.Disclosures) != 2 || got.Disclosures[1].Mediator != max.ID {
		t.Fatalf("the admitted co-mediator discloses: %+v, %v", got, err)
	}
}
