package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserFloor drives web/client/test/floor.mjs in Chromium: a timed
// caucus shows its countdown to its party (and nothing to the other side),
// and "Time is up" at the end; a notice from the mediator reaches the joint
// room and both caucuses, read by each party; a raised hand reaches the
// mediator's list with the room and how long, and comes down when the
// mediator writes there; a speaking turn shows on every page, the other
// side's composer says whose turn it is, and a message sent out of turn is
// marked for everyone. "ask timer-soon ROOM" sets a timer ending in a few
// seconds; "ask hands" is the number of hands the server holds.
func TestBrowserFloor(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, medAcct, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	invB, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "floor.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_INVITE_B=" + invB.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"timer-soon": func(room string) (string, error) {
				_, err := medC.SetTimer(ctx, k.ID, room, api.TimerRequest{EndsAt: time.Now().Add(3 * time.Second).UnixMilli()})
				return "", err
			},
			"hands": func(string) (string, error) {
				v, err := n.Floor.View(ctx, medAcct, k.ID)
				return fmt.Sprint(len(v.Hands)), err
			},
		},
		shots: []string{"floor-party-timer.png", "floor-party-timer-phone.png", "floor-mediator.png", "floor-mediator-phone.png",
			"floor-notice.png", "floor-notice-phone.png", "floor-turn.png", "floor-turn-phone.png"},
	}.run(t, n.URL)
}
