package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserDocShareConsent drives web/client/test/docshare.mjs in
// Chromium: the Tenant party adds a document to her caucus; the mediator's
// share of it to the joint room offers only to ask the Tenant side (and
// the server refuses the share itself); the party reads the request in
// words naming the document and who would see it, and allows it after a
// confirmation that says it cannot be undone; the mediator's page says it
// was allowed, the share goes through, and the Landlord party's joint room
// lists the document. A second request is declined, and the mediator's
// page says so. A third document moved to the mediators only is still the
// Tenant side's: its share to the joint room offers only to ask, and the
// Tenant party is asked. axe runs on each new screen.
func TestBrowserDocShareConsent(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	invB, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "docshare.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_INVITE_B=" + invB.Link, "PARLEY_CASE=" + k.ID},
		shots: []string{"docshare-ask.png", "docshare-ask-phone.png", "docshare-party.png", "docshare-party-phone.png",
			"docshare-party-confirm.png", "docshare-party-confirm-phone.png", "docshare-mediator.png", "docshare-mediator-phone.png"},
	}.run(t, n.URL)
}
