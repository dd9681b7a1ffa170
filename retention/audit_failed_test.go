package retention

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

// failKey fails every write to one key while armed: a hold's record cannot
// be written, the rest of the store (the audit log included) works.
type failKey struct {
	objstore.Store
	mu  sync.Mutex
	key string
}

func (f *failKey) arm(key string) { f.mu.Lock(); f.key = key; f.mu.Unlock() }

func (f *failKey) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	f.mu.Lock()
	hit := f.key != "" && key == f.key
	f.mu.Unlock()
	if hit {
		return objstore.Info{}, errors.New("injected: record write failed")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// A release audited first (hold.released) whose record then cannot be
// written is corrected in the log (hold.release.failed, the same hold):
// before, the log said the hold was released while it still stood.
func TestFailedReleaseIsCorrectedInTheLog(t *testing.T) {
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
	held, err := e.vault.CaseHeld(ctx, tc.id)
	if err != nil || !held {
		t.Fatalf("CaseHeld = %v, %v; the hold still stands", held, err)
	}
}
