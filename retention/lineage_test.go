package retention

import (
	"errors"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// Independence is weighed on control, not on the stored lineage alone.
// Administrator a1 makes records account r1 and administrator b; b resets
// the password of c, an administrator the operator made (c had made d
// before). One person holding a1 holds r1, b, c and d: none of b, c, d
// approves r1's shortening of the schedule nor r1's plan to transfer a
// case to a key r1 holds.
func TestLaunderedApproverApprovesNoRetention(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		a1 := e.newStaff(t, policy.RoleAdmin, nil)
		r1 := e.newStaff(t, policy.RoleRecords, &a1)
		b := e.newStaff(t, policy.RoleAdmin, &a1)
		c := e.newStaff(t, policy.RoleAdmin, nil)
		d := e.newStaff(t, policy.RoleAdmin, &c)
		if _, _, err := e.accounts.ResetPassword(ctx, c.ID, b.ID, nil); err != nil {
			t.Fatal(err)
		}
		laundered := map[string]account.Account{}
		for name, x := range map[string]account.Account{"b": b, "c (reset by b)": c, "d (made by c)": d} {
			got, err := e.accounts.Get(ctx, x.ID)
			if err != nil {
				t.Fatal(err)
			}
			laundered[name] = got
		}
		_, p, _ := e.planTransferToPlanner(t, r1, laundered)
		if got, err := e.approve(ctx, e.admin, p.ID); err != nil || got.State != StateApproved {
			t.Fatalf("independent approval: %v %+v", err, got)
		}
	})
}

// planTransferToPlanner is where both lineage tests (this one and
// TestApproverIndependentOfPlannerLineage) start. Records account r1
// shortens every case class's rule to 30 days after closing: each
// shortening is refused to every account in refused, then approved by
// e.records2. A case with one exhibit is closed and a month passes; r1
// draws up a plan and chooses to transfer the case to a key r1 holds, and
// every account in refused is refused that plan's approval. It returns
// the case, the plan (still planned) and the key.
func (e *env) planTransferToPlanner(t *testing.T, r1 account.Account, refused map[string]account.Account) (*testCase, Plan, *age.X25519Identity) {
	t.Helper()
	ctx := t.Context()
	shortened := 0
	for _, class := range append(policy.CaseClasses(), "evidence") {
		res, err := e.ret.SetRule(ctx, r1, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30})
		if err != nil {
			t.Fatalf("%s: %v", class, err)
		}
		if res.Pending == nil {
			continue // already 30 days: nothing shortened
		}
		shortened++
		for name, who := range refused {
			if _, _, err := e.ret.ApproveScheduleChange(ctx, who, res.Pending.ID); !errors.Is(err, fault.ErrForbidden) {
				t.Fatalf("%s approved r1's shortening of %s: %v", name, class, err)
			}
		}
		if _, _, err := e.ret.ApproveScheduleChange(ctx, e.records2, res.Pending.ID); err != nil {
			t.Fatalf("independent approval of %s: %v", class, err)
		}
	}
	if shortened == 0 {
		t.Fatal("no rule was shortened")
	}
	tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
	e.close(t, tc)
	e.clock = e.clock.Add(month)
	p, err := e.ret.MakePlan(ctx, r1, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	id := mustIdentity(t)
	if _, err := e.ret.Choose(ctx, r1, p.ID, ChooseAction{Case: tc.id, Kind: ActionTransfer,
		Recipient: id.Recipient().String(), RecipientName: "r1's own key"}); err != nil {
		t.Fatal(err)
	}
	for name, who := range refused {
		if _, err := e.approve(ctx, who, p.ID); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("%s approved r1's plan: %v", name, err)
		}
	}
	return tc, p, id
}
