package web_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserSealPagedPastStillSigns drives
// web/client/test/e2ee-seal-held.mjs (review 408): the mediator's page,
// whose seal frames are held back while A's lawyer joins, pages the rooms
// past the seal before an end-to-end encrypted upload; once the frames
// arrive, its device must still sign the new epoch. "ask statements"
// counts the case's membership statements.
func TestBrowserSealPagedPastStillSigns(t *testing.T) {
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
		name: "e2ee-seal-held.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_INVITE_COUNSEL_A=" + invCounsel.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"statements": func(string) (string, error) {
				var v api.Proven
				if err := medC.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.ID+"/e2ee/statements", nil, &v); err != nil {
					return "", err
				}
				return fmt.Sprint(len(v.Statements)), nil
			},
		},
	}.run(t, n.URL)
}
