package messaging

import (
	"testing"
	"time"
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
		{"one client's message after message", gap, 1, time.Millisecond, 0},
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
