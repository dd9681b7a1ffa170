package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/policy"
)

// TestAdminSeatIndex: `parley admin seat-index` indexes the seats stored
// without index entries (as a node of the release before the index makes
// them, in a rolling upgrade) and then writes the marker; before it a
// request for an emailed sign-in link reads every record, after it the
// index, and both find the two seats sharing an address (no link). Run
// again, it says there is nothing to do. Embedded and scale mode.
func TestAdminSeatIndex(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { adminSeatIndexTest(t, embeddedRotationEnv(t)) })
	t.Run("scale", func(t *testing.T) { adminSeatIndexTest(t, scaleRotationEnv(t)) })
}

func adminSeatIndexTest(t *testing.T, env rotationEnv) {
	ctx := context.Background()
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := kms.GenerateMasterKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	env.cfg.Command = true
	n, err := env.open(t, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	med, err := n.Accounts.Create(ctx, account.NewAccount{Email: "med@example.org", Name: "Mia Mediator", Role: policy.RoleMediator, Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.Cases.Create(ctx, med, cases.NewCase{Title: "Family v. Family", Type: "family", SideLabels: []string{"A", "B"}})
	if err != nil {
		t.Fatal(err)
	}
	const family = "family@example.org"
	var parties []string
	for _, side := range []string{"A", "B"} {
		inv, err := n.Cases.CreateInvite(ctx, med, c.ID, cases.NewInvite{Role: cases.RoleParty, Side: side, Name: "Pat " + side, Email: family})
		if err != nil {
			t.Fatal(err)
		}
		j, err := n.Cases.Join(ctx, inv.Token)
		if err != nil {
			t.Fatal(err)
		}
		parties = append(parties, j.Account.ID)
	}
	if _, err := n.Accounts.ConfirmParticipantEmail(ctx, parties[0], family); err != nil {
		t.Fatal(err)
	}
	// The seats as a node of the release before makes them: no entries.
	var entries []string
	if err := n.Meta.List(ctx, cases.SeatIndexPrefix, func(key string) error { entries = append(entries, key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range entries {
		if err := n.Meta.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	ask := func(when string) {
		t.Helper()
		if _, ans, err := n.Cases.IssueSignInLink(ctx, family); ans != cases.SignInShared || err != nil {
			t.Fatalf("%s: the shared address: answer %v, %v; want shared", when, ans, err)
		}
	}
	if done, err := n.Cases.SeatIndexComplete(ctx); done || err != nil {
		t.Fatalf("marker before the verb: %v, %v", done, err)
	}
	ask("before the verb (every record)")
	runVerb := func() string {
		t.Helper()
		var code int
		args := append([]string{"admin", "seat-index", "--master-key-file", keyFile}, env.flags...)
		out := captureStdout(t, func() { code = run(ctx, args) })
		if code != 0 {
			t.Fatalf("parley admin seat-index: exit %d\n%s", code, out)
		}
		return out
	}
	n.Close()
	if out := runVerb(); !strings.Contains(out, "Indexed every seat") {
		t.Fatalf("first run: %q", out)
	}
	if n, err = env.open(t, keyFile); err != nil {
		t.Fatal(err)
	}
	if done, err := n.Cases.SeatIndexComplete(ctx); !done || err != nil {
		t.Fatalf("marker after the verb: %v, %v", done, err)
	}
	var after []string
	if err := n.Meta.List(ctx, cases.SeatIndexPrefix, func(key string) error { after = append(after, key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(after) != 4 {
		t.Fatalf("%d entries after the verb, want the two seats' (each an invitation's and a participant's)", len(after))
	}
	ask("after the verb (the index)")
	// In embedded mode the verb does not run beside another node.
	n.Close()
	if out := runVerb(); !strings.Contains(out, "already complete") {
		t.Fatalf("second run: %q", out)
	}
}
