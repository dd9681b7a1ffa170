package retention

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/vault"
)

// scanCounter counts the full searches a notice makes (each reads every
// stored version of the invite records: takeInventory).
type scanCounter struct {
	objstore.Store
	scans atomic.Int64
}

func (c *scanCounter) VersionsUnder(ctx context.Context, prefix string, fn func(objstore.Version) error) error {
	if prefix == "invites/" {
		c.scans.Add(1)
	}
	return c.Store.VersionsUnder(ctx, prefix, fn)
}

// refusingWrites refuses every write while refuse is set: an outbox over
// it cannot queue anything.
type refusingWrites struct {
	objstore.Store
	refuse atomic.Bool
}

var errStoreDown = errors.New("the store refused the write")

func (r *refusingWrites) Put(ctx context.Context, key string, body io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if r.refuse.Load() {
		return objstore.Info{}, errStoreDown
	}
	return r.Store.Put(ctx, key, body, size, opts)
}

// TestDueNoticeBacksOffAfterFailedPass: while the day's notice cannot be
// made (here the outbox cannot queue, so no day's record is written), a
// node does not rerun the full search every NoticeEvery: after a failed
// pass it waits Retry before the next. Three hours of failures cost four
// searches, not nineteen; once the outbox takes messages again, the next
// pass makes the notice.
func TestDueNoticeBacksOffAfterFailedPass(t *testing.T) {
	t.Parallel()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &scanCounter{Store: dir}
	e := newEnv(t, store)
	tc := e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes})
	e.close(t, tc)
	e.clock = e.clock.Add(20 * 24 * time.Hour)
	down := &refusingWrites{Store: dir}
	down.refuse.Store(true)
	key := make([]byte, 32)
	rand.Read(key)
	meta, err := metastore.New(down, key)
	if err != nil {
		t.Fatal(err)
	}
	out := mail.New(mail.Config{Meta: meta, Now: func() time.Time { return e.clock }})
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.ret.RunNotices(ctx, Notices{Outbox: out, Every: 10 * time.Minute, Retry: time.Hour})
		}()
		time.Sleep(3*time.Hour + time.Minute)
		synctest.Wait()
		if n := store.scans.Load(); n != 4 {
			t.Errorf("%d searches in three hours of failing passes, want 4 (at 0, 1, 2 and 3 hours)", n)
		}
		down.refuse.Store(false)
		time.Sleep(time.Hour)
		synctest.Wait()
		msgs, err := out.List(context.Background(), mail.NoticeOutbox)
		if err != nil || len(msgs) != 2 {
			t.Errorf("once the outbox takes messages again: %d notices, %v; want 2", len(msgs), err)
		}
		for _, m := range msgs {
			if !strings.HasPrefix(m.ID, "due-") {
				t.Errorf("unexpected message %s", m.ID)
			}
		}
		cancel()
		<-done
	})
}
