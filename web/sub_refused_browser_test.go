package web_test

import (
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserSubscribeRefusedAskedAgain drives
// web/client/test/sub-refused.mjs in Chromium: a subscribe the server
// answered "could not subscribe; try again" (an error frame that refuses
// a "sub") is sent again on the same connection and the room follows;
// one refused every time ends, after five tries, in a notice in plain
// words that the room is not updating, with a Reload button, which goes
// once a reconnection subscribes the room. Before, the
// page dropped the refusal (it names no message) and the room stayed
// silent on that connection until a reconnect.
func TestBrowserSubscribeRefusedAskedAgain(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	medEmail, _, _, k := tenancyCase(t, n)
	browserScript{
		name:  "sub-refused.mjs",
		env:   []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID},
		shots: []string{"room-stalled.png", "room-stalled-phone.png"},
	}.run(t, n.URL)
}
