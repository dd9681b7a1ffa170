package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestBrowserTapTargets drives web/client/test/taptargets.mjs in Chromium
// at phone width (390 × 844): on the case's terms, the room (each of the
// party's rooms, with a session coming up and the agreement drafted), the
// sign-out question and the signed-out page, every visible button, link,
// input, select, textarea and checkbox-with-its-label is at least 44 × 44
// CSS px. Links inside a sentence are excepted, as WCAG 2.5.8 excepts them.
func TestBrowserTapTargets(t *testing.T) {
	needBrowser(t)
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, _, medC, k := tenancyCase(t, n)
	inv := inviteAda(t, medC, k)
	start := time.Now().Add(48 * time.Hour).UTC().Format("2006-01-02T15:04")
	if _, err := medC.AddSession(ctx, k.ID, api.NewSessionRequest{Start: start, TimeZone: "Europe/London", Minutes: 60}); err != nil {
		t.Fatal(err)
	}
	if _, err := medC.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); err != nil {
		t.Fatal(err)
	}
	browserScript{name: "taptargets.mjs", env: []string{"PARLEY_INVITE=" + inv.Link}}.run(t, n.URL)
}
