package cases

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// markDown fails every write of a fence marker while down is set.
type markDown struct {
	objstore.Store
	down atomic.Bool
}

func (f *markDown) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, fenceMarkPrefix) && f.down.Load() {
		return objstore.Info{}, errors.New("injected: fence marker write failed")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// marks lists the fence markers: case → ETag.
func (e *env) marks(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := e.svc.FenceMarks(t.Context(), func(id, etag string) { out[id] = etag }); err != nil {
		t.Fatal(err)
	}
	return out
}

// A fenced case has a fence marker, written anew by every fence (a new
// ETag), deleted when the fence is lifted or paused; another plan's
// refused fence leaves it; a case not there gets none; a fence whose
// marker cannot be written is not set; and ClearStaleFences deletes a
// marker left without a fence (every version, the case gone), never one
// of a fenced case.
func TestFenceMarkFollowsTheFence(t *testing.T) {
	f := &markDown{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { f.Store = s; return f })
	ctx := t.Context()
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	other := e.newCase(t, med, "Kim v. Ortiz")
	if m := e.marks(t); len(m) != 0 {
		t.Fatalf("markers before any fence: %v", m)
	}
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_one"); err != nil {
		t.Fatal(err)
	}
	first := e.marks(t)
	if len(first) != 1 || first[c.ID] == "" {
		t.Fatalf("markers after a fence: %v, want the fenced case's only", first)
	}
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_two"); !errors.Is(err, ErrDisposalUnderWay) {
		t.Fatalf("another plan's fence: %v", err)
	}
	if m := e.marks(t); m[c.ID] == "" {
		t.Fatal("another plan's refused fence deleted the marker of the fence that stands")
	}
	if err := e.svc.EndDisposal(ctx, c.ID, "p_two"); err != nil {
		t.Fatal(err)
	}
	if m := e.marks(t); m[c.ID] == "" {
		t.Fatal("another plan's EndDisposal (no lift) deleted the marker")
	}
	if err := e.svc.EndDisposal(ctx, c.ID, "p_one"); err != nil {
		t.Fatal(err)
	}
	if m := e.marks(t); len(m) != 0 {
		t.Fatalf("markers after the lift: %v", m)
	}
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_one"); err != nil {
		t.Fatal(err)
	}
	if m := e.marks(t); m[c.ID] == "" || m[c.ID] == first[c.ID] {
		t.Fatalf("marker of a fence set again: %q, the first %q: want a new one", m[c.ID], first[c.ID])
	}
	if paused, err := e.svc.PauseDisposal(ctx, c.ID, "p_one"); err != nil || !paused {
		t.Fatal(paused, err)
	}
	if m := e.marks(t); len(m) != 0 {
		t.Fatalf("markers after the pause: %v", m)
	}
	if _, err := e.svc.BeginDisposal(ctx, ids.New("c"), "p_one"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("fencing a case not there: %v", err)
	}
	if m := e.marks(t); len(m) != 0 {
		t.Fatalf("markers after fencing a case not there: %v", m)
	}

	// The marker's write fails: no fence.
	f.down.Store(true)
	if _, err := e.svc.BeginDisposal(ctx, other.ID, "p_one"); err == nil {
		t.Fatal("fenced with the marker's write failing")
	}
	f.down.Store(false)
	if e.raw(t, other.ID).Disposing != nil {
		t.Fatal("the fence set though its marker was not written")
	}

	// Left by crashes: a marker without a fence (written, then the node
	// died), and one of a case gone; a fenced case's stays.
	if err := e.svc.writeFenceMark(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	gone := ids.New("c")
	if err := e.svc.writeFenceMark(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_one"); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.ClearStaleFences(ctx, StaleFenceAge); err != nil || n != 0 {
		t.Fatalf("young markers cleared: %d %v", n, err)
	}
	if n, err := e.svc.ClearStaleFences(ctx, 0); err != nil || n != 2 {
		t.Fatalf("stale markers cleared: %d %v, want 2", n, err)
	}
	if m := e.marks(t); len(m) != 1 || m[c.ID] == "" {
		t.Fatalf("markers after clearing the stale ones: %v, want the fenced case's only", m)
	}
	if vs, err := f.Store.Versions(ctx, FenceMarkKey(gone)); !errors.Is(err, objstore.ErrNotFound) && len(vs) != 0 {
		t.Fatalf("versions of a gone case's marker left: %d %v", len(vs), err)
	}
}
