package messaging

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// TestJournalWait: only a busy node's object-store journal waits, and
// only for what is left of the gap since its last write began.
func TestJournalWait(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	gap := 50 * time.Millisecond
	for _, c := range []struct {
		name    string
		gap     time.Duration
		batches int
		since   time.Duration
		want    time.Duration
	}{
		{"busy, just written", gap, busyJournal, 10 * time.Millisecond, 40 * time.Millisecond},
		{"busy, write took longer than the gap", gap, 100, 70 * time.Millisecond, 0},
		{"busy, exactly the gap", gap, busyJournal, gap, 0},
		{"one room's traffic (at most pipelineDepth in flight)", gap, pipelineDepth, time.Millisecond, 0},
		{"just under busy", gap, busyJournal - 1, time.Millisecond, 0},
		{"local journal (no gap)", 0, 1000, time.Millisecond, 0},
		{"first write", gap, 0, 0, 0},
	} {
		if got := journalWait(c.gap, t0, c.batches, t0.Add(c.since)); got != c.want {
			t.Errorf("%s: wait %v, want %v", c.name, got, c.want)
		}
	}
	if defaultTiming.journalGap != objectJournalGap {
		t.Errorf("a node's default journal gap is %v, want %v", defaultTiming.journalGap, objectJournalGap)
	}
}

// TestJournalPauseEndsAtClose: on an object-store journal, a write taken
// with busyJournal batches or more waiting pauses for the gap (here an
// hour), and Close during the pause answers every caller waiting on it
// at once.
func TestJournalPauseEndsAtClose(t *testing.T) {
	d, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g := &gateStore{Store: d, gate: make(chan struct{}), waiting: make(chan struct{}, 1)}
	tm := neverCompact
	tm.journalGap = time.Hour
	svc := newService(NewLog(g), NewMemory(), Options{}, tm)
	publish := func(room string, out chan<- error) {
		_, err := svc.Publish(context.Background(), room, Message{ID: "m-" + room, From: "u", Body: []byte("x")})
		out <- err
	}
	first := make(chan error, 1)
	go publish("r_gap_first", first)
	select { // the first write waits at the gate
	case <-g.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the first journal write never started")
	}
	const n = 2 * busyJournal
	paused := make(chan error, n)
	for i := range n {
		go publish(fmt.Sprintf("r_gap_%d", i), paused)
	}
	waitFor(t, func() bool { return len(svc.journalQ) == n })
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatalf("the first write: %v", err)
	}
	// The journal took the next write with n waiting and pauses: the
	// rest stay queued (without the pause they would be gathered and
	// written at once).
	waitFor(t, func() bool { return len(svc.journalQ) == n-1 })
	closed := make(chan struct{})
	go func() { svc.Close(); close(closed) }()
	for i := range n {
		select {
		case err := <-paused:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("a caller waiting on the paused write got %v, want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d callers not answered after Close", n-i, n)
		}
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while the journal paused")
	}
}
