package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// stderrOf runs f and returns what it wrote to standard error.
func stderrOf(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan []byte)
	go func() {
		var b bytes.Buffer
		b.ReadFrom(r)
		done <- b.Bytes()
	}()
	f()
	os.Stderr = old
	w.Close()
	return string(<-done)
}

// TestTermsVerbs: a mediator sets a case's terms from a file; opening is
// refused in one line naming who has not accepted; a party without keys is
// told to make them; `accept` without --yes records nothing; with it the
// acceptance is signed and the mediator sees it; a disclosure is
// acknowledged with a signature.
func TestTermsVerbs(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, medC := n.Staff(t, policy.RoleMediator, "cli-terms@example.org")
	k, err := medC.CreateCase(ctx, "CLI terms", "tenancy", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	med := cliUser{t.TempDir(), medC, medAcct.ID}
	inv, _ := medC.Invite(ctx, k.ID, "party", "A", "Avery Tran", "", time.Hour)
	pc := client.New(n.URL, "")
	s, err := pc.Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	a := cliUser{t.TempDir(), pc, s.Account.ID}

	file := filepath.Join(t.TempDir(), "terms.txt")
	os.WriteFile(file, []byte("Our ground rules.\nWhat is said here stays here."), 0o600)
	// People are named in words: the side's label and the role, never
	// the side's id ("party A") or "counsel".
	if code, out := med.run(t, "", "case", "terms", "set", k.ID, "--file", file); code != 0 || !strings.Contains(out, "Avery Tran (Tenant): NOT YET") || strings.Contains(out, "party A") {
		t.Fatalf("terms set: %d %s", code, out)
	}
	var code int
	errOut := stderrOf(t, func() { code, _ = med.run(t, "", "case", "stage", k.ID, "opening") })
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "still to accept: Avery Tran (Tenant)") {
		t.Fatalf("opening refusal: %d %q", code, errOut)
	}
	errOut = stderrOf(t, func() { code, _ = a.run(t, "", "case", "terms", "accept", k.ID, "--yes") })
	if code != 1 || !strings.Contains(errOut, "parley keys init") {
		t.Fatalf("accept without keys: %d %q", code, errOut)
	}
	if code, out := a.run(t, "", "keys", "init"); code != 0 {
		t.Fatalf("keys init: %s", out)
	}
	if code, out := a.run(t, "", "case", "terms", "accept", k.ID); code != 0 || !strings.Contains(out, "What is said here stays here.") || !strings.Contains(out, "Nothing recorded") {
		t.Fatalf("accept without --yes: %d %s", code, out)
	}
	if code, out := med.run(t, "", "case", "terms", "show", k.ID); code != 0 || !strings.Contains(out, "NOT YET") {
		t.Fatalf("accept without --yes recorded something: %s", out)
	}
	if code, out := a.run(t, "", "case", "terms", "accept", k.ID, "--yes"); code != 0 || !strings.Contains(out, "Accepted version 1") {
		t.Fatalf("accept: %d %s", code, out)
	}
	if code, out := med.run(t, "", "case", "terms", "show", k.ID); code != 0 || !strings.Contains(out, "Avery Tran (Tenant): accepted") || strings.Contains(out, "party A") {
		t.Fatalf("terms show after accepting: %s", out)
	}
	if code, out := med.run(t, "", "case", "stage", k.ID, "opening"); code != 0 {
		t.Fatalf("opening after acceptance: %s", out)
	}
	c, err := medC.CaseAction(ctx, k.ID, "disclosures", map[string]string{"text": "I know the landlord's agent."})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := a.run(t, "", "case", "ack", k.ID, c.Disclosures[0].ID); code != 0 {
		t.Fatalf("ack: %s", out)
	}
	c, _ = medC.Case(ctx, k.ID)
	if acks := c.Disclosures[0].Acks; len(acks) != 1 || acks[0].Signed == nil {
		t.Fatalf("ack not signed: %+v", acks)
	}
}

// TestPersonWords: a participant is named with their side's label and
// their role in words, as the server and the browser name them.
func TestPersonWords(t *testing.T) {
	k := api.Case{Sides: []api.Side{{ID: "A", Label: "Tenant"}, {ID: "B", Label: "Landlord"}}}
	for _, tc := range []struct {
		name string
		role api.ParticipantRole
		side string
		want string
	}{
		{"Avery Tran", api.RoleParty, "A", "Avery Tran (Tenant)"},
		{"Jordan Blake", api.RoleCounsel, "B", "Jordan Blake (Landlord's lawyer)"},
		{"Sam Lee", api.RoleObserver, "", "Sam Lee (observer)"},
		{"Pat Doe", api.RoleParty, "Z", "Pat Doe (party)"},
	} {
		if got := personWords(k, tc.name, tc.role, tc.side); got != tc.want {
			t.Errorf("personWords(%s, %s, %s) = %q, want %q", tc.name, tc.role, tc.side, got, tc.want)
		}
	}
}
