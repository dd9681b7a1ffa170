package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserSessionsMailWarning drives web/client/test/sessions-mailwarn.mjs:
// a mediator schedules a caucus session for the Tenant side while the
// Tenant party (joined) has an address also on file for the Landlord's
// lawyer (invited, not expected at it), so the server does not email it and says why. The page
// says so in place, under the sessions, and it is still there once the
// list is drawn again; no alert box is opened.
func TestBrowserSessionsMailWarning(t *testing.T) {
	needBrowser(t)
	mp := mailpit.FromEnv(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), SMTPURL: "smtp://" + mp.SMTP + "?starttls=off",
		MailFrom: "warn@browser.test", MailPoll: 100 * time.Millisecond})
	ctx := context.Background()
	medEmail, _, med, k := tenancyCase(t, n)
	shared := "shared-" + ids.New("x")[2:10] + "@example.test"
	invA, err := med.Invite(ctx, k.ID, "party", "A", "Ada Okafor", shared, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(n.URL, "").Join(ctx, inviteLink(t, n, mp, k.ID, invA)); err != nil {
		t.Fatal(err)
	}
	if _, err := med.Invite(ctx, k.ID, "counsel", "B", "Blake Byrne", shared, time.Hour); err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "sessions-mailwarn.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID,
			"PARLEY_START=" + time.Now().UTC().Add(72*time.Hour).Format("2006-01-02T15:04")},
	}.run(t, n.URL)
}
