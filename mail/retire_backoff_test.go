package mail

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// refusingStore is a real store that refuses, for good, to delete any
// version of the keys starting with prefix (a bucket's default retention,
// or a missing DeleteObjectVersion permission), and counts those tries
// (prefix may be changed, under mu, to lift the refusal).
type refusingStore struct {
	objstore.Store
	prefix string
	mu     sync.Mutex
	tries  int
}

func (s *refusingStore) DeleteVersions(ctx context.Context, versions []objstore.Info) []error {
	s.mu.Lock()
	refuse := len(versions) > 0 && strings.HasPrefix(versions[0].Key, s.prefix)
	if refuse {
		s.tries++
	}
	s.mu.Unlock()
	if refuse {
		errs := make([]error, len(versions))
		for i := range errs {
			errs[i] = errors.New("access denied")
		}
		return errs
	}
	return s.Store.DeleteVersions(ctx, versions)
}

func (s *refusingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

// TestRetireRefusedBacksOff: when a final message's older versions cannot
// be deleted, for good, the sender does not try again at every pass: it
// waits longer after each failure and, after a few, removes the due
// marker, says so once in the log, and stops trying. The marker's
// versions are deleted by id, leaving no trace (no delete marker over
// versions kept), and the background sweep, which needs no marker,
// deletes the record's older versions once the store lets it. Only when
// the marker's versions cannot be deleted either is it hidden with a
// plain delete (directory store and MinIO).
func TestRetireRefusedBacksOff(t *testing.T) {
	raw := mailpit.FromEnv(t)
	for _, tc := range []struct {
		name   string
		refuse func(m Message) string // the key prefix whose versions the store will not delete
	}{
		{"the record's versions refused", func(m Message) string { return msgKey(m.CaseID, m.ID) }},
		{"every version refused", func(Message) string { return "outbox/" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testenv.OnEachStore(t, func(t *testing.T, store objstore.Store) {
				ctx := t.Context()
				clk := newClock()
				pfx := prefix(t)
				m := linkMessage(pfx, 0)
				rs := &refusingStore{Store: store, prefix: tc.refuse(m)}
				var logs lockedBuffer
				o := New(Config{Meta: newMeta(t, rs, randomKey(t)), Now: clk.Now, Transport: mailpitTransport(t, raw),
					Log: slog.New(slog.NewTextHandler(&logs, nil))})
				if err := o.Enqueue(ctx, m); err != nil {
					t.Fatal(err)
				}
				o.RunOnce(ctx) // sends it; the delete of its older versions is refused
				if got, err := o.Get(ctx, m.CaseID, m.ID); err != nil || got.State != Sent {
					t.Fatalf("the message: %+v, %v", got, err)
				}
				first := rs.count()
				// Passes at the same moment: at most one more try.
				for range 5 {
					o.RunOnce(ctx)
				}
				if n := rs.count() - first; n > 1 {
					t.Fatalf("%d tries to delete the older versions in 5 passes at the same moment", n)
				}
				// As time goes on, a few more tries, then the marker is gone.
				for range 40 {
					clk.Add(10 * time.Minute)
					o.RunOnce(ctx)
				}
				if n := rs.count() - first; n > 5 {
					t.Fatalf("%d tries to delete the older versions over 40 passes 10 minutes apart", n)
				}
				var mk dueMarker
				if _, err := o.cfg.Meta.Get(ctx, dueKey(m.CaseID, m.ID), &mk); !errors.Is(err, metastore.ErrNotFound) {
					t.Fatalf("the due marker after the tries: %v", err)
				}
				if n := strings.Count(logs.String(), "outbox final message: its stored versions could not be deleted"); n != 1 {
					t.Fatalf("logged %d times:\n%s", n, logs.String())
				}
				if got, err := o.Get(ctx, m.CaseID, m.ID); err != nil || got.State != Sent || !got.BodyCleared {
					t.Fatalf("the message after: %+v, %v", got, err)
				}
				vs, err := store.Versions(ctx, dueKey(m.CaseID, m.ID))
				if tc.refuse(m) == "outbox/" {
					// Hidden behind a delete marker: nothing else could stop the passes.
					if err != nil || len(vs) == 0 || !vs[0].DeleteMarker {
						t.Fatalf("the due marker's versions when none can be deleted: %+v, %v", vs, err)
					}
					return
				}
				if !errors.Is(err, objstore.ErrNotFound) {
					t.Fatalf("the due marker left stored versions (%v): %+v", err, vs)
				}
				// The store lets the record's older versions go: the sweep
				// deletes them.
				rs.mu.Lock()
				rs.prefix = "nothing/"
				rs.mu.Unlock()
				if _, err := o.sweepOlder(ctx, "outbox/cases/"+m.CaseID+"/"+pfx, "", 10); err != nil {
					t.Fatal(err)
				}
				if vs, err := store.Versions(ctx, msgKey(m.CaseID, m.ID)); err != nil || len(vs) != 1 {
					t.Fatalf("the record's versions after the sweep: %+v, %v", vs, err)
				}
			})
		})
	}
}
