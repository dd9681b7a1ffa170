package schedule

import (
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/mail"
)

// Someone removed from the case after their check-in and survey links were
// queued is not sent them (linkCurrent): the links would still work, and
// tell them the case's agreement is being followed up. Those still in the
// case get theirs.
func TestRemovedPersonGetsNoLinkMail(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	mp = mp.Outbox(e.sentIDs())
	ctx := t.Context()
	if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	c, links, err := e.cases.RecordOutcome(ctx, e.mediator, e.c.ID, cases.FullAgreement, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if mailed, err := e.svc.MailSurveys(ctx, c, links, "https://parley.example.test/survey"); err != nil || len(mailed) != 2 || !mailed[0] || !mailed[1] {
		t.Fatalf("surveys: mailed %v, %v", mailed, err)
	}
	plan, _, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cases.RemoveParticipant(ctx, e.mediator, e.c.ID, e.landlord.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(plan.Checkpoints[0].Due.Add(time.Minute))
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, m := range msgs {
		if m.Kind != mail.KindFollowUp && m.Kind != mail.KindSurvey {
			continue
		}
		seen++
		want := mail.Sent
		if m.ToAccount == e.landlord.ID {
			want = mail.Cancelled
		}
		if m.State != want {
			t.Errorf("%s to %s: %s, want %s", m.ID, m.To, m.State, want)
		}
	}
	if seen != 4 {
		t.Fatalf("%d check-in and survey mails queued, want 4", seen)
	}
	fetch(t, mp, mailID("fu", e.c.ID, "30", e.tenant.ID), 1)
	for _, p := range []string{mailID("fu", e.c.ID, "30", e.landlord.ID), mailID("survey", e.c.ID, e.landlord.ID)} {
		if got, _ := mp.WithPrefix(p); len(got) != 0 {
			t.Fatalf("%s: %d sent to the removed party", p, len(got))
		}
	}
}
