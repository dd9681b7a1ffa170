package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserRevocationPins drives web/client/test/revpins.mjs in
// Chromium, on the page's own key-directory check (SecureCase.refresh):
// a revocation the page verified stays pinned, and an answer that leaves
// it out (party B's revoked device active again) is refused in plain
// words, by that page and a fresh one of the same profile; and two
// overlapping checks, the first held while the log grows, leave the
// larger log and the newcomer's first device pinned, whichever ends
// last; and a check whose devices request the server never answers is
// given up after the page's bound (set to 3 s there), in plain words, and
// the checks asked meanwhile and after pass. "ask revoke": B's device (a Go client) revokes itself, answering
// "account device"; "ask grow": a new participant of side B joins and
// registers a device, answering their account.
func TestBrowserRevocationPins(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	join := func(name string) (*client.E2EE, string, error) {
		inv, err := medC.Invite(ctx, k.ID, "party", "B", name, "", time.Hour)
		if err != nil {
			return nil, "", err
		}
		c := client.New(n.URL, "")
		s, err := c.Join(ctx, inv.Link)
		if err != nil {
			return nil, "", err
		}
		dir := t.TempDir()
		if _, err := client.InitDevice(dir, s.Account.ID, e2ee.KEMX25519); err != nil {
			return nil, "", err
		}
		x, err := c.E2EE(dir)
		if err != nil {
			return nil, "", err
		}
		return x, s.Account.ID, x.Register(ctx)
	}
	bx, bAccount, err := join("Lars Lindqvist")
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "revpins.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"revoke": func(string) (string, error) {
				return fmt.Sprintf("%s %s", bAccount, bx.Me.ID), bx.Revoke(ctx, bx.Me.ID)
			},
			"grow": func(string) (string, error) {
				_, acct, err := join("Kim Lindqvist")
				return acct, err
			},
		},
	}.run(t, n.URL)
}
