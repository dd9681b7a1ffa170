package schedule

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/objstore"
)

// checkpointDown fails the audit log's checkpoint writes on demand: an
// append then writes its entry and answers its index with an error.
type checkpointDown struct {
	objstore.Store
	down atomic.Bool
}

func (f *checkpointDown) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.down.Load() && strings.HasPrefix(key, "audit/checkpoint") {
		return objstore.Info{}, errors.New("injected: checkpoint not written")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestWrittenEntryWithCheckpointDownCounts: an append that wrote its
// entry but could not publish the checkpoint (its index with an error)
// counts as audited: the session is scheduled and the check-ins set,
// rather than refused with their entries standing and nothing following
// them.
func TestWrittenEntryWithCheckpointDownCounts(t *testing.T) {
	fo := &checkpointDown{}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { fo.Store = s; return fo })
	ctx := t.Context()
	fo.down.Store(true)
	start := local(e.clock.Now().Add(72*time.Hour), "UTC")
	if _, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: start, TimeZone: "UTC", Minutes: 60}); err != nil {
		t.Fatalf("scheduling with its entry written: %v", err)
	}
	fo.down.Store(false)
	e.close(t, cases.FullAgreement)
	fo.down.Store(true)
	from := e.log.Size()
	plan, links, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30})
	if err != nil || plan == nil || len(links) != 2 {
		t.Fatalf("setting check-ins with their entry written: %+v, %d links, %v", plan, len(links), err)
	}
	for i := from; i < e.log.Size(); i++ {
		if ev, err := e.log.Entry(ctx, i); err != nil || ev.Type != "followup.set" {
			t.Fatalf("entry %d: %+v, %v", i, ev, err)
		}
	}
	e.clock.Set(plan.Checkpoints[0].Due)
	if err := e.svc.SubmitCheckIn(ctx, links[0].Token, Honoured, ""); err != nil {
		t.Fatalf("answering with its entry written: %v", err)
	}
}
