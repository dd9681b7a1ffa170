package schedule

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
)

// storedUnder counts every stored version (delete markers too) under prefix.
func storedUnder(t *testing.T, e *env, prefix string) int {
	t.Helper()
	n := 0
	if err := e.svc.cfg.Meta.Objects().VersionsUnder(t.Context(), prefix, func(objstore.Version) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// A check-in answer is refused, and nothing of it stored, once the case
// is fenced for disposal, once its record is gone, and once its
// follow-ups (the survey-responses class) are gone, though the link is
// still valid: no later plan would reach what it stored.
func TestCheckInRefusedForACaseBeingDisposedOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		gone func(t *testing.T, e *env)
	}{
		{"fenced", func(t *testing.T, e *env) {
			if _, err := e.cases.BeginDisposal(t.Context(), e.c.ID, "p_test"); err != nil {
				t.Fatal(err)
			}
		}},
		{"case record gone", func(t *testing.T, e *env) {
			if err := e.svc.cfg.Meta.Delete(t.Context(), "cases/"+e.c.ID+"/case"); err != nil {
				t.Fatal(err)
			}
		}},
		{"follow-ups destroyed", func(t *testing.T, e *env) {
			if err := e.svc.cfg.Meta.Delete(t.Context(), planKey(e.c.ID)); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ctx := t.Context()
			e.close(t, cases.FullAgreement)
			plan, links, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30})
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Set(plan.Checkpoints[0].Due)
			tc.gone(t, e)
			wantIs(t, e.svc.SubmitCheckIn(ctx, links[0].Token, Partly, "the deposit came back late"), fault.ErrGone)
			if n := storedUnder(t, e, "followups/responses/"); n != 0 {
				t.Fatalf("%d stored versions under followups/responses/ after a refused answer", n)
			}
		})
	}
}

// fenceOnAnswer fences the case for disposal (cases.BeginDisposal) just
// before the first check-in answer reaches the store: the fence lands
// after SubmitCheckIn looked for it and before its answer is visible.
// With cut set, that answer's write lands but reports
// context.DeadlineExceeded, as a write cut short that landed anyway.
type fenceOnAnswer struct {
	objstore.Store
	once  sync.Once
	fence func(context.Context)
	cut   bool
}

func (f *fenceOnAnswer) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	first := false
	if strings.HasPrefix(key, "followups/responses/") && f.fence != nil {
		f.once.Do(func() { first = true; f.fence(ctx) })
	}
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if first && f.cut && err == nil {
		return objstore.Info{}, context.DeadlineExceeded
	}
	return info, err
}

// An answer written as retention fences the case is taken back: the
// submission looks at the case again once its answer is visible (as an
// upload does), and deletes what it wrote; retention, which fences first
// and lists after, would otherwise miss it and leave it for ever.
func TestCheckInTakenBackWhenTheFenceLandsMeanwhile(t *testing.T) {
	fw := &fenceOnAnswer{}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { fw.Store = s; return fw })
	ctx := t.Context()
	e.close(t, cases.FullAgreement)
	plan, links, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(plan.Checkpoints[0].Due)
	fw.fence = func(ctx context.Context) {
		if _, err := e.cases.BeginDisposal(ctx, e.c.ID, "p_test"); err != nil {
			t.Error(err)
		}
	}
	wantIs(t, e.svc.SubmitCheckIn(ctx, links[0].Token, Partly, "the deposit came back late"), fault.ErrGone)
	if n := storedUnder(t, e, "followups/responses/"); n != 0 {
		t.Fatalf("%d stored versions under followups/responses/ after an answer the fence overtook", n)
	}
	// The link is given back, not lost: the fence may be lifted (the
	// case kept after all), and then the same link answers. Retention,
	// going on, lists the links again and deletes its record.
	if err := e.cases.EndDisposal(ctx, e.c.ID, "p_test"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SubmitCheckIn(ctx, links[0].Token, Partly, "the deposit came back late"); err != nil {
		t.Fatalf("the link after the fence was lifted: %v", err)
	}
	if n := storedUnder(t, e, "followups/responses/"); n != 1 {
		t.Fatalf("%d stored versions under followups/responses/, want the one answer", n)
	}
}

// An answer whose write was cut short (it may land after the fence and
// retention's listing) is looked at again too: under a fenced case it
// is taken back, and the link given back.
func TestCheckInCutShortIsLookedAtAgain(t *testing.T) {
	was := lateAnswerWait
	lateAnswerWait = 10 * time.Millisecond
	t.Cleanup(func() { lateAnswerWait = was })
	fw := &fenceOnAnswer{cut: true}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { fw.Store = s; return fw })
	ctx := t.Context()
	e.close(t, cases.FullAgreement)
	plan, links, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(plan.Checkpoints[0].Due)
	fw.fence = func(ctx context.Context) {
		if _, err := e.cases.BeginDisposal(ctx, e.c.ID, "p_test"); err != nil {
			t.Error(err)
		}
	}
	if err := e.svc.SubmitCheckIn(ctx, links[0].Token, Partly, "the deposit came back late"); err == nil {
		t.Fatal("an answer cut short under a fenced case was taken")
	}
	if n := storedUnder(t, e, "followups/responses/"); n != 0 {
		t.Fatalf("%d stored versions under followups/responses/ after a cut-short answer the fence overtook", n)
	}
	var tok checkInToken
	if _, err := e.svc.cfg.Meta.Get(ctx, e.svc.checkInTokenKey(links[0].Token), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Used {
		t.Fatal("the link stays spent though its answer was taken back")
	}
}

// Every check-in's mail has an id retention knows it by
// (mail.FollowUpIDPrefix): it goes with the follow-ups, not with the rest
// of the case's outbox, which goes a month after closure, before the
// check-in is due.
func TestCheckInMailIDsCarryTheFollowUpPrefix(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	e.close(t, cases.FullAgreement)
	if _, _, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30, 90}); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.Kind != mail.KindFollowUp {
			continue
		}
		n++
		if !strings.HasPrefix(m.ID, mail.FollowUpIDPrefix) {
			t.Errorf("check-in mail %s does not begin with %q", m.ID, mail.FollowUpIDPrefix)
		}
	}
	if n != 4 {
		t.Fatalf("%d check-in mails, want 4 (two parties, two check-ins)", n)
	}
}
