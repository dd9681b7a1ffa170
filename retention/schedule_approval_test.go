package retention

import (
	"context"
	"errors"
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// setRule sets a rule as records staff, and, when the change shortens a
// period, has a second records clerk approve it: the rule is in force
// when it returns.
func (e *env) setRule(ctx context.Context, r policy.RetentionRule) (RuleResult, error) {
	res, err := e.ret.SetRule(ctx, e.records, r)
	if err != nil || res.Pending == nil {
		return res, err
	}
	_, st, err := e.ret.ApproveScheduleChange(ctx, e.records2, res.Pending.ID)
	return RuleResult{StoredSchedule: st, Warnings: res.Warnings}, err
}

// TestScheduleShorteningNeedsSecondPerson: a change that shortens a
// period (or changes the trigger) is only proposed; the schedule in force
// is unchanged until another records clerk or admin approves it, never
// its own proposer; lengthening takes effect at once; a zero period is
// warned about; every step is audited.
func TestScheduleShorteningNeedsSecondPerson(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		lastAudit := func() audit.Event {
			t.Helper()
			ev, err := e.log.Entry(ctx, e.log.Size()-1)
			if err != nil {
				t.Fatal(err)
			}
			return ev
		}
		// Shortening agreement from 6y to 0d: proposed, not in force.
		res, err := e.ret.SetRule(ctx, e.records, policy.RetentionRule{Class: "agreement", Trigger: policy.TriggerCaseClosed, Days: 0})
		if err != nil || res.Pending == nil || res.Version != 0 || len(res.Warnings) != 1 || len(res.Pending.Warnings) != 1 {
			t.Fatalf("shorten: %v %+v", err, res)
		}
		if ev := lastAudit(); ev.Type != "retention.schedule.propose" || ev.Attrs["days"] != "0" || ev.Attrs["wasDays"] != "2190" || ev.Actor != e.records.ID {
			t.Fatalf("audit: %+v", ev)
		}
		if cur, _ := e.ret.Schedule(ctx, e.records); cur.Version != 0 {
			t.Fatalf("a proposal is in force: %+v", cur)
		}
		pending, err := e.ret.ScheduleChanges(ctx, e.admin)
		if err != nil || len(pending) != 1 || pending[0].State != ChangePending || pending[0].Was.Days != 6*365 {
			t.Fatalf("changes: %v %+v", err, pending)
		}
		if _, err := e.ret.ScheduleChanges(ctx, e.mediator); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("mediator lists changes: %v", err)
		}
		// Neither its proposer nor a mediator approves it.
		for _, who := range []struct {
			name string
			err  func() error
		}{
			{"proposer", func() error { _, _, err := e.ret.ApproveScheduleChange(ctx, e.records, res.Pending.ID); return err }},
			{"mediator", func() error { _, _, err := e.ret.ApproveScheduleChange(ctx, e.mediator, res.Pending.ID); return err }},
		} {
			if err := who.err(); !errors.Is(err, fault.ErrForbidden) {
				t.Fatalf("%s approved: %v", who.name, err)
			}
		}
		if cur, _ := e.ret.Schedule(ctx, e.records); cur.Version != 0 {
			t.Fatalf("refused approval changed the schedule: %+v", cur)
		}
		// Another records clerk approves: in force, as version 1.
		c, st, err := e.ret.ApproveScheduleChange(ctx, e.records2, res.Pending.ID)
		if err != nil || c.State != ChangeApproved || c.Version != 1 || c.Approved == nil || c.Approved.By != e.records2.ID || st.Version != 1 {
			t.Fatalf("approve: %v %+v %+v", err, c, st)
		}
		if r, _ := st.Rule("agreement"); r.Days != 0 {
			t.Fatalf("rule: %+v", r)
		}
		if ev := lastAudit(); ev.Type != "retention.schedule.set" || ev.Actor != e.records2.ID || ev.Attrs["proposedBy"] != e.records.ID || ev.Attrs["short"] != "true" {
			t.Fatalf("audit: %+v", ev)
		}
		if _, _, err := e.ret.ApproveScheduleChange(ctx, e.admin, res.Pending.ID); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("approved twice: %v", err)
		}
		// Lengthening needs nobody else.
		res, err = e.ret.SetRule(ctx, e.records, policy.RetentionRule{Class: "agreement", Trigger: policy.TriggerCaseClosed, Days: 7 * 365})
		if err != nil || res.Pending != nil || res.Version != 2 || len(res.Warnings) != 0 {
			t.Fatalf("lengthen: %v %+v", err, res)
		}
		// A changed trigger counts as shortening.
		res, err = e.ret.SetRule(ctx, e.admin, policy.RetentionRule{Class: "agreement", Trigger: policy.TriggerCreated, Days: 8 * 365})
		if err != nil || res.Pending == nil || res.Version != 2 {
			t.Fatalf("trigger: %v %+v", err, res)
		}
		// The class changes before anyone approves: withdrawn, not applied.
		if _, err := e.ret.SetRule(ctx, e.records, policy.RetentionRule{Class: "agreement", Trigger: policy.TriggerCaseClosed, Days: 9 * 365}); err != nil {
			t.Fatal(err)
		}
		c, _, err = e.ret.ApproveScheduleChange(ctx, e.records, res.Pending.ID)
		if !errors.Is(err, fault.ErrConflict) || c.State != ChangeWithdrawn {
			t.Fatalf("stale change: %v %+v", err, c)
		}
		if cur, _ := e.ret.Schedule(ctx, e.records); cur.Version != 3 {
			t.Fatalf("stale change applied: %+v", cur)
		}
	})
}
