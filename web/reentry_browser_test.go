package web_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserReentry drives web/client/test/reentry.mjs in Chromium: a
// party joins and reads the mediator's welcome; the test clock moves eight
// days on, so the party's session has ended and the party is told in plain
// words how to come back; the mediator issues a link back in from the
// people list; the party opens it in the same browser and is back in the
// same account, with the welcome still readable; opening the used link
// again while signed in goes to the case; signing out shows how to come
// back, never an email and password form.
func TestBrowserReentry(t *testing.T) {
	needBrowser(t)
	// The clock of sessions and links: real time until the test moves it.
	var ahead atomic.Int64
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(),
		Clock: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	var joinedAs string
	participants := func() ([]string, error) {
		c, err := n.Cases.Load(ctx, k.ID)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, p := range c.Participants {
			out = append(out, p.AccountID)
		}
		return out, nil
	}
	browserScript{
		name: "reentry.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_INVITE=" + inv.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"joined": func(string) (string, error) {
				ps, err := participants()
				if err != nil || len(ps) != 1 {
					return "", fmt.Errorf("after joining: participants %v, %v", ps, err)
				}
				joinedAs = ps[0]
				return "", nil
			},
			// Eight days on: past the seven-day idle window.
			"expire": func(string) (string, error) {
				ahead.Store(int64(8 * 24 * time.Hour))
				return "", nil
			},
			// Another party joins (while the mediator's page shows a link).
			"another": func(string) (string, error) {
				if _, err := medC.Login(ctx, medEmail, nodetest.Password); err != nil { // its session ended with the clock's eight days
					return "", err
				}
				inv, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
				if err != nil {
					return "", err
				}
				_, err = client.New(n.URL, "").Join(ctx, inv.Link)
				return "", err
			},
			"same": func(me string) (string, error) {
				ps, err := participants()
				if err != nil || len(ps) != 2 || ps[0] != joinedAs || me != joinedAs {
					return "", fmt.Errorf("after re-entry the party is %s; participants %v (%v); the account that joined was %s", me, ps, err, joinedAs)
				}
				return "", nil
			},
		},
		shots: []string{"reentry-ended.png", "reentry-ended-phone.png", "reentry-mediator.png", "reentry-mediator-phone.png", "reentry-back.png", "reentry-signed-out-phone.png", "signout-confirm.png", "signout-confirm-phone.png"},
	}.run(t, n.URL)
}
