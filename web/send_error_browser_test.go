package web_test

import (
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserSendErrorRedrawn drives web/client/test/send-error.mjs in
// Chromium: a message whose sending fails after its room was drawn again
// (the composer it was sent from is gone) says "Not sent" in plain words
// in the composer on the page, and the words typed are still there; one
// the server did not store this time goes again by itself; one too long
// for the others' screens is refused before sending; an agreement comment
// and a notice the server never confirms say they may or may not have
// arrived (not "Not sent … reload", nor "could not be sent"); and a page whose
// person the server took out of the case says so in place of its rooms.
func TestBrowserSendErrorRedrawn(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	medEmail, _, _, k := tenancyCase(t, n)
	browserScript{
		name: "send-error.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID},
	}.run(t, n.URL)
}
