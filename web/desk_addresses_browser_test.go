package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserDeskInviteAddresses drives web/client/test/desk-addresses.mjs
// in Chromium: a mediator invites one name twice, to two addresses, and
// the desk's "Invited, not joined yet" tells the two apart by each
// address masked — while neither the page nor GET …/invites, which the
// list is drawn from, holds a whole address.
func TestBrowserDeskInviteAddresses(t *testing.T) {
	needBrowser(t)
	mp := mailpit.FromEnv(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), SMTPURL: "smtp://" + mp.SMTP + "?starttls=off",
		MailFrom: "desk@browser.test", MailPoll: 100 * time.Millisecond})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	tag := ids.New("x")[2:10]
	browserScript{
		name: "desk-addresses.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID,
			"PARLEY_EMAIL_1=jsam-" + tag + "@example.test", "PARLEY_EMAIL_2=sortiz-" + tag + "@example.org"},
		ask: map[string]func(string) (string, error){
			"two": func(string) (string, error) {
				list, err := medC.PendingInvites(ctx, k.ID)
				if err != nil {
					return "", err
				}
				return fmt.Sprint(len(list)), nil
			},
		},
		shots: []string{"desk-invite-addresses.png", "desk-invite-addresses-phone.png"},
	}.run(t, n.URL)
}
