package web_test

import (
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserTooManyTabs drives web/client/test/too-many-tabs.mjs in
// Chromium against a node that lets one sign-in hold a single case socket
// (--ws-per-session 1, so that a second tab is past the limit): the tab
// whose connection the server refuses (close 4029) says in plain words
// that Parley is open in too many tabs and to close some and press
// Reconnect, with no code or id, and it connects once the other tab is
// closed and Reconnect pressed.
func TestBrowserTooManyTabs(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WebSocketsPerSession: 1})
	medEmail, _, _, k := tenancyCase(t, n)
	browserScript{
		name:  "too-many-tabs.mjs",
		env:   []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID},
		shots: []string{"too-many-tabs.png", "too-many-tabs-phone.png"},
	}.run(t, n.URL)
}
