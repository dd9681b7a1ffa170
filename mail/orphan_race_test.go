package mail

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
)

// TestOrphanTidyingKeepsEnqueuedMessage: a due marker left by an Enqueue
// that stopped before storing its message is tidied once the sender has
// seen it unchanged for orphanAge, and an Enqueue of the same id (a caller's retry, or
// records staff's notice, whose id is the day's) may run just then. In
// every order of the sender's steps (reading the message, listing the
// marker, looking again, deleting) and the Enqueue's, a stop of the
// Enqueue right after it stored the message included, the message keeps
// a live marker and the next pass sends it, once (directory store and
// MinIO, a real SMTP server).
func TestOrphanTidyingKeepsEnqueuedMessage(t *testing.T) {
	raw := mailpit.FromEnv(t)
	type world struct {
		gs  *gateStore
		o   *Outbox
		m   Message
		due string
		msg string
	}
	// pass runs one sender pass in the background and hands back its error.
	pass := func(ctx context.Context, o *Outbox) <-chan error {
		done := make(chan error, 1)
		go func() {
			_, err := o.RunOnce(ctx)
			done <- err
		}()
		return done
	}
	answer := func(t *testing.T, done <-chan error, what string) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not end", what)
			return nil
		}
	}
	for _, tc := range []struct {
		name string
		race func(t *testing.T, w world)
	}{
		{"sender stopped before listing the marker", func(t *testing.T, w world) {
			g := w.gs.at("Versions", w.due)
			done := pass(t.Context(), w.o)
			g.wait(t, "the sender's listing of the marker")
			if err := w.o.Enqueue(t.Context(), w.m); err != nil {
				t.Fatal(err)
			}
			g.release <- nil
			if err := answer(t, done, "the sender's pass"); err != nil {
				t.Fatal(err)
			}
		}},
		{"sender stopped before deleting the marker", func(t *testing.T, w world) {
			g := w.gs.at("DeleteVersions", w.due)
			done := pass(t.Context(), w.o)
			g.wait(t, "the sender's delete of the marker")
			if err := w.o.Enqueue(t.Context(), w.m); err != nil {
				t.Fatal(err)
			}
			g.release <- nil
			if err := answer(t, done, "the sender's pass"); err != nil {
				t.Fatal(err)
			}
		}},
		{"enqueue stopped before storing the message", func(t *testing.T, w world) {
			g := w.gs.at("Put", w.msg)
			enq := make(chan error, 1)
			go func() { enq <- w.o.Enqueue(t.Context(), w.m) }()
			g.wait(t, "the Enqueue's write of the message")
			if _, err := w.o.RunOnce(t.Context()); err != nil {
				t.Fatal(err)
			}
			g.release <- nil
			if err := answer(t, enq, "the Enqueue"); err != nil {
				t.Fatal(err)
			}
		}},
		{"a whole pass between the enqueue's marker and its message, which it then stops right after storing", func(t *testing.T, w world) {
			// The retried Enqueue finds the old marker there; a sender
			// runs its whole pass (lists the marker, finds no message,
			// deletes what it listed, finds none again) before the
			// message is stored, and the Enqueue stops right after that.
			g := w.gs.at("Put", w.msg)
			enq := make(chan error, 1)
			go func() { enq <- w.o.Enqueue(t.Context(), w.m) }()
			g.wait(t, "the Enqueue's write of the message")
			if _, err := w.o.RunOnce(t.Context()); err != nil {
				t.Fatal(err)
			}
			g.release <- errAfterWrite
			if err := answer(t, enq, "the Enqueue"); err == nil {
				t.Fatal("the Enqueue stopped after storing the message reported no error")
			}
		}},
		{"enqueue stopped right after storing the message", func(t *testing.T, w world) {
			g := w.gs.at("DeleteVersions", w.due)
			done := pass(t.Context(), w.o)
			g.wait(t, "the sender's delete of the marker")
			w.gs.at("Put", w.msg).release <- errAfterWrite
			if err := w.o.Enqueue(t.Context(), w.m); err == nil {
				t.Fatal("the Enqueue stopped after storing the message reported no error")
			}
			g.release <- nil
			if err := answer(t, done, "the sender's pass"); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testenv.OnEachStore(t, func(t *testing.T, store objstore.Store) {
				ctx := t.Context()
				clk := newClock()
				gs := newGateStore(store)
				o := New(Config{Meta: newMeta(t, gs, randomKey(t)), Transport: mailpitTransport(t, raw), Now: clk.Now})
				mp := raw.Outbox(sentIDs(o, "c-test"))
				pfx := prefix(t)
				m := testMessage(pfx, 0)
				w := world{gs: gs, o: o, m: m, due: dueKey(m.CaseID, m.ID), msg: msgKey(m.CaseID, m.ID)}
				// An Enqueue stopped long ago between its marker and its
				// message.
				if _, err := o.cfg.Meta.Create(ctx, w.due, dueMarker{NotBefore: clk.Now(), Created: clk.Now()}); err != nil {
					t.Fatal(err)
				}
				// The sender saw it then, and sees it unchanged
				// orphanAge later (dropOrphan).
				if _, err := o.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
				clk.Add(orphanAge + time.Minute)

				tc.race(t, w)

				got, err := o.Get(ctx, m.CaseID, m.ID)
				if err != nil || got.State != Pending {
					t.Fatalf("the message enqueued: %+v, %v", got, err)
				}
				var mk dueMarker
				if _, err := o.cfg.Meta.Get(ctx, w.due, &mk); err != nil {
					t.Fatalf("the pending message has no live due marker: %v", err)
				}
				if n, err := o.RunOnce(ctx); err != nil || n != 1 {
					t.Fatalf("the next pass: %d finished, %v", n, err)
				}
				if got := mp.WaitFor(t, pfx+"-0000", 1, 10*time.Second); len(got) != 1 {
					t.Fatalf("arrived %d times", len(got))
				}
				if got, err := o.Get(ctx, m.CaseID, m.ID); err != nil || got.State != Sent {
					t.Fatalf("the message after the pass: %+v, %v", got, err)
				}
				if n, err := o.RunOnce(ctx); err != nil || n != 0 {
					t.Fatalf("a pass after: %d finished, %v", n, err)
				}
				if got, err := mp.WithPrefix(pfx + "-0000"); err != nil || len(got) != 1 {
					t.Fatalf("arrived %d times (%v)", len(got), err)
				}
			})
		})
	}
}
