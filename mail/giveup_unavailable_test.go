package mail

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
)

// silentDueStore is a real store that refuses, for good, to delete the
// versions of keys under refuse, and does not answer (ErrUnavailable)
// deletes of keys under silent while silent is set.
type silentDueStore struct {
	objstore.Store
	refuse string
	mu     sync.Mutex
	silent string
}

func (s *silentDueStore) DeleteVersions(ctx context.Context, versions []objstore.Info) []error {
	s.mu.Lock()
	silent := s.silent
	s.mu.Unlock()
	if len(versions) > 0 && (strings.HasPrefix(versions[0].Key, s.refuse) || (silent != "" && strings.HasPrefix(versions[0].Key, silent))) {
		errs := make([]error, len(versions))
		for i := range errs {
			if strings.HasPrefix(versions[0].Key, s.refuse) {
				errs[i] = fmt.Errorf("access denied")
			} else {
				errs[i] = fmt.Errorf("delete %s: %w", versions[0].Key, objstore.ErrUnavailable)
			}
		}
		return errs
	}
	return s.Store.DeleteVersions(ctx, versions)
}

// TestGiveUpLeavesMarkerWhenStoreDoesNotAnswer: a final message whose
// older versions cannot be deleted is given up after a few tries, and
// its due marker removed by version id. If the store does not answer the
// marker's deletes at that moment, the marker is not hidden behind a
// delete marker (before: any error fell back to a plain delete): it stays
// live, and once the store answers a later pass removes its versions by
// id, leaving none (directory store and MinIO).
func TestGiveUpLeavesMarkerWhenStoreDoesNotAnswer(t *testing.T) {
	raw := mailpit.FromEnv(t)
	testenv.OnEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		clk := newClock()
		m := linkMessage(prefix(t), 0)
		ss := &silentDueStore{Store: store, refuse: msgKey(m.CaseID, m.ID), silent: dueKey(m.CaseID, m.ID)}
		o := New(Config{Meta: newMeta(t, ss, randomKey(t)), Now: clk.Now, Transport: mailpitTransport(t, raw)})
		if err := o.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		for range 40 { // sends it, then tries to retire it until it gives up
			o.RunOnce(ctx)
			clk.Add(10 * time.Minute)
		}
		vs, err := store.Versions(ctx, dueKey(m.CaseID, m.ID))
		if err != nil || len(vs) == 0 || vs[0].DeleteMarker {
			t.Fatalf("the due marker while the store did not answer its deletes: %+v, %v (want live)", vs, err)
		}
		ss.mu.Lock()
		ss.silent = ""
		ss.mu.Unlock()
		for range 40 {
			o.RunOnce(ctx)
			clk.Add(10 * time.Minute)
		}
		if vs, err := store.Versions(ctx, dueKey(m.CaseID, m.ID)); err == nil {
			t.Fatalf("the due marker once the store answers: %+v (want no version, no delete marker)", vs)
		}
	})
}
