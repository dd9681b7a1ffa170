package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestFollowUpVerbs: the mediator sets check-ins on a closed case's
// agreement from the CLI (bad days are refused in one line), sees the
// links once, and `followup ls` shows each check-in's counts, the answered
// one counted after a party answers through its link.
func TestFollowUpVerbs(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	t.Setenv("PARLEY_CONFIG_DIR", t.TempDir())
	_, med := n.Staff(t, policy.RoleMediator, "fu-med@example.org")
	c, err := med.CreateCase(ctx, "CLI v. Follow-up", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	var party *client.Client
	for _, side := range []string{"A", "B"} {
		inv, err := med.Invite(ctx, c.ID, "party", side, "Party "+side, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		party = client.New(n.URL, "")
		if _, err := party.Join(ctx, inv.Link); err != nil {
			t.Fatal(err)
		}
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
	runFails := func(want int, args ...string) string {
		t.Helper()
		var code int
		stderr := captureStderr(t, func() { captureStdout(t, func() { code = run(ctx, args) }) })
		if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; code != want || lines != want {
			t.Fatalf("parley %s: exit %d (want %d), stderr %q", strings.Join(args, " "), code, want, stderr)
		}
		return stderr
	}
	actAs(t, n.URL, med)
	if out := runOK("followup", "ls", c.ID); !strings.Contains(out, "no follow-ups set") {
		t.Fatalf("ls before: %s", out)
	}
	// Still open: refused.
	if s := runFails(1, "followup", "set", c.ID, "--days", "30"); !strings.Contains(s, "closure") {
		t.Fatalf("open case: %s", s)
	}
	if _, err := med.CaseAction(ctx, c.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	if _, err := med.RecordOutcome(ctx, c.ID, "full-agreement", 2, 3); err != nil {
		t.Fatal(err)
	}
	runFails(2, "followup", "set", c.ID)
	runFails(2, "followup", "set", c.ID, "--days", "thirty")
	if s := runFails(1, "followup", "set", c.ID, "--days", "90,30"); !strings.Contains(s, "increasing") {
		t.Fatalf("decreasing days: %s", s)
	}
	// A one-day check-in opens at closure, so it can be answered now.
	var set api.FollowUpResponse
	if err := json.Unmarshal([]byte(runOK("followup", "set", c.ID, "--days", "1,30", "--json")), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Checkpoints) != 2 || set.Checkpoints[0].Issued != 2 || len(set.Links) != 4 {
		t.Fatalf("set: %+v", set)
	}
	if s := runFails(1, "followup", "set", c.ID, "--days", "60"); !strings.Contains(s, "already set") {
		t.Fatalf("second set: %s", s)
	}
	var token string
	for _, l := range set.Links {
		if l.Days == 1 {
			_, token, _ = strings.Cut(l.Link, "#")
			break
		}
	}
	if err := client.New(n.URL, "").Do(ctx, http.MethodPost, "/api/v1/checkins", api.CheckInRequest{Token: token, Answer: "honoured"}, nil); err != nil {
		t.Fatal(err)
	}
	out := runOK("followup", "ls", c.ID)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "ANSWERED") ||
		strings.Join(strings.Fields(lines[1]), " ") != "1 "+strings.Join(strings.Fields(set.Checkpoints[0].Due.Local().Format("2 Jan 2006")), " ")+" 2 0 0 0 1" ||
		!strings.HasSuffix(strings.Join(strings.Fields(lines[2]), " "), " 2 0 0 0 0") {
		t.Fatalf("ls:\n%s", out)
	}
	if strings.Contains(out, "http") || strings.Contains(out, "Party") {
		t.Fatalf("ls shows links or names:\n%s", out)
	}
	// A party may not list them.
	actAs(t, n.URL, party)
	runFails(1, "followup", "ls", c.ID)
}
