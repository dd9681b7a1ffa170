package web_test

import (
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestBrowserSessionsOrder drives web/client/test/sessions-order.mjs in
// Chromium: the mediator schedules two sessions one after the other, and
// the list the sessions screen reads after the first reaches the page only
// after the second's list is on the screen; the old list must not take the
// second session off the screen. A scheduling refused after a session moved
// meanwhile was listed has its refusal shown above the list; while it is
// sent, the form's button is off, in the form drawn again too.
func TestBrowserSessionsOrder(t *testing.T) {
	needBrowser(t)
	n := nodetest.Embedded(t)
	medEmail, _, _, k := tenancyCase(t, n)
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format("2006-01-02T15:04") }
	browserScript{
		name: "sessions-order.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID,
			"PARLEY_START_1=" + at(48*time.Hour), "PARLEY_START_2=" + at(72*time.Hour), "PARLEY_START_3=" + at(96*time.Hour)},
	}.run(t, n.URL)
}
