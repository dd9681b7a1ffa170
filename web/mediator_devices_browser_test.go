package web_test

import (
	"context"
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserMediatorDevices drives web/client/test/mediator-devices.mjs
// in Chromium: a mediator with two cases links a phone from case 1, and
// the phone reads the earlier message of case 2 as well (the pairing
// hands over the keys of every case of the account: review 397 M2). The
// phone's new-device box and the desk's "They differ: cancel" use a
// mediator's words (no mediator admits a mediator's browser; a mismatch
// goes to the program's administration).
func TestBrowserMediatorDevices(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	email, _, medC, k1 := tenancyCase(t, n)
	k2, err := medC.CreateCase(context.Background(), "Second v. Case — fence", "tenancy", "court", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name:  "mediator-devices.mjs",
		env:   []string{"PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_MEDIATOR_EMAIL=" + email, "PARLEY_CASE1=" + k1.ID, "PARLEY_CASE2=" + k2.ID},
		shots: []string{"mediator-devices-new-phone.png", "mediator-devices-added.png", "mediator-devices-cancelled.png"},
	}.run(t, n.URL)
}
