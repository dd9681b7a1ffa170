package web_test

import (
	"context"
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestBrowserTermsRefused drives web/client/test/terms-refused.mjs in
// Chromium: when the case's terms are not saved, the mediator's panel says
// why in plain words — terms too long or empty (never the server's "text:
// at most 20000 characters of text"; the box takes at most the server's
// limit), the store not answering (no doubled full stop; the text stays),
// and a mediator recused meanwhile (never the policy action's name or the
// case's id: review M3).
func TestBrowserTermsRefused(t *testing.T) {
	needBrowser(t)
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	browserScript{
		name: "terms-refused.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			// The mediator recuses herself, as from another browser.
			"recuse": func(string) (string, error) {
				_, err := medC.CaseAction(ctx, k.ID, "recusals", map[string]string{"reason": "I know the landlord"})
				return "", err
			},
		},
		shots: []string{"terms-refused.png", "terms-refused-phone.png"},
	}.run(t, n.URL)
}
