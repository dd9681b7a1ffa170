package schedule

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
)

// fenceOnPut runs fence once, just before the first write under prefix
// reaches the store.
type fenceOnPut struct {
	objstore.Store
	prefix string
	once   sync.Once
	fence  func(context.Context)
}

func (f *fenceOnPut) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, f.prefix) && f.fence != nil {
		f.once.Do(func() { f.fence(ctx) })
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// noFollowUpsOf fails if anything of case e.c's follow-ups is stored: a
// plan, a link's record, a check-in mail.
func noFollowUpsOf(t *testing.T, e *env) {
	t.Helper()
	if n := storedUnder(t, e, "followups/"); n != 0 {
		t.Errorf("%d stored versions under followups/ after refused follow-ups", n)
	}
	msgs, err := e.outbox.List(t.Context(), e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Kind == mail.KindFollowUp {
			t.Errorf("check-in mail %s queued for refused follow-ups", m.ID)
		}
	}
}

// A case retention is disposing of takes no follow-ups: their links, plan
// and mail name the case and would outlive its disposal.
func TestFollowUpsRefusedForACaseBeingDisposedOf(t *testing.T) {
	e := newEnv(t, nil)
	e.close(t, cases.FullAgreement)
	if _, err := e.cases.BeginDisposal(t.Context(), e.c.ID, "p_test"); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.svc.SetFollowUps(t.Context(), e.mediator, e.c.ID, []int{30})
	wantIs(t, err, fault.ErrGone)
	noFollowUpsOf(t, e)
}

// Follow-ups set as retention fences the case are taken back once their
// plan is written (every stored version of the plan and of each link's
// record), before any mail is queued: retention fences first and lists
// after, so it could miss them.
func TestFollowUpsTakenBackWhenTheFenceLandsMeanwhile(t *testing.T) {
	fw := &fenceOnPut{prefix: "followups/plans/"}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { fw.Store = s; return fw })
	e.close(t, cases.FullAgreement)
	fw.fence = func(ctx context.Context) {
		if _, err := e.cases.BeginDisposal(ctx, e.c.ID, "p_test"); err != nil {
			t.Error(err)
		}
	}
	_, _, err := e.svc.SetFollowUps(t.Context(), e.mediator, e.c.ID, []int{30, 90})
	wantIs(t, err, fault.ErrGone)
	noFollowUpsOf(t, e)
}
