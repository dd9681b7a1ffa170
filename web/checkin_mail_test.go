package web_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestCheckInLinkMailedNotShown: setting check-ins gives the mediator no
// link of a party Parley emails theirs to, only that it does (mailed):
// a mediator holding every link could answer "honoured" in a party's
// name (the answer names nobody), and the party's own link would then say
// it was used (review 366). A party without an address gets their link
// through the mediator, as before. The emailed link, due, reaches its
// party through a real SMTP server and works.
func TestCheckInLinkMailedNotShown(t *testing.T) {
	mp := mailpit.FromEnv(t)
	var ahead atomic.Int64
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), SMTPURL: "smtp://" + mp.SMTP + "?starttls=off",
		MailFrom: "sessions@checkin.test", MailPoll: 50 * time.Millisecond,
		MailClock: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "checkin-med@example.org")
	c, err := med.CreateCase(ctx, "Check-in links", "tenancy", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	tag := ids.New("x")[2:10]
	join := func(side, name, addr string) {
		t.Helper()
		inv, err := med.Invite(ctx, c.ID, "party", side, name, addr, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.New(n.URL, "").Join(ctx, inviteLink(t, n, mp, c.ID, inv)); err != nil {
			t.Fatal(err)
		}
	}
	join("A", "Ada Okafor", "okafor-"+tag+"@example.test")
	join("B", "Lars Lindqvist", "lindqvist-"+tag+"@example.test")
	join("B", "Noor Haddad", "")
	if _, err := med.CaseAction(ctx, c.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	if _, err := med.RecordOutcome(ctx, c.ID, "full-agreement", 2, 3); err != nil {
		t.Fatal(err)
	}
	fu, err := med.SetFollowUps(ctx, c.ID, []int{30})
	if err != nil {
		t.Fatal(err)
	}
	if len(fu.Links) != 3 {
		t.Fatalf("%d check-in links in the answer, want 3: %+v", len(fu.Links), fu.Links)
	}
	for _, l := range fu.Links {
		switch l.Name {
		case "Ada Okafor", "Lars Lindqvist":
			if !l.Mailed || l.Link != "" {
				t.Fatalf("the emailed party %s in the mediator's answer: mailed %v, link %q", l.Name, l.Mailed, l.Link)
			}
		default:
			if l.Mailed || !strings.Contains(l.Link, "/checkin#") {
				t.Fatalf("the party without an address: mailed %v, link %q", l.Mailed, l.Link)
			}
		}
	}
	ahead.Store(int64(time.Until(fu.Checkpoints[0].Due) + time.Minute))
	got := mp.Outbox(sentIDs(n, c.ID)).WaitFor(t, "fu-"+c.ID+"-30-", 2, 20*time.Second)
	if len(got) != 2 {
		t.Fatalf("%d of 2 check-in mails arrived", len(got))
	}
	m, err := mp.Get(got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(m.Text, "/checkin#")
	if i < 0 {
		t.Fatalf("check-in mail without its link:\n%s", m.Text)
	}
	token := strings.Fields(m.Text[i+len("/checkin#"):])[0]
	anon := client.New(n.URL, "")
	if err := anon.Do(ctx, "POST", "/api/v1/checkins", api.CheckInRequest{Token: token, Answer: "honoured"}, nil); err != nil {
		t.Fatalf("the emailed check-in link: %v", err)
	}
}
