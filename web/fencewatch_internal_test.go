package web

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
)

// TestFenceWatchChecksEachCaseOnce: without fence markers (marks nil),
// a watch checks each case its connections are to once a pass, however
// many connections are open to it; a case found fenced makes each of its
// connections re-check once (not every pass while it stays fenced), and again for a fence set anew
// after one was lifted; other cases' connections are left alone; and the
// checking goroutine ends once no connection is left.
func TestFenceWatchChecksEachCaseOnce(t *testing.T) {
	var mu sync.Mutex
	checks := map[string]int{}
	fenced := map[string]bool{}
	var passes atomic.Int64
	check := func(_ context.Context, id string, _ cases.FenceSeen) (cases.FenceSeen, error) {
		mu.Lock()
		defer mu.Unlock()
		checks[id]++
		if id == "c_a" {
			passes.Add(1)
		}
		return cases.FenceSeen{Fenced: fenced[id]}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newFenceWatch(ctx, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), check)
	var kickA, kickB atomic.Int64
	var removes []func()
	for range 3 {
		removes = append(removes, w.add("c_a", func() { kickA.Add(1) }))
	}
	for range 2 {
		removes = append(removes, w.add("c_b", func() { kickB.Add(1) }))
	}
	// waitPasses waits (bounded) until n more passes have checked c_a.
	waitPasses := func(n int64) {
		t.Helper()
		target := passes.Load() + n
		deadline := time.Now().Add(5 * time.Second)
		for passes.Load() < target {
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d passes in 5 s", n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitPasses(3)
	mu.Lock()
	a, b := checks["c_a"], checks["c_b"]
	fenced["c_a"] = true
	mu.Unlock()
	if b < a-1 || b > a+1 {
		t.Fatalf("c_a checked %d times, c_b %d: want once a pass each, not once per connection", a, b)
	}
	if kickA.Load() != 0 || kickB.Load() != 0 {
		t.Fatalf("connections kicked while nothing is fenced: %d %d", kickA.Load(), kickB.Load())
	}
	waitPasses(3)
	if got := kickA.Load(); got != 3 {
		t.Fatalf("c_a's 3 connections kicked %d times over 3 passes of a fenced case, want 3 (once each)", got)
	}
	if kickB.Load() != 0 {
		t.Fatalf("c_b's connections kicked for c_a's fence")
	}
	// Lifted: told, so refused connections take posts again at once.
	mu.Lock()
	fenced["c_a"] = false
	mu.Unlock()
	waitPasses(2)
	if got := kickA.Load(); got != 6 {
		t.Fatalf("c_a's connections kicked %d times after the fence was lifted, want 6 (once each more)", got)
	}
	// Fenced again: a new fence, told again.
	mu.Lock()
	fenced["c_a"] = true
	mu.Unlock()
	waitPasses(2)
	if got := kickA.Load(); got != 9 {
		t.Fatalf("c_a's connections kicked %d times after a second fence, want 9", got)
	}
	for _, rm := range removes {
		rm()
	}
	ended := make(chan struct{})
	go func() { w.wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the checking goroutine still runs with no connection open")
	}
	// A connection opened later starts it again.
	rm := w.add("c_b", func() {})
	mu.Lock()
	before := checks["c_b"]
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := checks["c_b"]
		mu.Unlock()
		if n > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no check after a connection opened again")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	rm()
	w.wait()
}

// TestFenceIntervalCapsTheRate: a node's passes come every fenceCheck
// while their record checks keep it under fenceRate checks a second, and
// are spaced out past that (each check is a store request).
func TestFenceIntervalCapsTheRate(t *testing.T) {
	for _, c := range []struct {
		cases int
		want  time.Duration
	}{
		{0, fenceCheck}, {1, fenceCheck}, {20, fenceCheck}, {21, 2100 * time.Millisecond}, {100, 10 * time.Second},
	} {
		got := fenceInterval(fenceCheck, c.cases)
		if got != c.want {
			t.Errorf("%d cases: every %v, want %v", c.cases, got, c.want)
		}
		if c.cases > 0 && float64(c.cases)/got.Seconds() > fenceRate {
			t.Errorf("%d cases every %v: over %d checks a second", c.cases, got, fenceRate)
		}
	}
}
