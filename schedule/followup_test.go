package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
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
	if _, err := e.svc.MailSurveys(ctx, c, links, "https://parley.example.test/survey"); err != nil {
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

// TestFailedFollowUpSetIsRetryable: check-ins whose setting fails — a
// link's token not stored, or the audit log unable to take the entry —
// are not set: no plan, no mail queued, no token left, and setting them
// again works and shows every link. Before, the plan was written first:
// it stayed, counting links nobody had, the mail already queued went
// out, and the retry was refused as already set.
func TestFailedFollowUpSetIsRetryable(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(fw *failWrite, ad *auditDown)
		heal func(fw *failWrite, ad *auditDown)
	}{
		{"token write fails", func(fw *failWrite, _ *auditDown) {
			fw.mu.Lock()
			fw.prefix, fw.after = "followups/tokens/", 1 // the second link's
			fw.mu.Unlock()
		}, func(*failWrite, *auditDown) {}},
		{"audit log down", func(_ *failWrite, ad *auditDown) { ad.down.Store(true) },
			func(_ *failWrite, ad *auditDown) { ad.down.Store(false) }},
	} {
		for _, store := range []string{"dir", "s3"} {
			t.Run(tc.name+"/"+store, func(t *testing.T) {
				fw, ad := &failWrite{}, &auditDown{}
				e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store {
					if store == "s3" { // a fresh bucket of the test MinIO
						var err error
						if s, err = objstore.OpenS3(t.Context(), testenv.S3(t)); err != nil {
							t.Fatal(err)
						}
					}
					ad.Store = s
					fw.Store = ad
					return fw
				})
				ctx := t.Context()
				e.close(t, cases.FullAgreement)
				tc.fail(fw, ad)
				if plan, links, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30, 90}); err == nil || plan != nil || links != nil {
					t.Fatalf("set with a failing store: %+v, %d links, %v", plan, len(links), err)
				}
				tc.heal(fw, ad)
				if plan, err := e.svc.FollowUps(ctx, e.mediator, e.c.ID); err != nil || plan != nil {
					t.Fatalf("plan after a failed set: %+v, %v", plan, err)
				}
				if n := followUpMails(t, e); n != 0 {
					t.Fatalf("%d check-in mails queued by a failed set", n)
				}
				tokens := 0
				if err := e.svc.cfg.Meta.List(ctx, "followups/tokens/", func(string) error { tokens++; return nil }); err != nil {
					t.Fatal(err)
				}
				if tokens != 0 {
					t.Fatalf("%d check-in tokens left by a failed set", tokens)
				}
				plan, links, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30, 90})
				if err != nil {
					t.Fatalf("setting again: %v", err)
				}
				if len(plan.Checkpoints) != 2 || plan.Checkpoints[0].Issued != 2 || len(links) != 4 {
					t.Fatalf("plan %+v, %d links", plan, len(links))
				}
				if n := followUpMails(t, e); n != 4 {
					t.Fatalf("%d check-in mails after setting again, want 4", n)
				}
				e.clock.Set(plan.Checkpoints[0].Due)
				if err := e.svc.SubmitCheckIn(ctx, links[0].Token, Honoured, ""); err != nil {
					t.Fatalf("answering a link of the retry: %v", err)
				}
			})
		}
	}
}

func followUpMails(t *testing.T, e *env) int {
	t.Helper()
	msgs, err := e.outbox.List(t.Context(), e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.Kind == mail.KindFollowUp {
			n++
		}
	}
	return n
}
