package web_test

import (
	"context"
	"testing"
	"time"

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
// links under neither the wrong case nor nowhere. Then, with a third case
// whose invited list holds Bea Norland: an objective answered after that
// case was visited and the first opened again (before its own read) draws
// the first case without Bea and its own invited list read after; a
// withdrawal answered under the other case is said in a note there, not
// drawn into its list; making an invitation is one at a time (its button
// disabled, leaving the page asks) and its link, ready while the other
// case is open, is pointed to there; the link box goes once that
// invitation is withdrawn; and a refusal quoting what was written is shown
// under its own case only (a pointer elsewhere).
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
	const otherTitle = "Moreno v. Ashby — wages"
	other, err := med.CreateCase(ctx, otherTitle, "workplace", "self", []string{"Staff", "Manager"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := med.Invite(ctx, other.ID, "party", "A", "Bea Norland", "bea.norland@example.org", time.Hour); err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "desk-order.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID,
			"PARLEY_TITLE=" + k.Title, "PARLEY_CLOSED=" + closed.ID, "PARLEY_CLOSED_TITLE=" + closedTitle,
			"PARLEY_OTHER=" + other.ID, "PARLEY_OTHER_TITLE=" + otherTitle},
		shots: []string{"desk-refusal-note.png", "desk-refusal-note-phone.png", "desk-note-pointer.png"},
	}.run(t, n.URL)
}
