package mail

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// TestFastClockDoesNotTidyFreshMarker: a node whose clock is 15 minutes
// ahead of another's must not take the due marker that other node wrote
// a moment ago, its Enqueue not yet at the message, for an orphan's:
// the message, once stored, keeps a live marker and is sent (held, in
// this development outbox). A marker whose message really is missing is
// tidied once the fast node has itself seen it, unchanged, for
// orphanAge, by its own clock, whatever the marker says (directory store
// and MinIO).
func TestFastClockDoesNotTidyFreshMarker(t *testing.T) {
	testenv.OnEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		key := randomKey(t)
		clkB := newClock()
		clkA := newClock()
		clkA.Add(15 * time.Minute) // node A's clock is fast
		gs := newGateStore(store)
		b := New(Config{Meta: newMeta(t, gs, key), Now: clkB.Now, Node: "b"})
		a := New(Config{Meta: newMeta(t, store, key), Now: clkA.Now, Node: "a"})
		pfx := prefix(t)
		m := testMessage(pfx, 0)

		// Node B's Enqueue has written the marker and not yet the message
		// when node A makes a pass.
		g := gs.at("Put", msgKey(m.CaseID, m.ID))
		enq := make(chan error, 1)
		go func() { enq <- b.Enqueue(ctx, m) }()
		g.wait(t, "node B's write of the message")
		if _, err := a.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		g.release <- nil
		select {
		case err := <-enq:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("node B's Enqueue did not end")
		}
		var mk dueMarker
		if _, err := a.cfg.Meta.Get(ctx, dueKey(m.CaseID, m.ID), &mk); err != nil {
			t.Fatalf("node A, its clock 15 minutes fast, tidied the marker node B had just written: %v", err)
		}
		if n, err := a.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("node A's next pass: %d finished, %v", n, err)
		}
		if got, err := a.Get(ctx, m.CaseID, m.ID); err != nil || got.State != Held {
			t.Fatalf("the message: %+v, %v", got, err)
		}

		// A marker whose message never comes, written by node B: node A
		// tidies it orphanAge after it first saw it, by its own clock.
		orphan := testMessage(pfx, 1)
		due := dueKey(orphan.CaseID, orphan.ID)
		if _, err := b.cfg.Meta.Create(ctx, due, dueMarker{NotBefore: clkB.Now(), Created: clkB.Now()}); err != nil {
			t.Fatal(err)
		}
		live := func() bool {
			t.Helper()
			_, err := a.cfg.Meta.Get(ctx, due, &mk)
			if err != nil && !errors.Is(err, metastore.ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}
		for _, step := range []time.Duration{0, orphanAge - time.Second} {
			clkA.Add(step)
			if _, err := a.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if !live() {
				t.Fatalf("the orphan's marker tidied %v after node A first saw it", step)
			}
		}
		clkA.Add(time.Second)
		if _, err := a.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if live() {
			t.Fatal("the orphan's marker not tidied orphanAge after node A first saw it")
		}
		if vs, err := store.Versions(ctx, due); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("the orphan's marker left stored versions (%v): %+v", err, vs)
		}
	})
}
