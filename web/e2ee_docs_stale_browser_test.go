package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserE2EEDocumentStaleStream drives
// web/client/test/e2ee-docs-stale.mjs (review 404 M2): party A's page,
// whose WebSocket passes nothing after A's lawyer is removed (so it never
// hears of the caucus's seal) and with no mediator's device open to sign
// the removal, uploads a document encrypted for the Tenant caucus: refused
// in plain words and nothing stored, not wrapped under the statement that
// still names the lawyer's device. "ask remove NAME" takes a participant
// out of the case; "ask docs" counts the case's documents.
func TestBrowserE2EEDocumentStaleStream(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	invCounsel, err := medC.Invite(ctx, k.ID, "counsel", "A", "Jordan Blake", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "e2ee-docs-stale.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_INVITE_COUNSEL_A=" + invCounsel.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"remove": func(name string) (string, error) {
				c, err := medC.Case(ctx, k.ID)
				if err != nil {
					return "", err
				}
				for _, p := range c.Participants {
					if p.Name == name {
						_, err := medC.RemoveParticipant(ctx, k.ID, p.AccountID)
						return "", err
					}
				}
				return "", fmt.Errorf("no participant %q", name)
			},
			"docs": func(string) (string, error) {
				list, err := medC.Documents(ctx, k.ID)
				return fmt.Sprint(len(list)), err
			},
		},
	}.run(t, n.URL)
}
