package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestProposalVerbs: a recusal proposed with the CLI takes effect only when
// a second, independent person approves it; `case show` then tells the
// participant in plain words; a direct recusal by an administrator is
// refused in one line.
func TestProposalVerbs(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	t.Setenv("PARLEY_CONFIG_DIR", t.TempDir())
	medAcct, med := n.Staff(t, policy.RoleMediator, "morgan@example.org")
	_, adminA := n.Staff(t, policy.RoleAdmin, "a@example.org")
	_, adminB := n.Staff(t, policy.RoleAdmin, "b@example.org")
	c, err := med.CreateCase(ctx, "Proposals v. CLI", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	link, err := med.Invite(ctx, c.ID, "party", "A", "Pat", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	runOK := func(args ...string) string {
		t.Helper()
		var code int
		out := captureStdout(t, func() { code = run(ctx, args) })
		if code != 0 {
			t.Fatalf("parley %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	runFails := func(args ...string) string {
		t.Helper()
		var code int
		stderr := captureStderr(t, func() { captureStdout(t, func() { code = run(ctx, args) }) })
		if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Fatalf("parley %s: exit %d, stderr %q", strings.Join(args, " "), code, stderr)
		}
		return stderr
	}

	// Pat joins before the recusal: after it, the invite the recused
	// mediator made no longer works (cases TestLinksDieWithTheirMakersAccess).
	runOK("join", link.Link)
	pat, err := loadSession()
	if err != nil {
		t.Fatal(err)
	}

	actAs(t, n.URL, adminA)
	runFails("case", "recuse", c.ID, "--mediator", medAcct.ID, "--reason", "conflict")
	var p api.Proposal
	if err := json.Unmarshal([]byte(runOK("case", "recusal", "propose", c.ID, "--mediator", medAcct.ID, "--reason", "Unreachable for six weeks", "--json")), &p); err != nil {
		t.Fatal(err)
	}
	runFails("case", "recusal", "approve", c.ID, p.ID)
	if out := runOK("case", "proposals"); !strings.Contains(out, p.ID) || !strings.Contains(out, "pending") || strings.Contains(out, "Proposals v. CLI") {
		t.Fatalf("case proposals:\n%s", out)
	}
	actAs(t, n.URL, adminB)
	runFails("case", "assign", "approve", c.ID, p.ID) // a recusal, not an assignment
	if out := runOK("case", "recusal", "approve", c.ID, p.ID); !strings.Contains(out, "recused") {
		t.Fatalf("approve:\n%s", out)
	}
	if out := runOK("case", "proposals"); !strings.Contains(out, "No proposals.") {
		t.Fatalf("pending after approval:\n%s", out)
	}
	if err := saveSession(pat); err != nil {
		t.Fatal(err)
	}
	out := runOK("case", "show", c.ID)
	if !strings.Contains(out, "The program recused mediator "+medAcct.Name+" on ") || !strings.Contains(out, "Reason: Unreachable for six weeks") {
		t.Fatalf("case show to the party:\n%s", out)
	}
}

// TestLapsedAssignmentSaysWhy: an approved assignment whose nominee the
// proposer took during the notice period (approving a reset of its
// password another administrator asked for) lapses; `case proposals`
// shows it lapsed and says why in plain words.
func TestLapsedAssignmentSaysWhy(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	t.Setenv("PARLEY_CONFIG_DIR", t.TempDir())
	now := time.Now()
	var mu sync.Mutex
	n.Cases.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	_, med := n.Staff(t, policy.RoleMediator, "morgan@example.org")
	_, adminA := n.Staff(t, policy.RoleAdmin, "a@example.org")
	_, adminB := n.Staff(t, policy.RoleAdmin, "b@example.org")
	_, adminC := n.Staff(t, policy.RoleAdmin, "c@example.org")
	nominee, _ := n.Staff(t, policy.RoleMediator, "jordan@example.org")
	c, err := med.CreateCase(ctx, "Lapse v. CLI", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	link, err := med.Invite(ctx, c.ID, "party", "A", "Pat", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pat := client.New(n.URL, "")
	if _, err := pat.Join(ctx, link.Link); err != nil {
		t.Fatal(err)
	}
	if _, err := med.CaseAction(ctx, c.ID, "recusals", map[string]string{"reason": "I know a party"}); err != nil {
		t.Fatal(err)
	}
	var p api.Proposal
	if err := adminA.Do(ctx, http.MethodPost, "/api/v1/cases/"+c.ID+"/assignment-proposals", api.AssignmentProposalRequest{AccountID: nominee.ID}, &p); err != nil {
		t.Fatal(err)
	}
	if err := adminB.Do(ctx, http.MethodPost, "/api/v1/cases/"+c.ID+"/proposals/"+p.ID+"/approve", api.ProposalDecisionRequest{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := adminC.ResetPassword(ctx, nominee.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := adminA.ApproveReset(ctx, nominee.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(73 * time.Hour)
	mu.Unlock()
	if _, err := pat.Case(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	actAs(t, n.URL, adminB)
	var code int
	out := captureStdout(t, func() { code = run(ctx, []string{"case", "proposals", c.ID}) })
	if code != 0 || !strings.Contains(out, "lapsed") || !strings.Contains(out, "could sign in as the nominee") || strings.Contains(out, "Lapse v. CLI") {
		t.Fatalf("case proposals after the lapse: exit %d\n%s", code, out)
	}
}
