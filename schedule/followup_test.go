package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/mail"
)

func (e *env) close(t *testing.T, result cases.OutcomeResult) {
	t.Helper()
	if _, err := e.cases.SetStage(t.Context(), e.mediator, e.c.ID, cases.StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.cases.RecordOutcome(t.Context(), e.mediator, e.c.ID, result, 2, 3); err != nil {
		t.Fatal(err)
	}
}

func TestFollowUps(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	_, _, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30})
	wantIs(t, err, fault.ErrConflict) // still open
	e.close(t, cases.FullAgreement)
	for _, bad := range [][]int{{}, {0}, {30, 30}, {90, 30}, {1000}, {1, 2, 3, 4, 5}} {
		_, _, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, bad)
		if _, ok := fault.AsInvalid(err); !ok {
			t.Fatalf("%v: %v", bad, err)
		}
	}
	_, _, err = e.svc.SetFollowUps(ctx, e.tenant, e.c.ID, []int{30})
	wantIs(t, err, fault.ErrForbidden)
	plan, links, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30, 90})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Checkpoints) != 2 || plan.Checkpoints[0].Issued != 2 || len(links) != 4 {
		t.Fatalf("plan %+v, %d links", plan, len(links))
	}
	_, _, err = e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{60})
	wantIs(t, err, fault.ErrConflict) // once
	// The mail is queued for the day each check-in is due and carries the
	// link only.
	msgs, _ := e.outbox.List(ctx, e.c.ID)
	fu := 0
	for _, m := range msgs {
		if m.Kind != mail.KindFollowUp {
			continue
		}
		fu++
		if m.State != mail.Pending || m.NotBefore.Before(plan.Checkpoints[0].Due) || !strings.Contains(m.Text, "/checkin#") || strings.Contains(m.Text, "Deposit") {
			t.Fatalf("follow-up mail %+v", m)
		}
	}
	if fu != 4 {
		t.Fatalf("%d follow-up messages", fu)
	}
	var at30 []CheckInLink
	for _, l := range links {
		if l.Days == 30 {
			at30 = append(at30, l)
		}
	}
	// Not yet open; then honoured once; the link is spent.
	err = e.svc.SubmitCheckIn(ctx, at30[0].Token, Honoured, "")
	wantIs(t, err, fault.ErrConflict)
	e.clock.Set(plan.Checkpoints[0].Due)
	wantInvalid(t, e.svc.SubmitCheckIn(ctx, at30[0].Token, "maybe", ""), "answer")
	wantInvalid(t, e.svc.SubmitCheckIn(ctx, at30[0].Token, Partly, strings.Repeat("x", MaxCheckInComment+1)), "comment")
	if err := e.svc.SubmitCheckIn(ctx, at30[0].Token, Partly, "the deposit came back late"); err != nil {
		t.Fatal(err)
	}
	wantIs(t, e.svc.SubmitCheckIn(ctx, at30[0].Token, Honoured, ""), fault.ErrGone)
	wantIs(t, e.svc.SubmitCheckIn(ctx, strings.Repeat("A", 43), Honoured, ""), fault.ErrGone)
	h, p, n, err := e.svc.FollowUpCounts(ctx, e.c.ID)
	if err != nil || h != 0 || p != 1 || n != 0 {
		t.Fatalf("counts %d %d %d %v", h, p, n, err)
	}
	// One of two answered at 30 days: overdue once the day has passed.
	over, _ := e.svc.Overdue(ctx, e.c.ID, plan.Checkpoints[0].Due.Add(time.Hour))
	if len(over) != 1 || over[0].Days != 30 {
		t.Fatalf("overdue %+v", over)
	}
	if err := e.svc.SubmitCheckIn(ctx, at30[1].Token, Honoured, ""); err != nil {
		t.Fatal(err)
	}
	if over, _ := e.svc.Overdue(ctx, e.c.ID, plan.Checkpoints[0].Due.Add(time.Hour)); len(over) != 0 {
		t.Fatalf("overdue after both answered: %+v", over)
	}
	// Answers carry no one's identity.
	rs, _ := e.svc.CheckIns(ctx, e.c.ID)
	for _, r := range rs {
		if r.CaseID != e.c.ID || r.Days != 30 {
			t.Fatalf("response %+v", r)
		}
	}
}

func TestNoFollowUpsWithoutAgreement(t *testing.T) {
	e := newEnv(t, nil)
	e.close(t, cases.NoAgreement)
	_, _, err := e.svc.SetFollowUps(t.Context(), e.mediator, e.c.ID, []int{30})
	wantIs(t, err, fault.ErrConflict)
}

// After the outcome, each party with an address gets the survey link by
// mail, and nothing else about the case.
func TestSurveyMail(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	c, links, err := e.cases.RecordOutcome(ctx, e.mediator, e.c.ID, cases.FullAgreement, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.MailSurveys(ctx, c, links, "https://parley.example.test/survey"); err != nil {
		t.Fatal(err)
	}
	msgs, _ := e.outbox.List(ctx, e.c.ID)
	got := map[string]string{}
	for _, m := range msgs {
		if m.Kind == mail.KindSurvey {
			got[m.To] = m.Text
		}
	}
	if len(got) != 2 {
		t.Fatalf("survey mail to %v", got)
	}
	for to, text := range got {
		if !strings.Contains(text, "/survey#") || strings.Contains(text, "Deposit") || strings.Contains(text, "Alex") {
			t.Fatalf("survey mail to %s: %q", to, text)
		}
	}
	// Each got their own link.
	if got["alex@example.test"] == got["blair@example.test"] {
		t.Fatal("both parties got the same link")
	}
}
