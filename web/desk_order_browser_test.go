package web_test

import (
	"context"
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestBrowserDeskOrder drives web/client/test/desk-order.mjs in Chromium:
// on the case desk, writes whose answers are held in the browser while the
// mediator goes on. Two invitations (the first's invited list reaches the
// page after the second's, and must not take the second off it); one write
// at a time (an objective waits while a disclosure is saved); an objective
// saved after the case was opened again is shown; a refusal after the case
// was drawn again is said in the desk's status area; and a second, closed
// case's outcome answered while the first is on screen puts its survey
// links under neither the wrong case nor nowhere.
func TestBrowserDeskOrder(t *testing.T) {
	needBrowser(t)
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medEmail, _, med, k := tenancyCase(t, n)
	const closedTitle = "Haddad v. Brooks — fence"
	closed, err := med.CreateCase(ctx, closedTitle, "neighbour", "self", []string{"North", "South"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := med.CaseAction(ctx, closed.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "desk-order.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID,
			"PARLEY_TITLE=" + k.Title, "PARLEY_CLOSED=" + closed.ID, "PARLEY_CLOSED_TITLE=" + closedTitle},
		shots: []string{"desk-refusal-note.png", "desk-refusal-note-phone.png"},
	}.run(t, n.URL)
}
