package mail

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// countGets counts the reads of message records (outbox/cases/...).
type countGets struct {
	objstore.Store
	gets atomic.Int64
}

func (c *countGets) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if strings.HasPrefix(key, "outbox/cases/") {
		c.gets.Add(1)
	}
	return c.Store.Get(ctx, key, opts)
}

// notDelivered refuses for now every message it is given.
type notDelivered struct{ sends atomic.Int64 }

func (n *notDelivered) Send(context.Context, *Message) error {
	n.sends.Add(1)
	return fmt.Errorf("421 try later: %w", ErrNotDelivered)
}

// A pass with nothing due reads no message: 300 messages queued for next
// month cost 300 small marker reads, not 300 message records. A message
// put off for a retry is not read again before its next attempt, and is
// tried again at it.
func TestPassReadsOnlyDueMessages(t *testing.T) {
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &countGets{Store: dir}
	clk := newClock()
	tr := &notDelivered{}
	o := New(Config{Meta: newMeta(t, store, randomKey(t)), Transport: tr, Now: clk.Now, Backoff: time.Hour, MaxBackoff: time.Hour})
	ctx := t.Context()
	for i := range 300 {
		m := testMessage("later", i)
		m.NotBefore = clk.Now().Add(30 * 24 * time.Hour)
		if err := o.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	store.gets.Store(0)
	if n, err := o.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("RunOnce: %d, %v", n, err)
	}
	if got := store.gets.Load(); got != 0 {
		t.Fatalf("a pass with nothing due read %d message records", got)
	}

	if err := o.Enqueue(ctx, testMessage("now", 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := o.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := o.Get(ctx, "c-test", "now-0000")
	if err != nil {
		t.Fatal(err)
	}
	if m.State != Pending || tr.sends.Load() != 1 {
		t.Fatalf("after a refusal for now: %s, %d sends", m.State, tr.sends.Load())
	}
	store.gets.Store(0)
	clk.Add(m.NextAttempt.Sub(clk.Now()) - time.Second)
	o.RunOnce(ctx)
	if got := store.gets.Load(); got != 0 || tr.sends.Load() != 1 {
		t.Fatalf("a second before its retry: %d message reads, %d sends", got, tr.sends.Load())
	}
	clk.Add(time.Second)
	o.RunOnce(ctx)
	if tr.sends.Load() != 2 {
		t.Fatalf("at its retry time: %d sends, want 2", tr.sends.Load())
	}
}
