package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserForget drives web/client/test/forget.mjs in Chromium: a party
// joins (so this browser has device keys, pins and chain keys); a plain
// sign-out deletes decrypted documents' temporary files at once (a
// crashed tab's leftovers included) and keeps the keys; back in by a link
// back in, "Sign out and forget this browser" asks in plain words, then
// signs out and leaves no IndexedDB database, no OPFS entry and nothing in
// localStorage or sessionStorage, and does not revoke the device in the
// key directory (checked here, on the server: a revoked device's
// document-key wraps stop opening for everyone); a page opened with no
// session deletes a crashed tab's decrypted files too; and with another
// account's keys in the same browser (a family computer), forgetting
// deletes the party's own and keeps the other's.
func TestBrowserForget(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	party := func() (string, error) {
		c, err := n.Cases.Load(ctx, k.ID)
		if err != nil {
			return "", err
		}
		if len(c.Participants) != 1 {
			return "", fmt.Errorf("participants %v", c.Participants)
		}
		return c.Participants[0].AccountID, nil
	}
	// devices answers how many devices the party has and how many of them are revoked.
	devices := func() (int, int, error) {
		id, err := party()
		if err != nil {
			return 0, 0, err
		}
		acct, err := n.Accounts.Get(ctx, id)
		if err != nil {
			return 0, 0, err
		}
		p, err := n.KeyDir.MyDevices(ctx, acct, 0)
		if err != nil {
			return 0, 0, err
		}
		revoked := map[string]bool{}
		for _, l := range p.Revocations {
			v, err := e2ee.DecodeRevocation(l.Record)
			if err != nil {
				return 0, 0, err
			}
			revoked[v.Device] = true
		}
		return len(p.Devices), len(revoked), nil
	}
	browserScript{
		name: "forget.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_INVITE=" + inv.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			// A link back in for the party (as the mediator's people list makes).
			"link": func(string) (string, error) {
				id, err := party()
				if err != nil {
					return "", err
				}
				r, err := medC.Reentry(ctx, k.ID, id, time.Hour)
				return r.Link, err
			},
			// The party's one device is registered and not revoked.
			"active": func(string) (string, error) {
				d, r, err := devices()
				if err != nil || d != 1 || r != 0 {
					return "", fmt.Errorf("the party has %d devices, %d revoked (%v); want 1, none revoked", d, r, err)
				}
				return "", nil
			},
		},
		shots: []string{"forget-offer-phone.png", "forget-confirm.png", "forget-confirm-phone.png", "forget-confirm-phone-end.png", "forget-done.png", "forget-done-phone.png"},
	}.run(t, n.URL)
}

// TestBrowserSignOutUnreached drives web/client/test/signout-unreached.mjs
// in Chromium: a party's sign-out, then their "Sign out and forget this
// browser", whose DELETE /api/v1/session never reaches the server (the
// connection drops). Each time the page stays, without the case on it,
// and says in plain words that they are not signed out yet and that
// anyone using this browser can open their mediation until they are
// (their session is indeed still valid); a server that answers but
// cannot end the session (503) gets the same page, in its own plain
// words; forgetting deletes this browser's keys all the same. Pressing Sign out again once the
// connection is back signs out; after forgetting, coming back online
// signs out by itself. Before, the failure was swallowed and the page
// said "You are signed out" while the session stayed in the browser.
func TestBrowserSignOutUnreached(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "signout-unreached.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_INVITE=" + inv.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			// A link back in for the party (as the mediator's people list makes).
			"link": func(string) (string, error) {
				c, err := n.Cases.Load(ctx, k.ID)
				if err != nil {
					return "", err
				}
				if len(c.Participants) != 1 {
					return "", fmt.Errorf("participants %v", c.Participants)
				}
				r, err := medC.Reentry(ctx, k.ID, c.Participants[0].AccountID, time.Hour)
				return r.Link, err
			},
		},
		shots: []string{"signout-unreached.png", "signout-unreached-phone.png", "forget-unreached.png", "forget-unreached-phone.png"},
	}.run(t, n.URL)
}
