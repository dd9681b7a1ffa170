package cases

import (
	"errors"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// Independence is weighed on control, not on the stored lineage alone.
// Administrator A makes administrator B; B resets the password of C, an
// administrator the operator made (C had made D before). One person
// holding A now holds B, C and D: none of them approves A's recusal of a
// mediator nor A's assignment of a new one to the orphaned case, and a
// mediator whose password B reset is no nominee of A's.
func TestLaunderedAdminApprovesNoProposal(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := e.stored(t, policy.RoleMediator, "med@example.org", nil)
	a := e.stored(t, policy.RoleAdmin, "a@example.org", nil)
	b := e.stored(t, policy.RoleAdmin, "b@example.org", &a)
	c := e.stored(t, policy.RoleAdmin, "c@example.org", nil)
	d := e.stored(t, policy.RoleAdmin, "d@example.org", &c)
	honest := e.stored(t, policy.RoleAdmin, "honest@example.org", nil)
	nominee := e.stored(t, policy.RoleMediator, "nominee@example.org", nil)
	held := e.stored(t, policy.RoleMediator, "held@example.org", nil)
	if _, _, err := e.accounts.ResetPassword(ctx, c.ID, b.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.accounts.ApproveReset(ctx, held.ID, "", b.ID, nil); err == nil {
		t.Fatal("approved a reset nobody requested")
	}
	if _, err := e.accounts.RequestReset(ctx, held.ID, honest.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.accounts.ApproveReset(ctx, held.ID, honest.ID, b.ID, nil); err != nil {
		t.Fatal(err)
	}
	// The actors as the web layer has them: read afresh.
	fresh := func(x account.Account) account.Account {
		got, err := e.accounts.Get(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	laundered := map[string]account.Account{"B": fresh(b), "C (reset by B)": fresh(c), "D (made by C)": fresh(d)}

	cs := e.newCase(t, med, "laundered")
	p, err := e.svc.ProposeRecusal(ctx, a, cs.ID, med.ID, "a party objected")
	if err != nil {
		t.Fatal(err)
	}
	for name, who := range laundered {
		_, err := e.svc.ApproveProposal(ctx, who, cs.ID, p.ID, ProposeRecusal)
		if !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("%s approved A's recusal: %v", name, err)
		}
	}
	if _, err := e.svc.ApproveProposal(ctx, honest, cs.ID, p.ID, ProposeRecusal); err != nil {
		t.Fatalf("independent approval of the recusal: %v", err)
	}

	// The case is orphaned: A proposes a new mediator.
	if _, err := e.svc.ProposeAssignment(ctx, a, cs.ID, held.ID, ""); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("A nominated a mediator whose password B reset: %v", err)
	}
	q, err := e.svc.ProposeAssignment(ctx, a, cs.ID, nominee.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, who := range laundered {
		_, err := e.svc.ApproveProposal(ctx, who, cs.ID, q.ID, ProposeAssignment)
		if !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("%s approved A's assignment: %v", name, err)
		}
	}
	if _, err := e.svc.ApproveProposal(ctx, honest, cs.ID, q.ID, ProposeAssignment); err != nil {
		t.Fatalf("independent approval of the assignment: %v", err)
	}
}
