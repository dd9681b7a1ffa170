package web_test

import (
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserStaffSignOutUnreached drives
// web/client/test/staff-signout-unreached.mjs in Chromium: a mediator in
// their case and a records clerk at the records screen sign out (staff
// are not asked first), and the DELETE /api/v1/session never reaches the
// server (the connection drops) or the server cannot end the session
// (503). Each time the page does not look signed out: it says in plain
// words, about their account, that they are not signed out yet and that
// anyone using this browser can open their account until they are, shows
// no case or records, and the session is indeed still valid; "Stay signed
// in and go back" brings the records screen back; once the server takes
// the sign-out, Sign out signs out (the session is gone: 401).
func TestBrowserStaffSignOutUnreached(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	medEmail, _, _, k := tenancyCase(t, n)
	recEmail := "rita.records@browser.test"
	if _, err := n.Accounts.Create(t.Context(), account.NewAccount{Email: recEmail, Name: "Rita Archer", Role: policy.RoleRecords, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	browserScript{
		name:  "staff-signout-unreached.mjs",
		env:   []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID, "PARLEY_RECORDS_EMAIL=" + recEmail},
		shots: []string{"staff-signout-unreached.png", "staff-signout-unreached-phone.png", "staff-signout-refused.png", "staff-signout-refused-phone.png"},
	}.run(t, n.URL)
}
