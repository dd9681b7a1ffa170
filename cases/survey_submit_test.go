package cases

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// failOnce fails the next write under prefix once: before it reaches the
// store (lost), or after it landed (landed: the answer came back lost).
type failOnce struct {
	objstore.Store
	mu     sync.Mutex
	prefix string
	landed bool
}

var errInjected = errors.New("injected: the store did not answer")

func (f *failOnce) arm(prefix string, landed bool) {
	f.mu.Lock()
	f.prefix, f.landed = prefix, landed
	f.mu.Unlock()
}

func (f *failOnce) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	f.mu.Lock()
	hit := f.prefix != "" && strings.HasPrefix(key, f.prefix)
	landed := f.landed
	if hit {
		f.prefix = ""
	}
	f.mu.Unlock()
	if !hit {
		return f.Store.Put(ctx, key, r, size, opts)
	}
	if landed {
		if _, err := f.Store.Put(ctx, key, r, size, opts); err != nil {
			return objstore.Info{}, err
		}
	}
	return objstore.Info{}, errInjected
}

func surveyScores() map[string]int {
	m := map[string]int{}
	for _, item := range SurveyItems {
		m[item] = 4
	}
	return m
}

// A survey answer whose write fails is not lost to a spent link: the
// submission fails, the link works again, and the answer sent again is
// stored once. A write that landed although the store said it failed
// counts as stored. Several submissions of one link at once store one
// answer.
func TestSurveyAnswerSurvivesAFailedWrite(t *testing.T) {
	fo := &failOnce{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { fo.Store = s; return fo })
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Morgan Reyes")
	c := e.newCase(t, m, "Deposit dispute")
	e.join(t, m, c.ID, RoleParty, "A", "Alex Tenant")
	e.join(t, m, c.ID, RoleParty, "B", "Blair Landlord")
	if _, err := e.svc.SetStage(ctx, m, c.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	_, links, err := e.svc.RecordOutcome(ctx, m, c.ID, FullAgreement, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) < 2 {
		t.Fatalf("%d survey links", len(links))
	}
	count := func() int {
		t.Helper()
		rs, err := e.svc.SurveyResponses(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}

	fo.arm(surveyResponsePrefix(c.ID), false)
	if err := e.svc.SubmitSurvey(ctx, links[0].Token, surveyScores(), "fair"); !errors.Is(err, errInjected) {
		t.Fatalf("submit with a failing store: %v", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d responses after a failed write", n)
	}
	if err := e.svc.SubmitSurvey(ctx, links[0].Token, surveyScores(), "fair"); err != nil {
		t.Fatalf("sending again after a failed write: %v", err)
	}
	if err := e.svc.SubmitSurvey(ctx, links[0].Token, surveyScores(), "fair"); !errors.Is(err, fault.ErrGone) {
		t.Fatalf("a third time: %v, want gone", err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d responses, want 1", n)
	}

	fo.arm(surveyResponsePrefix(c.ID), true)
	if err := e.svc.SubmitSurvey(ctx, links[1].Token, surveyScores(), ""); err != nil {
		t.Fatalf("a write that landed: %v", err)
	}
	if err := e.svc.SubmitSurvey(ctx, links[1].Token, surveyScores(), ""); !errors.Is(err, fault.ErrGone) {
		t.Fatalf("again after a write that landed: %v, want gone", err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d responses, want 2", n)
	}
}

// Many submissions of one link at once: one is stored, the rest are told
// the link is spent.
func TestSurveyLinkSingleUseUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Morgan Reyes")
	c := e.newCase(t, m, "Deposit dispute")
	e.join(t, m, c.ID, RoleParty, "A", "Alex Tenant")
	if _, err := e.svc.SetStage(ctx, m, c.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	_, links, err := e.svc.RecordOutcome(ctx, m, c.ID, FullAgreement, 2, 3)
	if err != nil || len(links) == 0 {
		t.Fatalf("%d links, %v", len(links), err)
	}
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			switch err := e.svc.SubmitSurvey(ctx, links[0].Token, surveyScores(), ""); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, fault.ErrGone):
				gone.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	rs, err := e.svc.SurveyResponses(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok.Load() != 1 || gone.Load() != 7 || len(rs) != 1 {
		t.Fatalf("%d stored, %d gone, %d responses; want 1, 7, 1", ok.Load(), gone.Load(), len(rs))
	}
}

// TestOutcomeSurveyLinksSurviveAFailedTokenWrite: an outcome whose survey
// tokens cannot all be stored is not recorded, so recording it again once
// the store answers records it and answers every link. Before, the
// outcome was saved first: a token write failing midway answered an
// error, the links made were never shown, and the retry was told
// "outcome already recorded": the surveys were lost.
func TestOutcomeSurveyLinksSurviveAFailedTokenWrite(t *testing.T) {
	fo := &failOnce{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { fo.Store = s; return fo })
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Morgan Reyes")
	c := e.newCase(t, m, "Deposit dispute")
	e.join(t, m, c.ID, RoleParty, "A", "Alex Tenant")
	e.join(t, m, c.ID, RoleParty, "B", "Blair Landlord")
	if _, err := e.svc.SetStage(ctx, m, c.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	fo.arm("surveys/tokens/", false)
	if _, _, err := e.svc.RecordOutcome(ctx, m, c.ID, FullAgreement, 2, 3); !errors.Is(err, errInjected) {
		t.Fatalf("recording the outcome with a failing token write: %v", err)
	}
	if got := e.raw(t, c.ID); got.Outcome != nil {
		t.Fatal("the outcome was recorded though its survey links were not all made")
	}
	_, links, err := e.svc.RecordOutcome(ctx, m, c.ID, FullAgreement, 2, 3)
	if err != nil {
		t.Fatalf("recording the outcome again: %v", err)
	}
	if len(links) < 2 {
		t.Fatalf("%d survey links", len(links))
	}
	for _, l := range links {
		if err := e.svc.SubmitSurvey(ctx, l.Token, surveyScores(), ""); err != nil {
			t.Fatalf("answering %s's link: %v", l.Name, err)
		}
	}
}

// TestSurveyAnswerWithAuditDownKeepsTheLink: an answer the audit log
// cannot take is not taken, and the link still works once the log is
// back. Before, the answer was stored and the link spent, then the request
// failed on the entry: the retry was told the link was used (410) and the
// answer stood unaudited.
func TestSurveyAnswerWithAuditDownKeepsTheLink(t *testing.T) {
	e, fo, _ := outboxEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Morgan Reyes")
	c := e.newCase(t, m, "Deposit dispute")
	e.join(t, m, c.ID, RoleParty, "A", "Alex Tenant")
	if _, err := e.svc.SetStage(ctx, m, c.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	_, links, err := e.svc.RecordOutcome(ctx, m, c.ID, FullAgreement, 2, 3)
	if err != nil || len(links) == 0 {
		t.Fatalf("%d links, %v", len(links), err)
	}
	fo.down.Store(true)
	if err := e.svc.SubmitSurvey(ctx, links[0].Token, surveyScores(), "fair"); err == nil {
		t.Fatal("an answer was taken with the audit log unwritable")
	}
	fo.down.Store(false)
	if err := e.svc.SubmitSurvey(ctx, links[0].Token, surveyScores(), "fair"); err != nil {
		t.Fatalf("answering again once the log is back: %v", err)
	}
	if rs, _ := e.svc.SurveyResponses(ctx, c.ID); len(rs) != 1 {
		t.Fatalf("%d responses, want 1", len(rs))
	}
}
