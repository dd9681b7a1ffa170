package schedule

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// failWrite fails the next write under prefix once, before it reaches the
// store, after letting the first after of them through.
type failWrite struct {
	objstore.Store
	mu     sync.Mutex
	prefix string
	after  int
}

var errInjected = errors.New("injected: the store did not answer")

func (f *failWrite) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	f.mu.Lock()
	hit := f.prefix != "" && strings.HasPrefix(key, f.prefix)
	if hit && f.after > 0 {
		f.after--
		hit = false
	}
	if hit {
		f.prefix = ""
	}
	f.mu.Unlock()
	if hit {
		return objstore.Info{}, errInjected
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// A check-in answer whose write fails is not lost to a spent link: the
// submission fails, the link works again, and the answer sent again is
// stored once.
func TestCheckInAnswerSurvivesAFailedWrite(t *testing.T) {
	fw := &failWrite{}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { fw.Store = s; return fw })
	ctx := t.Context()
	e.close(t, cases.FullAgreement)
	plan, links, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(plan.Checkpoints[0].Due)
	fw.mu.Lock()
	fw.prefix = checkInPrefix(e.c.ID)
	fw.mu.Unlock()
	if err := e.svc.SubmitCheckIn(ctx, links[0].Token, Partly, "late"); !errors.Is(err, errInjected) {
		t.Fatalf("submit with a failing store: %v", err)
	}
	if rs, _ := e.svc.CheckIns(ctx, e.c.ID); len(rs) != 0 {
		t.Fatalf("%d answers after a failed write", len(rs))
	}
	if err := e.svc.SubmitCheckIn(ctx, links[0].Token, Partly, "late"); err != nil {
		t.Fatalf("sending again after a failed write: %v", err)
	}
	wantIs(t, e.svc.SubmitCheckIn(ctx, links[0].Token, Honoured, ""), fault.ErrGone)
	if rs, _ := e.svc.CheckIns(ctx, e.c.ID); len(rs) != 1 || rs[0].Answer != Partly {
		t.Fatalf("answers %+v, want one 'partly'", rs)
	}
}
