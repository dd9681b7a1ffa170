package audit

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func limitedLog(t *testing.T, lim DenialLimit) (*Log, *testClock) {
	t.Helper()
	l := openLog(t, newStore(t), newSigner(t, testOrigin, "k"))
	clock := &testClock{t: time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)}
	if err := l.SetDenialLimit(context.Background(), lim, clock.now); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l, clock
}

func denied(actor string) Event {
	return Event{Type: EventDenied, Actor: actor, Case: "case-42", Attrs: map[string]string{"action": "room.post"}}
}

// entriesFrom reads the log's entries from index from on, by type.
func entriesFrom(t *testing.T, l *Log, from int64) map[string][]Event {
	t.Helper()
	out := map[string][]Event{}
	for i := from; i < l.Size(); i++ {
		e, err := l.Entry(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		out[e.Type] = append(out[e.Type], e)
	}
	return out
}

func suppressedCount(t *testing.T, evs []Event) int {
	t.Helper()
	n := 0
	for _, e := range evs {
		c, err := strconv.Atoi(e.Attrs["count"])
		if err != nil {
			t.Fatalf("%s: count %q: %v", e.Type, e.Attrs["count"], err)
		}
		n += c
	}
	return n
}

// A party refused 1,000 times in a burst adds at most PerWindow+1 entries,
// and the entries count all 1,000 refusals; another party's refusals are
// audited in full meanwhile; once the window has ended the limiter holds
// nothing.
func TestRefusalFloodIsCounted(t *testing.T) {
	const perWindow, burst = 20, 1000
	l, clock := limitedLog(t, DenialLimit{PerWindow: perWindow, Window: time.Minute, MaxActors: 4096})
	ctx := context.Background()
	start := l.Size()

	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range burst / 10 {
				if _, err := l.Append(ctx, denied("acct-b")); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := l.Append(ctx, denied("acct-c")); err != nil {
			t.Fatal(err)
		}
	}
	if grew := l.Size() - start; grew > perWindow+3 {
		t.Fatalf("the log grew by %d entries for %d refusals of one party and 3 of another, want at most %d", grew, burst, perWindow+3)
	}
	if n, windows := l.denials.pending(); n != burst-perWindow || windows != 2 {
		t.Fatalf("pending = %d refusals in %d windows, want %d in 2", n, windows, burst-perWindow)
	}

	clock.advance(time.Minute)
	if _, err := l.Append(ctx, ev("doc.view", "acct-a")); err != nil {
		t.Fatal(err)
	}
	if n, windows := l.denials.pending(); n != 0 || windows != 0 {
		t.Fatalf("after the window: %d refusals in %d windows still held, want none", n, windows)
	}
	got := entriesFrom(t, l, start)
	if grew := l.Size() - start; grew > perWindow+1+3+1 {
		t.Fatalf("the log grew by %d entries, want at most %d", grew, perWindow+1+3+1)
	}
	var full int
	for _, e := range got[EventDenied] {
		if e.Actor == "acct-b" {
			full++
		}
	}
	if full != perWindow {
		t.Fatalf("%d of acct-b's refusals audited in full, want %d", full, perWindow)
	}
	if len(got[EventDenied]) != perWindow+3 {
		t.Fatalf("%d access.denied entries, want %d (acct-c's 3 in full)", len(got[EventDenied]), perWindow+3)
	}
	sup := got[EventDeniedSuppressed]
	if len(sup) != 1 || sup[0].Actor != "acct-b" || sup[0].Attrs["scope"] != "actor" {
		t.Fatalf("suppressed entries = %+v, want one for acct-b", sup)
	}
	if full+suppressedCount(t, sup) != burst {
		t.Fatalf("%d in full + %d counted, want %d", full, suppressedCount(t, sup), burst)
	}
	if sup[0].Attrs["from"] != "2026-12-06T23:00:00Z" || sup[0].Attrs["until"] != "2026-12-06T23:01:00Z" {
		t.Fatalf("window = %s to %s", sup[0].Attrs["from"], sup[0].Attrs["until"])
	}

	// A new window audits in full again.
	before := l.Size()
	if i, err := l.Append(ctx, denied("acct-b")); err != nil || i < before {
		t.Fatalf("first refusal of a new window: index %d, %v; want it written", i, err)
	}
}

// Close appends the count of a window still open: a clean shutdown loses
// no refusal from the count.
func TestRefusalCountWrittenOnClose(t *testing.T) {
	l, _ := limitedLog(t, DenialLimit{PerWindow: 5, Window: time.Minute, MaxActors: 16})
	ctx := context.Background()
	start := l.Size()
	for range 30 {
		if _, err := l.Append(ctx, denied("acct-b")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n, windows := l.denials.pending(); n != 0 || windows != 0 {
		t.Fatalf("after Close: %d refusals in %d windows held", n, windows)
	}
	got := entriesFrom(t, l, start)
	if len(got[EventDenied]) != 5 || suppressedCount(t, got[EventDeniedSuppressed]) != 25 || len(got[EventDeniedSuppressed]) != 1 {
		t.Fatalf("after Close: %d in full, %d suppressed entries counting %d; want 5, 1, 25",
			len(got[EventDenied]), len(got[EventDeniedSuppressed]), suppressedCount(t, got[EventDeniedSuppressed]))
	}
}

// The limiter's map is bounded: refusals of actors beyond MaxActors are
// counted in one node-wide window, whose count is appended when it ends.
func TestRefusalLimiterBounded(t *testing.T) {
	l, clock := limitedLog(t, DenialLimit{PerWindow: 1, Window: time.Minute, MaxActors: 2})
	ctx := context.Background()
	start := l.Size()
	for i := range 50 {
		if _, err := l.Append(ctx, denied("acct-"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, windows := l.denials.pending(); windows > 3 {
		t.Fatalf("%d windows held for 50 actors, want at most 3 (2 actors and the node's)", windows)
	}
	clock.advance(time.Minute + time.Second)
	if _, err := l.Append(ctx, ev("doc.view", "acct-a")); err != nil {
		t.Fatal(err)
	}
	got := entriesFrom(t, l, start)
	sup := got[EventDeniedSuppressed]
	if len(got[EventDenied]) != 2 || len(sup) != 1 || sup[0].Attrs["scope"] != "node" || sup[0].Actor != "" || suppressedCount(t, sup) != 48 {
		t.Fatalf("%d in full, suppressed %+v; want 2 in full and one node-wide count of 48", len(got[EventDenied]), sup)
	}
	if n, windows := l.denials.pending(); n != 0 || windows != 0 {
		t.Fatalf("after the window: %d refusals in %d windows held", n, windows)
	}
}

// After Close no timer is armed: a refusal counted after Close waits for
// the next append or Close (review: a timer armed after Close was never
// stopped, and could append once the node had let go of its store).
func TestNoCountTimerAfterClose(t *testing.T) {
	l, _ := limitedLog(t, DenialLimit{PerWindow: 1, Window: time.Minute, MaxActors: 16})
	ctx := context.Background()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := l.Append(ctx, denied("acct-c")); err != nil {
			t.Fatal(err)
		}
	}
	l.denials.mu.Lock()
	armed := l.denials.timer != nil
	l.denials.mu.Unlock()
	if armed {
		t.Fatal("a count timer was armed after Close")
	}
	start := l.Size()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := entriesFrom(t, l, start); suppressedCount(t, got[EventDeniedSuppressed]) != 2 {
		t.Fatalf("the second Close appended %d counted refusals, want 2", suppressedCount(t, got[EventDeniedSuppressed]))
	}
}
