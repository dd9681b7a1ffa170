package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestCaseInviteWithdraw: `case invite withdraw <case> --name NAME`
// withdraws the unused invitation of that name: its link is refused
// after. No such invitation, or one already used, is one line of words
// (no ids, no policy names), exit 1.
func TestCaseInviteWithdraw(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, medC := n.Staff(t, policy.RoleMediator, "cli-withdraw@example.org")
	k, err := medC.CreateCase(ctx, "CLI withdraw", "tenancy", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	med := cliUser{t.TempDir(), medC, medAcct.ID}
	inv, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	code, out := med.run(t, "", "case", "invite", "withdraw", k.ID, "--name", "lars lindqvist")
	if code != 0 || !strings.Contains(out, "Withdrawn: the link sent to Lars Lindqvist no longer works") {
		t.Fatalf("withdraw: %d\n%s", code, out)
	}
	if _, err := client.New(n.URL, "").Join(ctx, inv.Link); err == nil {
		t.Fatal("the withdrawn link joined")
	}
	out = stderrOf(t, func() { code, _ = med.run(t, "", "case", "invite", "withdraw", k.ID, "--name", "Lars Lindqvist") })
	if code != 1 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "no unused invitation for") {
		t.Fatalf("withdrawing again: %d\n%s", code, out)
	}
	if strings.Contains(out, k.ID+"/") || strings.Contains(out, "case.invite") {
		t.Fatalf("the error names internals: %s", out)
	}
}
