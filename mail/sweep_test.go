package mail

import (
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// TestSweepDeletesOlderBodiesLeftByEarlierRelease: a message made final
// by the previous release had its body cleared but its older record
// versions, which hold the link, kept, and its due marker hidden behind
// a delete marker, so no pass of the sender visits it again. The
// background sweep (sweepOlder), a few keys a pass and resuming where the
// last pass stopped, deletes those older versions, never the newest, and
// leaves alone a pending message's versions and those of a final message
// whose body was kept (a failed one without a link, which a mediator may
// resend) (directory store and MinIO).
func TestSweepDeletesOlderBodiesLeftByEarlierRelease(t *testing.T) {
	testenv.OnEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		clk := newClock()
		meta := newMeta(t, store, randomKey(t))
		o := New(Config{Meta: meta, Now: clk.Now})
		pfx := prefix(t)
		const old = 5 // messages 0..4 final by the earlier release; 5 pending; 6 failed, body kept
		for i := range old + 2 {
			m := linkMessage(pfx, i)
			if i == old+1 {
				m = testMessage(pfx, i)
			}
			if err := o.Enqueue(ctx, m); err != nil {
				t.Fatal(err)
			}
			key := msgKey(m.CaseID, m.ID)
			// A claim, then the outcome, as the earlier release wrote them.
			if _, err := metastore.Update(ctx, meta, key, func(r *Message) error { r.Attempts = 1; return nil }); err != nil {
				t.Fatal(err)
			}
			if i == old {
				continue
			}
			if _, err := metastore.Update(ctx, meta, key, func(r *Message) error {
				now := clk.Now()
				r.State, r.Done = Sent, &now
				if i == old+1 {
					r.State, r.LastError = Failed, "refused"
				}
				finish(r)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := meta.Delete(ctx, dueKey(m.CaseID, m.ID)); err != nil {
				t.Fatal(err)
			}
		}
		versions := func(i int) []objstore.Version {
			t.Helper()
			vs, err := store.Versions(ctx, msgKey("c-test", testMessage(pfx, i).ID))
			if err != nil {
				t.Fatal(err)
			}
			return vs
		}
		for i := range old + 2 {
			if n := len(versions(i)); n < 2 {
				t.Fatalf("message %d: %d versions before the sweep", i, n)
			}
		}
		// A pass over at most 2 keys; the walk goes round.
		after := ""
		for pass := 0; pass < 8; pass++ {
			next, err := o.sweepOlder(ctx, "outbox/cases/c-test/"+pfx, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if pass < 3 && next == "" {
				t.Fatalf("pass %d: the walk went round after at most 2 keys a pass over 7", pass)
			}
			after = next
		}
		for i := range old {
			vs := versions(i)
			if len(vs) != 1 {
				t.Fatalf("message %d: %d versions after the sweep, want the newest only", i, len(vs))
			}
			var r Message
			if _, err := meta.GetVersion(ctx, vs[0].Key, vs[0].VersionID, &r); err != nil || r.State != Sent || !r.BodyCleared || strings.Contains(r.Text, linkToken) {
				t.Fatalf("message %d: the version kept: %+v, %v", i, r, err)
			}
		}
		if n := len(versions(old)); n != 2 {
			t.Fatalf("the pending message: %d versions after the sweep, want 2", n)
		}
		if n := len(versions(old + 1)); n != 3 {
			t.Fatalf("the failed message that keeps its body: %d versions after the sweep, want 3", n)
		}
	})
}
