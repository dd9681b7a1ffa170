package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
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
