package retention

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// TestNothingDueMakesNoPlan: with nothing due, MakePlan answers "nothing is
// due on <date>" and stores no plan.
func TestNothingDueMakesNoPlan(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes}) // open: nothing due
		_, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		ie, ok := fault.AsInvalid(err)
		if !ok || !strings.Contains(ie.Detail, "nothing is due on "+e.clock.Format(time.DateOnly)) {
			t.Fatalf("empty plan: %v", err)
		}
		if ps, err := e.ret.Plans(ctx, e.records); err != nil || len(ps) != 0 {
			t.Fatalf("plans after an empty one was refused: %v %+v", err, ps)
		}
		// All that is due is held: nothing to destroy, so no plan either.
		tc := e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes})
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: string(vault.ClassMediatorNotes), Trigger: policy.TriggerCaseClosed, Days: 0}); err != nil {
			t.Fatal(err)
		}
		e.close(t, tc)
		if _, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Complaint", Authority: "Rule 12"}); err != nil {
			t.Fatal(err)
		}
		e.clock = time.Now().UTC().Add(time.Minute)
		_, err = e.ret.MakePlan(ctx, e.records, time.Time{})
		if ie, ok := fault.AsInvalid(err); !ok || !strings.Contains(ie.Detail, "(1 would be, but are on legal hold)") {
			t.Fatalf("a plan of held records only: %v", err)
		}
	})
}

// TestDiscardPlan: a plan not carried out (planned, or approved) can be
// discarded, audited; it is then no longer listed, cannot be approved or
// applied, and its pages are gone. A plan once started cannot be.
func TestDiscardPlan(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		e.scenario(t)
		planned, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		approved, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, e.records2, approved.ID); err != nil {
			t.Fatal(err)
		}
		for _, p := range []Plan{planned, approved} {
			before := e.log.Size()
			d, err := e.ret.Discard(ctx, e.records2, p.ID)
			if err != nil || d.State != StateDiscarded {
				t.Fatalf("discard %s: %v %+v", p.State, err, d)
			}
			ev, err := e.log.Entry(ctx, before)
			if err != nil || ev.Type != "retention.discard" || ev.Actor != e.records2.ID || ev.Objects[0] != p.ID {
				t.Fatalf("discard not audited: %v %+v", err, ev)
			}
			if _, err := e.approve(ctx, e.admin, p.ID); !errors.Is(err, fault.ErrConflict) {
				t.Fatalf("approve after discard: %v", err)
			}
			if _, err := e.ret.Apply(ctx, e.admin, p.ID); !errors.Is(err, fault.ErrConflict) {
				t.Fatalf("apply after discard: %v", err)
			}
			if _, err := e.ret.Discard(ctx, e.records, p.ID); !errors.Is(err, fault.ErrConflict) {
				t.Fatalf("second discard: %v", err)
			}
			if _, err := e.ret.PlanPage(ctx, e.records, p.ID, 0); err == nil {
				t.Fatal("a discarded plan's records are still served")
			}
			var pg page
			if _, err := e.meta.Get(ctx, pageKey(p.ID, 0), &pg); !errors.Is(err, metastore.ErrNotFound) {
				t.Fatalf("page 0 of a discarded plan is still there: %v", err)
			}
		}
		if ps, err := e.ret.Plans(ctx, e.records); err != nil || len(ps) != 0 {
			t.Fatalf("discarded plans still listed: %v %+v", err, ps)
		}
		// A plan being carried out cannot be discarded.
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Apply(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Discard(ctx, e.records, p.ID); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("discard while applying: %v", err)
		}
		if ps, _ := e.ret.Plans(ctx, e.records); len(ps) != 1 {
			t.Fatalf("plans: %+v", ps)
		}
	})
}
