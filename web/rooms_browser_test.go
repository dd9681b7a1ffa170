package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserRooms drives web/client/test/rooms.mjs in Chromium: a
// mediator opens a room with the tenant, without the tenant's lawyer (who
// sees nothing of it and is refused it through the API); a room mixing
// sides is refused until it is declared cross-side, then both lawyers'
// banners say "cross-side" and name everyone in it; the mediator closes
// the first room after a confirmation naming who loses it (her browser
// cannot sign the closing at first: the page says the room is closed, its
// closing not signed yet, and signs it when she asks; her page's poll
// of the rooms asked before the closing and answered after it is dropped:
// it does not draw the list again over "Closed …"), and the tenant
// keeps reading it but can no longer write. In the open cross-side room a
// timer shows its countdown and a raised hand reaches the mediator; a
// notice to every room then reaches every open room (the page says how
// many) and leaves the closed one out; when one room refuses a notice
// (forged on the mediator's socket) the others still get it and the page
// names the room that did not; the same words sent again go only to that
// room (the Tenant caucus shows the notice once), while changed words are a
// new notice for every room. The test checks the openings and
// closing were audited.
func TestBrowserRooms(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invite := func(role, side, name string) string {
		inv, err := medC.Invite(ctx, k.ID, role, side, name, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return inv.Link
	}
	env := []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID,
		"PARLEY_INVITE_PARTY=" + invite("party", "A", "Ada Okafor"),
		"PARLEY_INVITE_COUNSEL_A=" + invite("counsel", "A", "Jordan Blake"),
		"PARLEY_INVITE_COUNSEL_B=" + invite("counsel", "B", "Sam Lindqvist")}
	browserScript{
		name: "rooms.mjs",
		env:  env,
		ask: map[string]func(string) (string, error){
			// "audited opened,opened,closed": the room events in the audit log, in order.
			"audited": func(want string) (string, error) {
				var got []string
				for i := range n.Audit.Size() {
					ev, err := n.Audit.Entry(ctx, i)
					if err != nil {
						return "", err
					}
					if ev.Case == k.ID && (ev.Type == "room.opened" || ev.Type == "room.closed") {
						got = append(got, strings.TrimPrefix(ev.Type, "room."))
					}
				}
				if strings.Join(got, ",") != want {
					return "", fmt.Errorf("audited room events %v, want %s", got, want)
				}
				return "", nil
			},
		},
		shots: []string{"rooms-open-form.png", "rooms-open-form-phone.png", "rooms-party.png", "rooms-party-phone.png",
			"rooms-counsel-cross.png", "rooms-counsel-cross-phone.png", "rooms-close-confirm.png", "rooms-close-unsigned.png", "rooms-close-unsigned-phone.png",
			"rooms-defined-timer.png", "rooms-defined-timer-phone.png", "rooms-notice.png", "rooms-notice-phone.png",
			"rooms-notice-failed.png", "rooms-notice-failed-phone.png"},
	}.run(t, n.URL)
}
