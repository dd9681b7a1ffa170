package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserSignInLink drives web/client/test/signinlink.mjs in
// Chromium: a party joined on their computer first confirms their address
// in the app (the confirmation mail read from Mailpit, its link opened in
// that browser); then, on a phone-width page with no session, asks for a
// link by email; the page gives the one answer
// every address gets; the link reaches Mailpit through the outbox; opened
// on the phone, it signs the party in as their own account, into their
// mediation; opened again elsewhere, it is refused in words.
func TestBrowserSignInLink(t *testing.T) {
	needBrowser(t)
	mp := mailpit.FromEnv(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), SMTPURL: "smtp://" + mp.SMTP + "?starttls=off",
		MailFrom: "sessions@signin-browser.test", MailPoll: 50 * time.Millisecond})
	ctx := context.Background()
	_, _, medC, k := tenancyCase(t, n)
	addr := "ada-" + ids.New("x")[2:10] + "@example.test"
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", addr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var joinedAs string
	// linkIn reads the want-th mail whose id starts with prefix and
	// returns its link.
	linkIn := func(prefix string, want int) (string, error) {
		got := mp.Outbox(sentIDs(n, k.ID)).WaitFor(t, prefix, want, 30*time.Second)
		if len(got) != want {
			return "", fmt.Errorf("%d mails %s… arrived", len(got), prefix)
		}
		m, err := mp.Get(got[want-1].ID)
		if err != nil {
			return "", err
		}
		if len(m.To) != 1 || m.To[0].Address != addr {
			return "", fmt.Errorf("mail to %+v", m.To)
		}
		i := strings.Index(m.Text, "http")
		if i < 0 {
			return "", fmt.Errorf("no link in %q", m.Text)
		}
		return strings.Fields(m.Text[i:])[0], nil
	}
	browserScript{
		name: "signinlink.mjs",
		env:  []string{"PARLEY_INVITE=" + inviteLink(t, n, mp, k.ID, inv), "PARLEY_PARTY_EMAIL=" + addr},
		ask: map[string]func(string) (string, error){
			"joined": func(string) (string, error) {
				c, err := n.Cases.Load(ctx, k.ID)
				if err != nil || len(c.Participants) != 1 {
					return "", fmt.Errorf("after joining: %v", err)
				}
				joinedAs = c.Participants[0].AccountID
				return "", nil
			},
			"confirm": func(string) (string, error) { return linkIn("confirm-"+k.ID+"-", 1) },
			"mail":    func(string) (string, error) { return linkIn("signin-"+k.ID+"-", 1) },
			"same": func(me string) (string, error) {
				if me != joinedAs {
					return "", fmt.Errorf("signed in as %s, joined as %s", me, joinedAs)
				}
				return "", nil
			},
		},
		shots: []string{"signinlink-confirm.png", "signinlink-confirm-phone.png", "signinlink-confirmed.png", "signinlink-confirmed-phone.png", "signinlink-ask.png", "signinlink-ask-phone.png", "signinlink-sent.png", "signinlink-sent-phone.png", "signinlink-in-phone.png"},
	}.run(t, n.URL)
}
