package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/mail"
)

// TestSentLinksNotKeptInOutbox: invitation, re-entry and survey links are
// bearer tokens. They reach the recipient (Mailpit, a real SMTP server),
// and once sent the outbox's stored record keeps the subject, recipient,
// times and state, but not the body that carried the token.
func TestSentLinksNotKeptInOutbox(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	mp = mp.Outbox(e.sentIDs()) // Message-IDs are random: the outbox says which is which
	ctx := t.Context()
	invite, reentry := ids.Token(), ids.Token()
	exp := e.clock.Now().Add(time.Hour)
	if mailed, err := e.svc.MailInvite(ctx, e.c.ID, "", "invitee@example.test", joinURL+"/join#"+invite, exp); err != nil || !mailed {
		t.Fatalf("invite: %v %v", mailed, err)
	}
	if mailed, err := e.svc.MailReentry(ctx, e.c.ID, e.tenant.ID, "alex@example.test", joinURL+"/join#"+reentry, exp); err != nil || !mailed {
		t.Fatalf("re-entry: %v %v", mailed, err)
	}
	if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	c, links, err := e.cases.RecordOutcome(ctx, e.mediator, e.c.ID, cases.FullAgreement, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MailSurveys(ctx, c, links, "https://parley.example.test/survey"); err != nil {
		t.Fatal(err)
	}
	tokens := []string{invite, reentry}
	for _, l := range links {
		tokens = append(tokens, l.Token)
	}
	if n, err := e.outbox.RunOnce(ctx); err != nil || n != 4 {
		t.Fatalf("RunOnce: %d %v", n, err)
	}
	// They arrived, each with its link.
	arrived := fetch(t, mp, "join-"+e.c.ID+"-", 1)
	arrived = append(arrived, fetch(t, mp, "reentry-"+e.c.ID+"-", 1)...)
	arrived = append(arrived, fetch(t, mp, "survey-"+e.c.ID+"-", 2)...)
	all := ""
	for _, r := range arrived {
		all += r.text
	}
	for _, tok := range tokens {
		if !strings.Contains(all, tok) {
			t.Fatalf("a link did not arrive: %s", tok)
		}
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 4 {
		t.Fatalf("%d messages in the outbox", len(msgs))
	}
	for _, m := range msgs {
		if m.State != mail.Sent || m.Subject == "" || m.To == "" || m.Done == nil {
			t.Errorf("%s: state %s, subject %q, to %q, done %v", m.ID, m.State, m.Subject, m.To, m.Done)
		}
		for _, tok := range tokens {
			if strings.Contains(m.Text, tok) || strings.Contains(m.Subject, tok) {
				t.Errorf("%s (%s): the stored record still holds the link's token", m.ID, m.Kind)
			}
		}
	}
}
