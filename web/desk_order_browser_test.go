package web_test

import (
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestBrowserDeskOrder drives web/client/test/desk-order.mjs in Chromium:
// on the case desk, the mediator makes two invitations, then adds two
// objectives, one right after the other; the answer to the first of each
// pair reaches the page only after the second's result is on the screen,
// and must not take the second off it.
func TestBrowserDeskOrder(t *testing.T) {
	needBrowser(t)
	n := nodetest.Embedded(t)
	medEmail, _, _, k := tenancyCase(t, n)
	browserScript{
		name: "desk-order.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID},
	}.run(t, n.URL)
}
