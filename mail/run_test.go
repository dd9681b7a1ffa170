package mail

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"
)

// sweepGoroutines counts the goroutines running the outbox's background
// sweep (runSweep), from a dump of every goroutine's stack.
func sweepGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("mail.(*Outbox).runSweep("))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestRunEndsItsSweep: the background sweep of older record versions
// runs on a goroutine the sender loop (Run) owns: it is there while Run
// runs, and once Run's context ends (a node's Close), Run returns and
// the sweep's goroutine is gone with it (bounded polls).
func TestRunEndsItsSweep(t *testing.T) {
	before := sweepGoroutines()
	o := New(Config{Meta: dirMeta(t)})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.Run(ctx)
	}()
	for deadline := time.Now().Add(10 * time.Second); sweepGoroutines() <= before; {
		if time.Now().After(deadline) {
			t.Fatal("no sweep goroutine while Run runs")
		}
		time.Sleep(10 * time.Millisecond) // the poll's interval
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return once its context ended")
	}
	for deadline := time.Now().Add(10 * time.Second); sweepGoroutines() > before; {
		if time.Now().After(deadline) {
			t.Fatal("the sweep goroutine still runs after Run returned")
		}
		time.Sleep(10 * time.Millisecond) // the poll's interval
	}
}
