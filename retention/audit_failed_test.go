package retention

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/objstore"
)

// failKey fails every write to one key while armed: a hold's record cannot
// be written, the rest of the store (the audit log included) works.
type failKey struct {
	objstore.Store
	mu  sync.Mutex
	key string
	// late: the write to key lands, and then the call answers
	// context.DeadlineExceeded (a deadline after the store committed).
	late bool
	// noRead fails reads of key too.
	noRead bool
}

func (f *failKey) arm(key string) {
	f.mu.Lock()
	f.key, f.late, f.noRead = key, false, false
	f.mu.Unlock()
}

// armLate arms key so that its writes land and then report
// context.DeadlineExceeded; noRead also fails the reads of key that
// follow the first such write.
func (f *failKey) armLate(key string, noRead bool) {
	f.mu.Lock()
	f.key, f.late, f.noRead = key, true, noRead
	f.mu.Unlock()
}

func (f *failKey) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	f.mu.Lock()
	hit := f.key != "" && key == f.key && f.noRead && !f.late
	f.mu.Unlock()
	if hit {
		return nil, objstore.Info{}, errors.New("injected: record read failed")
	}
	return f.Store.Get(ctx, key, opts)
}

func (f *failKey) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	f.mu.Lock()
	hit := f.key != "" && key == f.key
	f.mu.Unlock()
	if hit && f.late {
		info, err := f.Store.Put(ctx, key, r, size, opts)
		if err != nil {
			return info, err
		}
		f.mu.Lock()
		f.late = false // written: reads of key fail from now on if noRead
		f.mu.Unlock()
		return objstore.Info{}, context.DeadlineExceeded
	}
	if hit {
		return objstore.Info{}, errors.New("injected: record write failed")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// A release audited first (hold.released) whose record then cannot be
// written is corrected in the log (hold.release.failed, the same hold):
// before, the log said the hold was released while it still stood.
func TestFailedReleaseIsCorrectedInTheLog(t *testing.T) {
	t.Parallel()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &failKey{Store: dir}
	e := newEnv(t, f)
	ctx := t.Context()
	tc := e.newCase(t, nil)
	h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Court order", Authority: "Order 7"})
	if err != nil {
		t.Fatal(err)
	}
	from := e.log.Size()
	f.arm(holdKey(tc.id, h.ID))
	if _, err := e.ret.ReleaseHold(ctx, e.records, tc.id, h.ID, "order lifted"); err == nil {
		t.Fatal("release succeeded with the hold's record unwritable")
	}
	f.arm("")
	var types []string
	for i := from; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
		if ev.Type == "hold.release.failed" && (len(ev.Objects) != 1 || ev.Objects[0] != h.ID || ev.Attrs["cause"] != "error") {
			t.Fatalf("correction %+v does not name hold %s", ev, h.ID)
		}
	}
	if len(types) != 2 || types[0] != "hold.released" || types[1] != "hold.release.failed" {
		t.Fatalf("entries after the failed release = %v, want [hold.released hold.release.failed]", types)
	}
	e.wantPaired(t, from)
	held, err := e.vault.CaseHeld(ctx, tc.id)
	if err != nil || !held {
		t.Fatalf("CaseHeld = %v, %v; the hold still stands", held, err)
	}
}

// wantPaired checks that the two entries from index from carry the same
// op id (audit.OpAttr), the correction naming the entry it follows.
func (e *env) wantPaired(t *testing.T, from int64) {
	t.Helper()
	a, err := e.log.Entry(t.Context(), from)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.log.Entry(t.Context(), from+1)
	if err != nil {
		t.Fatal(err)
	}
	if op := a.Attrs[audit.OpAttr]; !ids.Valid("op", op) || b.Attrs[audit.OpAttr] != op {
		t.Fatalf("entries %s (op %q) and %s (op %q) are not paired", a.Type, op, b.Type, b.Attrs[audit.OpAttr])
	}
}

func (e *env) typesFrom(t *testing.T, from int64) []string {
	t.Helper()
	var types []string
	for i := from; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
	}
	return types
}

// The review's scenario (H3): the hold's record is written and the store
// then answers context.DeadlineExceeded. The release landed, so the log
// must not correct it: before, it said [hold.released hold.release.failed]
// while the hold was released and retention could destroy the case. When
// the record cannot even be read back, hold.release.unknown (paired) says
// the outcome was not confirmed, asserting nothing false.
func TestReleaseThatLandedDespiteAnErrorIsNotCorrected(t *testing.T) {
	t.Parallel()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &failKey{Store: dir}
	e := newEnv(t, f)
	ctx := t.Context()
	tc := e.newCase(t, nil)
	for _, unreadable := range []bool{false, true} {
		h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Court order", Authority: "Order 7"})
		if err != nil {
			t.Fatal(err)
		}
		from := e.log.Size()
		f.armLate(holdKey(tc.id, h.ID), unreadable)
		if _, err := e.ret.ReleaseHold(ctx, e.records, tc.id, h.ID, "order lifted"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("release: %v, want the injected deadline", err)
		}
		f.arm("")
		types := e.typesFrom(t, from)
		if !unreadable {
			if len(types) != 1 || types[0] != "hold.released" {
				t.Fatalf("entries after a release that landed = %v, want [hold.released]", types)
			}
		} else {
			if len(types) != 2 || types[0] != "hold.released" || types[1] != "hold.release.unknown" {
				t.Fatalf("entries after a release whose record was unreadable = %v, want [hold.released hold.release.unknown]", types)
			}
			e.wantPaired(t, from)
		}
		var got Hold
		if _, err := e.meta.Get(ctx, holdKey(tc.id, h.ID), &got); err != nil || got.Active() {
			t.Fatalf("hold %s: active %v, %v; the release landed", h.ID, got.Active(), err)
		}
	}
}
