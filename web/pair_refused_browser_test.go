package web_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/web"
)

// TestBrowserPairRefused drives web/client/test/pair-refused.mjs in
// Chromium: adding a device when the server refuses a step. A party's
// second browser enters a wrong code (refused by the server); the first
// browser's "Add a device" is answered 503 (route interception), and so
// once is its "The numbers match: add the device". Each refusal is said
// in plain words (the last one: press the button again — not reload the
// page, which would lose the pairing), and the pressed button can be
// pressed again; pressed again, the device is added (the server has two
// devices for the party, the second endorsed). Once added, "Add a device"
// can be pressed again; with as many pairings open as the server allows,
// it is refused in words for people, and can still be pressed again.
func TestBrowserPairRefused(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	_, _, medC, k := tenancyCase(t, n)
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Alex Rivera", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	party := func() (account.Account, error) {
		c, err := n.Cases.Load(ctx, k.ID)
		if err != nil {
			return account.Account{}, err
		}
		if len(c.Participants) != 1 {
			return account.Account{}, fmt.Errorf("participants %v", c.Participants)
		}
		return n.Accounts.Get(ctx, c.Participants[0].AccountID)
	}
	browserScript{
		name: "pair-refused.mjs",
		env:  []string{"PARLEY_INVITE=" + inv.Link, "PARLEY_SESSION_COOKIE=" + web.SessionCookie},
		ask: map[string]func(string) (string, error){
			// A session for the party's second browser (as a link back in makes).
			"session": func(string) (string, error) {
				acct, err := party()
				if err != nil {
					return "", err
				}
				token, _, err := n.Accounts.NewSession(ctx, acct)
				return token, err
			},
			// The party has two devices, one endorsed by the other, none revoked.
			"linked": func(string) (string, error) {
				acct, err := party()
				if err != nil {
					return "", err
				}
				p, err := n.KeyDir.MyDevices(ctx, acct, 0)
				if err != nil {
					return "", err
				}
				if len(p.Devices) != 2 || len(p.Endorsements) != 1 || len(p.Revocations) != 0 {
					return "", fmt.Errorf("the party has %d devices, %d endorsements, %d revocations; want 2, 1, 0", len(p.Devices), len(p.Endorsements), len(p.Revocations))
				}
				return "", nil
			},
			// Pairings for the party are opened until the server refuses one
			// (too many open at once).
			"fill": func(string) (string, error) {
				acct, err := party()
				if err != nil {
					return "", err
				}
				p, err := n.KeyDir.MyDevices(ctx, acct, 0)
				if err != nil || len(p.Devices) == 0 {
					return "", fmt.Errorf("the party's devices: %v", err)
				}
				rec, err := e2ee.DecodeDeviceRecord(p.Devices[0].Record)
				if err != nil {
					return "", err
				}
				for i := 0; i < 10; i++ {
					if _, err := n.KeyDir.StartPairing(ctx, acct, rec.ID); errors.Is(err, fault.ErrConflict) && i > 0 {
						return "", nil
					} else if err != nil {
						return "", err
					}
				}
				return "", errors.New("the server opened 10 pairings at once")
			},
		},
		shots: []string{"pair-refused.png", "pair-refused-phone.png", "pair-too-many.png", "pair-too-many-phone.png"},
	}.run(t, n.URL)
}
