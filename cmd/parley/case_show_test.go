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

// TestCaseShowNamesPeople: `case show` names the case's people in words,
// as the server and the browser do ("Avery Tran (Tenant)", "Jordan
// Blake (Landlord's lawyer)", "Sam Lee (observer)", "... (mediator)"),
// never by role and side id ("party A") or account id; --json keeps the
// account ids and side ids for scripts.
func TestCaseShowNamesPeople(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, medC := n.Staff(t, policy.RoleMediator, "cli-show@example.org")
	k, err := medC.CreateCase(ctx, "CLI show", "tenancy", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	med := cliUser{t.TempDir(), medC, medAcct.ID}
	var ids []string
	for _, p := range []struct{ role, side, name string }{
		{"party", "A", "Avery Tran"}, {"counsel", "B", "Jordan Blake"}, {"observer", "", "Sam Lee"},
	} {
		inv, err := medC.Invite(ctx, k.ID, p.role, p.side, p.name, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s, err := client.New(n.URL, "").Join(ctx, inv.Link)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.Account.ID)
	}
	code, out := med.run(t, "", "case", "show", k.ID)
	if code != 0 {
		t.Fatalf("case show: %d\n%s", code, out)
	}
	for _, want := range []string{"Avery Tran (Tenant)", "Jordan Blake (Landlord's lawyer)", "Sam Lee (observer)", medAcct.Name + " (mediator)"} {
		if !strings.Contains(out, want) {
			t.Errorf("case show lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range append([]string{"party A", "counsel", medAcct.ID}, ids...) {
		if strings.Contains(out, bad) {
			t.Errorf("case show says %q:\n%s", bad, out)
		}
	}
	code, out = med.run(t, "", "case", "show", k.ID, "--json")
	if code != 0 {
		t.Fatalf("case show --json: %d\n%s", code, out)
	}
	for _, id := range append(ids, medAcct.ID) {
		if !strings.Contains(out, id) {
			t.Errorf("case show --json lacks account %s:\n%s", id, out)
		}
	}
}
