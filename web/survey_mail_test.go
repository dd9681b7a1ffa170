package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestSurveyLinkMailedNotShown: recording the outcome gives the mediator
// the survey link of a party Parley could not email (no address), and for
// a party it emailed only that it did, never the link: a mediator holding
// every link could answer, unseen, in anyone's name (the answer names
// nobody), and the party's own link would then say "already used"
// (review 365 L5). The emailed link reaches the party through a real SMTP
// server and works.
func TestSurveyLinkMailedNotShown(t *testing.T) {
	mp := mailpit.FromEnv(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), SMTPURL: "smtp://" + mp.SMTP + "?starttls=off",
		MailFrom: "sessions@survey.test", MailPoll: 50 * time.Millisecond})
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "survey-med@example.org")
	c, err := med.CreateCase(ctx, "Survey links", "tenancy", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	invB, err := med.Invite(ctx, c.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(n.URL, "").Join(ctx, invB.Link); err != nil {
		t.Fatal(err)
	}
	addr := "survey-" + ids.New("x")[2:10] + "@example.test"
	invA, err := med.Invite(ctx, c.ID, "party", "A", "Ada Okafor", addr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(n.URL, "").Join(ctx, inviteLink(t, n, mp, c.ID, invA)); err != nil {
		t.Fatal(err)
	}
	if _, err := med.CaseAction(ctx, c.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	out, err := med.RecordOutcome(ctx, c.ID, "full-agreement", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]struct {
		link   string
		mailed bool
	}{}
	for _, s := range out.Surveys {
		byName[s.Name] = struct {
			link   string
			mailed bool
		}{s.Link, s.Mailed}
	}
	if a := byName["Ada Okafor"]; !a.mailed || a.link != "" {
		t.Fatalf("the emailed party's survey in the mediator's answer: mailed %v, link %q", a.mailed, a.link)
	}
	if b := byName["Lars Lindqvist"]; b.mailed || !strings.Contains(b.link, "/survey#") {
		t.Fatalf("the party without an address: mailed %v, link %q", b.mailed, b.link)
	}
	got := mp.Outbox(sentIDs(n, c.ID)).WaitFor(t, "survey-"+c.ID+"-", 1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d survey mails arrived", len(got))
	}
	m, err := mp.Get(got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.To) != 1 || m.To[0].Address != addr {
		t.Fatalf("survey mail to %+v", m.To)
	}
	i := strings.Index(m.Text, "/survey#")
	if i < 0 {
		t.Fatalf("survey mail without its link:\n%s", m.Text)
	}
	token := strings.Fields(m.Text[i+len("/survey#"):])[0]
	scores := map[string]int{}
	for _, item := range cases.SurveyItems {
		scores[item] = 4
	}
	if err := client.New(n.URL, "").SubmitSurvey(ctx, token, scores, ""); err != nil {
		t.Fatalf("the emailed survey link: %v", err)
	}
}
