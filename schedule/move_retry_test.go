package schedule

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// beforeWrite runs hook once, just before the first conditional write of
// a session record reaches the store: a concurrent change in between a
// read and its write.
type beforeWrite struct {
	objstore.Store
	mu   sync.Mutex
	hook func()
}

func (b *beforeWrite) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	b.mu.Lock()
	hook := b.hook
	if hook != nil && opts.IfMatch != "" && strings.HasPrefix(key, "sessions/") {
		b.hook = nil
	} else {
		hook = nil
	}
	b.mu.Unlock()
	if hook != nil {
		hook()
	}
	return b.Store.Put(ctx, key, r, size, opts)
}

// A Move that keeps the zone and length ("" and 0) takes them from the
// session as it is when the write succeeds: when another change of the
// zone and length lands between its read and its write, the retry uses
// the new ones, not those of the first read.
func TestMoveRetryKeepsCurrentZoneAndLength(t *testing.T) {
	bw := &beforeWrite{}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { bw.Store = s; return bw })
	ctx := t.Context()
	start := e.clock.Now().Add(7 * 24 * time.Hour).Truncate(time.Hour)
	sess, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start, "Europe/Berlin"), TimeZone: "Europe/Berlin", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	bw.mu.Lock()
	bw.hook = func() {
		if _, err := metastore.Update(ctx, e.svc.cfg.Meta, sessionKey(e.c.ID, sess.ID), func(s *Session) error {
			s.TimeZone, s.Minutes = "Asia/Tokyo", 90
			s.Sequence++
			return nil
		}); err != nil {
			t.Error(err)
		}
	}
	bw.mu.Unlock()
	newStart := local(start.Add(24*time.Hour), "Asia/Tokyo")
	got, err := e.svc.Move(ctx, e.mediator, e.c.ID, sess.ID, newStart, "", 0, "room unavailable")
	if err != nil {
		t.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	want, _ := time.ParseInLocation(LocalLayout, newStart, tokyo)
	if got.TimeZone != "Asia/Tokyo" || got.Minutes != 90 || !got.Start.Equal(want) || got.Sequence != 2 {
		t.Fatalf("moved to %s in %s for %d min (sequence %d), want %s in Asia/Tokyo for 90 min (sequence 2)",
			got.Start, got.TimeZone, got.Minutes, got.Sequence, want)
	}
}
