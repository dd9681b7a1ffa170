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

// TestCaseInviteWithdrawPicksOne: two unused invitations for one name on
// one side (the second made because the first went to a mistyped
// address) are told apart by `case invite list` — when each was made, to
// the second, and the address masked — and `case invite withdraw` without
// --made says so in one line naming both; with --made it withdraws that
// one only.
func TestCaseInviteWithdrawPicksOne(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, medC := n.Staff(t, policy.RoleMediator, "cli-withdraw-two@example.org")
	k, err := medC.CreateCase(ctx, "CLI withdraw two", "tenancy", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	med := cliUser{t.TempDir(), medC, medAcct.ID}
	wrong, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "lars@exampel.org", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	made, err := medC.PendingInvites(ctx, k.ID)
	if err != nil || len(made) != 1 {
		t.Fatalf("pending: %v %v", made, err)
	}
	// The second is made in a later second than the first (bounded: 3 s).
	for i := 0; i < 300 && time.Now().Unix() <= made[0].Created.Unix(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	right, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "lars@example.org", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := medC.PendingInvites(ctx, k.ID)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending: %v %v", pending, err)
	}
	first, second := madeHandle(pending[0]), madeHandle(pending[1])
	if first == second {
		t.Fatalf("both made at %s", first)
	}

	code, out := med.run(t, "", "case", "invite", "list", k.ID)
	if code != 0 || !strings.Contains(out, "made ") || !strings.Contains(out, first+" · until") || !strings.Contains(out, second+" · until") ||
		!strings.Contains(out, "emailed to l***@exampel.org") || !strings.Contains(out, "emailed to l***@example.org") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if strings.Contains(out, pending[0].ID) || strings.Contains(out, "lars@") {
		t.Fatalf("the list shows an id or a whole address:\n%s", out)
	}

	out = stderrOf(t, func() { code, _ = med.run(t, "", "case", "invite", "withdraw", k.ID, "--name", "Lars Lindqvist") })
	if code != 1 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "say which with --made") ||
		!strings.Contains(out, first+" (to l***@exampel.org)") || !strings.Contains(out, second+" (to l***@example.org)") {
		t.Fatalf("withdraw, two of that name: %d\n%s", code, out)
	}

	code, out = med.run(t, "", "case", "invite", "withdraw", k.ID, "--name", "Lars Lindqvist", "--made", first)
	if code != 0 || !strings.Contains(out, "Withdrawn: the link sent to Lars Lindqvist no longer works") {
		t.Fatalf("withdraw --made %s: %d\n%s", first, code, out)
	}
	if _, err := client.New(n.URL, "").Join(ctx, wrong.Link); err == nil {
		t.Fatal("the withdrawn link joined")
	}
	if _, err := client.New(n.URL, "").Join(ctx, right.Link); err != nil {
		t.Fatalf("the other invitation was withdrawn too: %v", err)
	}
}
