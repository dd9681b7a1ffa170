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

// markDown fails every write of a fence marker while down is set, and
// calls after (if set) after every write that succeeded.
type markDown struct {
	objstore.Store
	down  atomic.Bool
	after func(key string)
	// getDown fails every read of this key (set while no request runs).
	getDown string
}

func (f *markDown) Get(ctx context.Context, key string, o objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if f.getDown != "" && key == f.getDown {
		return nil, objstore.Info{}, errors.New("injected: read failed")
	}
	return f.Store.Get(ctx, key, o)
}

func (f *markDown) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, fenceMarkPrefix) && f.down.Load() {
		return objstore.Info{}, errors.New("injected: fence marker write failed")
	}
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if err == nil && f.after != nil {
		f.after(key)
	}
	return info, err
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

// A lift racing another plan's fence leaves that fence its marker, even
// when no marker can be written after the lift: plan one lifts its fence,
// plan two then writes its marker and fences the case, and plan one's
// delete of the marker it read before its lift must not delete plan two's
// (before, it deleted whatever marker was there and then failed to write
// it back: a fence without a marker, unseen by the watches).
func TestFenceMarkOfARacingFenceSurvivesTheLift(t *testing.T) {
	f := &markDown{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { f.Store = s; return f })
	ctx := t.Context()
	c := e.newCase(t, staff(policy.RoleMediator, "M"), "Lee v. Park")
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_one"); err != nil {
		t.Fatal(err)
	}
	var armed atomic.Bool
	armed.Store(true)
	f.after = func(key string) {
		if key != RecordKey(c.ID) || !armed.CompareAndSwap(true, false) {
			return
		}
		// Plan one's lift just landed: plan two fences the case, then
		// marker writes fail.
		if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_two"); err != nil {
			t.Errorf("plan two's fence: %v", err)
		}
		f.down.Store(true)
	}
	if err := e.svc.EndDisposal(ctx, c.ID, "p_one"); err != nil {
		t.Fatal(err)
	}
	f.after = nil
	f.down.Store(false)
	if armed.Load() {
		t.Fatal("the lift was not seen")
	}
	if r := e.raw(t, c.ID); r.Disposing == nil || r.DisposingPlan != "p_two" {
		t.Fatalf("case after the race: disposing %v by %q, want plan two's fence", r.Disposing, r.DisposingPlan)
	}
	if m := e.marks(t); m[c.ID] == "" {
		t.Fatal("plan two's fence stands without a marker after plan one's lift")
	}
}

// A fence set whose marker then cannot be kept (deleted by a racing lift,
// and written again fails) is still announced: BeginDisposal returns the
// marker's error only after OnDisposal (before, it returned first, and
// the open connections were told neither by the announcement nor by the
// watches).
func TestFenceAnnouncedWhenItsMarkerIsLost(t *testing.T) {
	f := &markDown{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { f.Store = s; return f })
	ctx := t.Context()
	c := e.newCase(t, staff(policy.RoleMediator, "M"), "Lee v. Park")
	var announced atomic.Int64
	e.svc.OnDisposal = func(_ context.Context, id string) {
		if id == c.ID {
			announced.Add(1)
		}
	}
	var armed atomic.Bool
	armed.Store(true)
	f.after = func(key string) {
		if key != RecordKey(c.ID) || !armed.CompareAndSwap(true, false) {
			return
		}
		// The fence just landed: its marker goes, and cannot be written.
		if err := f.Store.Delete(ctx, FenceMarkKey(c.ID), ""); err != nil {
			t.Errorf("delete the marker: %v", err)
		}
		f.down.Store(true)
	}
	_, err := e.svc.BeginDisposal(ctx, c.ID, "p_one")
	f.after = nil
	f.down.Store(false)
	if err == nil {
		t.Fatal("no error with the fence's marker lost")
	}
	if e.raw(t, c.ID).Disposing == nil {
		t.Fatal("not fenced")
	}
	if n := announced.Load(); n != 1 {
		t.Fatalf("fence announced %d times, want once", n)
	}
}

// ClearStaleFences goes on past a marker whose case cannot be read (left
// for the next call) and clears the others, with no error: a hint must not
// stop the apply that calls it (before, the first such read failed it).
func TestClearStaleFencesGoesOnPastAnUnreadableCase(t *testing.T) {
	f := &markDown{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { f.Store = s; return f })
	ctx := t.Context()
	med := staff(policy.RoleMediator, "M")
	bad := e.newCase(t, med, "Lee v. Park")
	unfenced := e.newCase(t, med, "Kim v. Ortiz")
	gone := ids.New("c")
	for _, id := range []string{bad.ID, unfenced.ID, gone} {
		if err := e.svc.writeFenceMark(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	f.getDown = RecordKey(bad.ID)
	n, err := e.svc.ClearStaleFences(ctx, 0)
	f.getDown = ""
	if err != nil || n != 2 {
		t.Fatalf("cleared %d: %v; want 2 and no error", n, err)
	}
	if m := e.marks(t); len(m) != 1 || m[bad.ID] == "" {
		t.Fatalf("markers left: %v, want the unreadable case's only", m)
	}
}
