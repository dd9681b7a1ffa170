package web_test

import (
	"context"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserCoMediatorDoesNotOpen drives web/client/test/opener.mjs in
// Chromium: Sam Lee, added as a co-mediator before anyone opened the
// case's conversation, signs in first; Sam's page signs no first
// statement (only the case's opener, Morgan who created it, may:
// api.Opener) and says Morgan opens it, in plain words. Before, Sam's
// page signed the first statement, seating Sam alone.
func TestBrowserCoMediatorDoesNotOpen(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	email := "sam-" + ids.New("x")[2:10] + "@browser.test"
	co, err := n.Accounts.Create(ctx, account.NewAccount{Email: email, Name: "Sam Lee", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := medC.CaseAction(ctx, k.ID, "mediators", map[string]string{"accountId": co.ID}); err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "opener.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_COMEDIATOR_EMAIL=" + email,
			"PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID},
	}.run(t, n.URL)
	if _, signed, err := n.KeyDir.SeatedMediators(ctx, k.ID); err != nil || !signed {
		t.Errorf("Morgan's page signed no first statement (%v)", err)
	}
	if seated, _, _ := n.KeyDir.SeatedMediators(ctx, k.ID); len(seated) != 1 || seated[0] == co.ID {
		t.Errorf("seated after both pages opened: %v; want Morgan alone", seated)
	}
}
