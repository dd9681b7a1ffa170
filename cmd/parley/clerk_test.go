package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
)

// TestRetentionPlanDates: a plan dated tomorrow is refused in words (never
// quietly made as of today); today's date with nothing due makes no plan
// and says "nothing is due on <date>"; a plan not carried out is discarded.
func TestRetentionPlanDates(t *testing.T) {
	ctx := context.Background()
	n := nodetest.Embedded(t)
	t.Setenv("PARLEY_CONFIG_DIR", t.TempDir())
	_, rec := n.Staff(t, policy.RoleRecords, "rita@example.org")
	actAs(t, n.URL, rec)
	run1 := func(want int, args ...string) (string, string) {
		t.Helper()
		var code int
		var out string
		stderr := captureStderr(t, func() { out = captureStdout(t, func() { code = run(ctx, args) }) })
		if code != want {
			t.Fatalf("parley %s: exit %d (want %d)\n%s%s", strings.Join(args, " "), code, want, out, stderr)
		}
		return out, stderr
	}
	today := time.Now().UTC()
	tomorrow := today.Add(24 * time.Hour).Format(time.DateOnly)
	if _, e := run1(1, "retention", "plan", "--as-of", tomorrow); !strings.Contains(e, tomorrow+" is in the future") || !strings.Contains(e, "no plan was made") {
		t.Fatalf("future plan: %q", e)
	}
	if _, e := run1(1, "retention", "plan", "--as-of", today.Format(time.DateOnly)); !strings.Contains(e, "nothing is due on "+today.Format(time.DateOnly)) {
		t.Fatalf("empty plan: %q", e)
	}
	var ps []retention.Plan
	if err := rec.Do(ctx, "GET", "/api/v1/retention/plans", nil, &ps); err != nil || len(ps) != 0 {
		t.Fatalf("a plan was made: %v %+v", err, ps)
	}

	// Something due: a closed case's notes under a 0-day period.
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	c, err := med.CreateCaseWith(ctx, api.CreateCaseRequest{Title: "Rivera v. Chen", Type: "family", Sides: []string{"A", "B"}, Reference: "2026-cv-0142"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := med.UploadDocument(ctx, c.ID, client.Upload{Name: "notes.txt", MediaType: "text/plain",
		Audience: "mediators", Class: "mediator-notes", Body: strings.NewReader("CANARY notes"), Size: 12}); err != nil {
		t.Fatal(err)
	}
	// Shortening is warned about and waits for a second person.
	out0, e := run1(0, "retention", "schedule", "set", "mediator-notes", "--trigger", "case-closed", "--period", "0d")
	if !strings.Contains(out0, "mediator-notes records kept 0d after case-closed instead of 30d after case-closed") ||
		!strings.Contains(out0, "not in force until another records clerk or administrator approves it") ||
		!strings.Contains(e, "a period of 0d makes mediator-notes records due as soon as their clock starts") {
		t.Fatalf("shortening the period gave no warning:\n%s%s", out0, e)
	}
	changes, err := rec.ScheduleChanges(ctx)
	if err != nil || len(changes) != 1 {
		t.Fatalf("changes: %v %+v", err, changes)
	}
	_, rec2 := n.Staff(t, policy.RoleRecords, "rob@example.org")
	if _, err := rec2.ApproveScheduleChange(ctx, changes[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := med.CaseAction(ctx, c.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	if out, _ := run1(0, "retention", "due", "--days", "90"); !strings.Contains(out, "2026-CV-0142") || !strings.Contains(out, "mediator-notes") || !strings.Contains(out, "(due now)") {
		t.Fatalf("retention due:\n%s", out)
	}
	if _, e := run1(1, "retention", "due", "--days", "0"); !strings.Contains(e, "days") {
		t.Fatalf("days 0: %q", e)
	}
	var p retention.Plan
	out, _ := run1(0, "retention", "plan", "--json")
	var planned struct {
		Plan retention.Plan `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &planned); err != nil {
		t.Fatal(err)
	}
	p = planned.Plan
	if out, _ := run1(0, "retention", "discard", p.ID); !strings.Contains(out, "Discarded plan "+p.ID) {
		t.Fatalf("discard: %s", out)
	}
	if _, e := run1(1, "retention", "apply", p.ID); !strings.Contains(e, "discarded") {
		t.Fatalf("apply a discarded plan: %q", e)
	}
	// A clerk holds the case by its reference; hold ls names it.
	run1(0, "hold", "place", "--case", "2026-cv-0142", "--reason", "Complaint received", "--authority", "Program rule 12")
	if out, _ := run1(0, "hold", "ls", "--case", "2026-CV-0142"); !strings.Contains(out, c.ID) || !strings.Contains(out, "2026-CV-0142") || !strings.Contains(out, "Program rule 12") {
		t.Fatalf("hold ls by reference:\n%s", out)
	}
	if _, e := run1(1, "hold", "ls", "--case", "2026-CV-9999"); !strings.Contains(e, `no case you may see has the reference "2026-CV-9999"`) {
		t.Fatalf("unknown reference: %q", e)
	}
}
