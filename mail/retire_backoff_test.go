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
// or a missing DeleteObjectVersion permission), and counts those tries.
type refusingStore struct {
	objstore.Store
	prefix string
	mu     sync.Mutex
	tries  int
}

func (s *refusingStore) DeleteVersions(ctx context.Context, versions []objstore.Info) []error {
	if len(versions) > 0 && strings.HasPrefix(versions[0].Key, s.prefix) {
		s.mu.Lock()
		s.tries++
		s.mu.Unlock()
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
// marker with a plain delete, says so once in the log, and stops trying
// (the background sweep goes on trying the record's older versions, a
// record a round) (directory store and MinIO).
func TestRetireRefusedBacksOff(t *testing.T) {
	raw := mailpit.FromEnv(t)
	testenv.OnEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		clk := newClock()
		pfx := prefix(t)
		m := linkMessage(pfx, 0)
		rs := &refusingStore{Store: store, prefix: msgKey(m.CaseID, m.ID)}
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
	})
}
