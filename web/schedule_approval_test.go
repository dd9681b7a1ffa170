package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// setRuleApproved sets a schedule rule as rec and, when it shortens a
// period (so waits for a second person), has rec2 approve it.
func setRuleApproved(t *testing.T, rec, rec2 *client.Client, class, trigger, period string) {
	t.Helper()
	ctx := context.Background()
	res, err := rec.SetScheduleRule(ctx, class, trigger, period)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending != nil {
		if _, err := rec2.ApproveScheduleChange(ctx, res.Pending.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// TestScheduleShorteningOverHTTP: over the API, a 0d period comes back
// with a warning and as a pending change, the schedule in force is
// unchanged; its proposer's approval is refused (403 problem), a mediator
// neither lists nor approves it, and another records clerk's approval
// puts it in force.
func TestScheduleShorteningOverHTTP(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, rec := n.Staff(t, policy.RoleRecords, "rita@example.org")
	_, rec2 := n.Staff(t, policy.RoleRecords, "rob@example.org")
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	res, err := rec.SetScheduleRule(ctx, "agreement", "case-closed", "0d")
	if err != nil || res.Pending == nil || res.Version != 0 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "0d") {
		t.Fatalf("set: %v %+v", err, res)
	}
	status := func(err error) int {
		var ce *client.Error
		if errors.As(err, &ce) {
			return ce.Status
		}
		return 0
	}
	if _, err := rec.ApproveScheduleChange(ctx, res.Pending.ID); status(err) != http.StatusForbidden {
		t.Fatalf("proposer approved: %v", err)
	}
	if _, err := med.ApproveScheduleChange(ctx, res.Pending.ID); status(err) != http.StatusForbidden {
		t.Fatalf("mediator approved: %v", err)
	}
	if _, err := med.ScheduleChanges(ctx); status(err) != http.StatusForbidden {
		t.Fatalf("mediator listed: %v", err)
	}
	if _, err := rec2.ApproveScheduleChange(ctx, "sc_nosuchchange"); status(err) != http.StatusNotFound {
		t.Fatalf("unknown change: %v", err)
	}
	l, err := rec2.ScheduleChanges(ctx)
	if err != nil || len(l) != 1 || l[0].State != "pending" {
		t.Fatalf("changes: %v %+v", err, l)
	}
	if s, _ := rec.Schedule(ctx); s.Version != 0 {
		t.Fatalf("in force before approval: %+v", s)
	}
	c, err := rec2.ApproveScheduleChange(ctx, res.Pending.ID)
	if err != nil || c.State != "approved" || c.Version != 1 {
		t.Fatalf("approve: %v %+v", err, c)
	}
	s, err := rec.Schedule(ctx)
	if err != nil || s.Version != 1 {
		t.Fatalf("after approval: %v %+v", err, s)
	}
	// Lengthening is in force at once, with no warning.
	res, err = rec.SetScheduleRule(ctx, "agreement", "case-closed", "7y")
	if err != nil || res.Pending != nil || res.Version != 2 || len(res.Warnings) != 0 {
		t.Fatalf("lengthen: %v %+v", err, res)
	}
}
