package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
)

// TestRevokeSessionsFromCLI: `parley admin user revoke-sessions`, run as
// its own process on the store (a lost laptop), ends the account's
// sessions on both nodes and closes its open chat within a second of
// returning — the announcement crosses processes through Redis — while the
// parties' chats stay open.
func TestRevokeSessionsFromCLI(t *testing.T) {
	c := newCluster(t, 2)
	cv := startConversation(t, c)
	out := c.cli("", "admin", "user", "revoke-sessions", "--email", "med@example.org")
	done := time.Now()
	if !strings.Contains(out, "Revoked every session") {
		t.Fatalf("CLI said: %s", out)
	}
	deadline := time.After(time.Second)
	for closed := false; !closed; {
		select {
		case _, ok := <-cv.chats["mediator"].Events():
			closed = !ok
		case <-deadline:
			t.Fatalf("the revoked mediator's chat still open %v after the CLI returned", time.Since(done))
		}
	}
	if _, err := client.New(c.lb.URL, cv.tokens["mediator"]).Me(context.Background()); err == nil {
		t.Fatal("the revoked token still works")
	}
	if _, err := cv.chats["partyA"].Send(context.Background(), "caucus:A", "after-revoke", []byte("x")); err != nil {
		t.Fatalf("a party's chat after someone else's revocation: %v", err)
	}
}
