package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserBannerNamesSignedReaders drives
// web/client/test/signedreaders.mjs in Chromium: the server marks the
// mediator recused in the case record but never seals the rooms, so the
// signed membership still gives the mediator every key. Party A's
// "Visible to" lines and safety numbers must still name the mediator:
// what the screens say about who reads a room may add to the signed
// statement in force but never leave one of its members out
// (docs/protocol.md, "Names and Visible to come from the case record").
func TestBrowserBannerNamesSignedReaders(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, medAcct, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	browserScript{
		name: "signedreaders.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"unsealed": func(string) (string, error) {
				now := time.Now()
				_, err := metastore.Update(ctx, n.Meta, "cases/"+k.ID+"/case", func(c *cases.Case) error {
					for i := range c.Mediators {
						if c.Mediators[i].AccountID == medAcct.ID {
							c.Mediators[i].Recused = &now
						}
					}
					return nil
				})
				return "", err
			},
		},
		shots: []string{"signed-readers-phone.png"},
	}.run(t, n.URL)
}
