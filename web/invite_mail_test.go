package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// An invite made with an email address goes out through the outbox to a
// real SMTP server (Mailpit, read back through its API): the mail carries
// the /join link with the token in the fragment and its expiry, and
// nothing of the case: not its title, side labels, or anyone's name. The
// answer says it was mailed, and holds neither the link nor its token:
// the mail alone does, so the mediator cannot open it before the invitee
// and set up their first device (nor can they read it in the case's mail
// list). An invite without an address is not mailed, and its answer holds
// the link, for the mediator to hand over.
func TestInviteMailed(t *testing.T) {
	mp := mailpit.FromEnv(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), SMTPURL: "smtp://" + mp.SMTP + "?starttls=off",
		MailFrom: "sessions@invite.test", MailPoll: 50 * time.Millisecond})
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "invite-med@example.org")
	title := "Okafor v. Lindqvist — CANARYTITLE"
	c, err := med.CreateCase(ctx, title, "tenancy", "", []string{"CanaryTenant", "CanaryLandlord"})
	if err != nil {
		t.Fatal(err)
	}
	// The other side is already in: their name must not reach A's mail.
	invB, err := med.Invite(ctx, c.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if invB.Mailed || !strings.Contains(invB.Link, "/join#"+invB.Token) || invB.Token == "" {
		t.Fatalf("an invite without an address: mailed %v, link %q", invB.Mailed, invB.Link)
	}
	if _, err := client.New(n.URL, "").Join(ctx, invB.Link); err != nil {
		t.Fatal(err)
	}
	addr := "okafor-" + ids.New("x")[2:10] + "@example.test"
	invA, err := med.Invite(ctx, c.ID, "party", "A", "Ada Okafor", addr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !invA.Mailed || invA.MailWarning != "" {
		t.Fatalf("invite with an address: mailed %v, warning %q", invA.Mailed, invA.MailWarning)
	}
	if invA.Link != "" || invA.Token != "" {
		t.Fatalf("the mailed invitation's answer holds its link %q, token %q", invA.Link, invA.Token)
	}
	got := mp.Outbox(sentIDs(n, c.ID)).WaitFor(t, "join-"+c.ID+"-", 1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d invitation mails arrived", len(got))
	}
	m, err := mp.Get(got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.To) != 1 || m.To[0].Address != addr {
		t.Fatalf("to %+v", m.To)
	}
	if !strings.Contains(m.Text, "/join#") || !strings.Contains(m.Text, invA.Expires.UTC().Format("15:04")) {
		t.Fatalf("mail does not carry the link and its expiry:\n%s", m.Text)
	}
	for _, secret := range []string{"CANARY", "Okafor", "Lindqvist", "Lars", "Ada", "tenancy"} {
		if strings.Contains(m.Subject+"\n"+m.Text, secret) {
			t.Fatalf("mail carries %q:\n%s\n%s", secret, m.Subject, m.Text)
		}
	}
	// The link in the mail works (once).
	link := m.Text[strings.Index(m.Text, "http"):]
	link = strings.Fields(link)[0]
	if _, err := client.New(n.URL, "").Join(ctx, link); err != nil {
		t.Fatalf("the mailed link: %v", err)
	}
	// The mediator sees it in the case's mail list as sent.
	list, err := med.Mail(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, x := range list {
		if x.Kind == "join" && x.To == addr && x.State == "sent" {
			sent++
		}
		if strings.Contains(x.Text, "/join#") {
			t.Fatalf("the mail list shows the mediator an invitation link: %+v", x)
		}
	}
	if sent != 1 {
		t.Fatalf("mail list: %+v", list)
	}
}

// sentIDs maps the Message-ID local part of each of the node's outbox
// messages of case caseID to its outbox id, for mailpit.Client.Outbox
// (Message-IDs are random and name nothing).
func sentIDs(n *nodetest.Node, caseID string) func() (map[string]string, error) {
	return func() (map[string]string, error) {
		msgs, err := n.Outbox.List(context.Background(), caseID)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, m := range msgs {
			out[m.MessageID] = m.ID
		}
		return out, nil
	}
}

// inviteLink is the link of invitation inv of case caseID: the one in
// its answer, or, for one mailed (whose answer holds none), the one in
// its mail, read back from Mailpit once it arrived (the outbox names the
// invitation's seat, "invite:" and its id, in the message's Ref).
func inviteLink(t *testing.T, n *nodetest.Node, mp *mailpit.Client, caseID string, inv api.InviteResponse) string {
	t.Helper()
	if !inv.Mailed {
		return inv.Link
	}
	msgs, err := n.Outbox.List(context.Background(), caseID)
	if err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, m := range msgs {
		if m.Kind == mail.KindJoin && m.Ref == "invite:"+inv.ID {
			id = m.ID
		}
	}
	if id == "" {
		t.Fatalf("no invitation mail queued for invitation %s", inv.ID)
	}
	got := mp.Outbox(sentIDs(n, caseID)).WaitFor(t, id, 1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d mails arrived for invitation %s", len(got), inv.ID)
	}
	m, err := mp.Get(got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	at := strings.Index(m.Text, "http")
	if at < 0 {
		t.Fatalf("no link in the invitation mail:\n%s", m.Text)
	}
	return strings.Fields(m.Text[at:])[0]
}
