package web

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// TestFenceWatchKicksACaseFencedAndDestroyedBetweenPasses: a case fenced
// and destroyed (its record deleted, then what retention does with its
// marker) between two passes of a watch is kicked by the next pass,
// though no pass listed the marker of its fence. Passes run by hand.
func TestFenceWatchKicksACaseFencedAndDestroyedBetweenPasses(t *testing.T) {
	ctx := t.Context()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	meta, err := metastore.New(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	svc := cases.NewService(meta, nil, nil, nil)
	id, other := ids.New("c"), ids.New("c")
	for _, c := range []string{id, other} {
		if _, err := meta.Create(ctx, cases.RecordKey(c), cases.Case{ID: c}); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := newCaseFenceWatch(wctx, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)), svc)
	w.running = true // no goroutine: the passes below are the only ones
	var kicked, otherKicked atomic.Int64
	defer w.add(id, func() { kicked.Add(1) })()
	defer w.add(other, func() { otherKicked.Add(1) })()
	pass := func() {
		t.Helper()
		todo, ok := w.snapshot()
		if !ok {
			t.Fatal("nothing watched")
		}
		w.pass(todo)
	}
	pass()
	if kicked.Load() != 0 {
		t.Fatal("kicked before the fence")
	}

	if _, err := svc.BeginDisposal(ctx, id, "p_test"); err != nil {
		t.Fatal(err)
	}
	vs, err := dir.Versions(ctx, cases.RecordKey(id))
	if err != nil {
		t.Fatal(err)
	}
	infos := make([]objstore.Info, len(vs))
	for i, v := range vs {
		infos[i] = v.Info
	}
	for _, err := range dir.DeleteVersions(ctx, infos) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.GoneFenceMark(ctx, id); err != nil { // as retention, after the record
		t.Fatal(err)
	}

	pass()
	if kicked.Load() != 1 {
		t.Fatalf("a case fenced and destroyed between two passes kicked %d times by the next, want once", kicked.Load())
	}
	pass()
	if kicked.Load() != 1 || otherKicked.Load() != 0 {
		t.Fatalf("kicks after another pass: %d, the other case %d; want 1 and 0", kicked.Load(), otherKicked.Load())
	}
}
