package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserStatementRetry drives web/client/test/statement-retry.mjs in
// Chromium: a mediator's page is open when a party joins, and its POSTs of
// the membership statement that admits the party are answered 503 twice
// (route interception), then let through. The page tries again by itself
// (secure.ts signLater): the party's first message reaches the mediator,
// neither page shows a raw error or any error at all, the mediator is told
// in plain words who is now admitted, and the latest statement the server
// stores has the party in it.
func TestBrowserStatementRetry(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, med, medC, k := tenancyCase(t, n)
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "statement-retry.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_INVITE=" + inv.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			// The latest statement the key directory stores names the party.
			"admitted": func(string) (string, error) {
				c, err := n.Cases.Load(ctx, k.ID)
				if err != nil {
					return "", err
				}
				if len(c.Participants) != 1 {
					return "", fmt.Errorf("participants %v", c.Participants)
				}
				p, err := n.KeyDir.Statements(ctx, med, k.ID, 0)
				if err != nil {
					return "", err
				}
				if len(p.Statements) < 2 {
					return "", fmt.Errorf("%d statements stored; want the first and the one admitting the party", len(p.Statements))
				}
				st, err := e2ee.DecodeStatement(p.Statements[len(p.Statements)-1].Record)
				if err != nil {
					return "", err
				}
				for _, q := range st.People {
					if q.Account == c.Participants[0].AccountID {
						return "", nil
					}
				}
				return "", fmt.Errorf("the latest statement (%d) does not name the party: %v", st.Seq, st.People)
			},
		},
	}.run(t, n.URL)
}
