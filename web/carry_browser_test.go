package web_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserCarry drives web/client/test/carry.mjs in Chromium: a party
// is welcomed once (keyboard-dismissable, shown again on request); a
// party's caucus message is proposed for the joint room, the party edits
// and approves it, and the mediator's view follows without a reload and
// says it was edited, while the other side reads only the edited text;
// another carry is declined, and the mediator sees that live; the server
// then holds one consented and one declined carry record ("ask carries");
// at phone width the audience select fits and the composer is reachable.
func TestBrowserCarry(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	invB, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// carries reads the case's carry records as the server stores them:
	// each one's state, sorted ("consented", "declined", "proposed").
	carries := func() (string, error) {
		var states []string
		err := n.Meta.List(ctx, "keydir/carries/"+k.ID+"/", func(key string) error {
			var cr keydir.Carry
			if _, err := n.Meta.Get(ctx, key, &cr); err != nil {
				return err
			}
			switch {
			case cr.Consented != nil && cr.Declined != nil:
				states = append(states, "both")
			case cr.Consented != nil:
				states = append(states, "consented")
			case cr.Declined != nil:
				states = append(states, "declined")
			default:
				states = append(states, "proposed")
			}
			return nil
		})
		sort.Strings(states)
		return strings.Join(states, " "), err
	}
	browserScript{
		name: "carry.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_INVITE_B=" + invB.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"carries": func(string) (string, error) { return carries() },
		},
		shots: []string{"welcome-party.png", "welcome-party-phone.png", "carry-party.png", "carry-party-phone.png",
			"carry-mediator.png", "carry-mediator-phone.png", "carry-mediator-first-screen-phone.png"},
	}.run(t, n.URL)
}
