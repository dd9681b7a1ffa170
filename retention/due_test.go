package retention

import (
	"slices"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// TestDue: what falls due in the next days is listed, with its holds,
// before it is due; nothing further ahead; bounds are checked.
func TestDue(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: "evidence", Trigger: policy.TriggerCaseClosed, Days: 60}); err != nil {
			t.Fatal(err)
		}
		tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence, "other": vault.ClassEvidence})
		e.close(t, tc)
		if _, err := e.ret.HoldDocument(ctx, e.records, tc.id, tc.docs["exhibit"].ID, true, "Subpoena", "Order 2026-114"); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []int{0, -1, MaxDueDays + 1} {
			if _, err := e.ret.Due(ctx, e.records, bad); err == nil {
				t.Fatalf("days %d accepted", bad)
			} else if _, ok := fault.AsInvalid(err); !ok {
				t.Fatalf("days %d: %v", bad, err)
			}
		}
		r, err := e.ret.Due(ctx, e.records, 20)
		if err != nil || len(r.Items) != 0 {
			t.Fatalf("20 days ahead: %v %+v", err, r.Items)
		}
		r, err = e.ret.Due(ctx, e.records, 90)
		if err != nil {
			t.Fatal(err)
		}
		held, free := 0, 0
		for _, it := range r.Items {
			if it.Class == policy.ClassMessageHistory || slices.Contains(policy.CaseClasses(), it.Class) {
				continue // the case's other classes: their own defaults (30 days for invites and sessions)
			}
			if it.Class != "evidence" || it.Case != tc.id || it.DueAt.Before(e.clock.Add(59*24*time.Hour)) {
				t.Fatalf("unexpected item: %+v", it)
			}
			if len(it.Held) > 0 {
				held++
			} else {
				free++
			}
		}
		if held != 1 || free != 1 {
			t.Fatalf("90 days ahead: %d held, %d not: %+v", held, free, r.Items)
		}
		if _, err := e.ret.Due(ctx, e.party, 30); err == nil {
			t.Fatal("a party read what falls due")
		}
	})
}
