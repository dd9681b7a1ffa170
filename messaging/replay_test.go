package messaging

import (
	"fmt"
	"testing"
	"time"
)

// TestReplayWindowForgetsWithoutScanning: a replayed request id is
// refused within the window and forgotten after it, and checking a new
// request looks only at the expired entries (plus the first live one), not
// at every remembered request (issue #19: each forwarded request scanned
// the whole replay map).
func TestReplayWindowForgetsWithoutScanning(t *testing.T) {
	w := newReplayWindow(time.Minute)
	t0 := time.Unix(1_800_000_000, 0)
	const n = 10000
	for i := range n {
		if !w.firstTime(fmt.Sprint("r", i), t0.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("request %d refused the first time", i)
		}
	}
	if w.firstTime("r5", t0.Add(20*time.Second)) {
		t.Fatal("a replayed request inside the window was accepted")
	}
	w.examined = 0
	for i := range 1000 {
		w.firstTime(fmt.Sprint("new", i), t0.Add(20*time.Second))
	}
	if w.examined > 1000 {
		t.Fatalf("1,000 checks with nothing expired looked at %d entries; want at most one each", w.examined)
	}
	// Past the window the old requests r0…r5000 are forgotten, each
	// looked at once.
	w.examined = 0
	later := t0.Add(time.Minute + n/2*time.Millisecond + time.Millisecond/2)
	if !w.firstTime("r5", later) {
		t.Fatal("a request id older than the window is still refused")
	}
	if w.examined > n/2+3 {
		t.Fatalf("forgetting %d expired entries looked at %d", n/2, w.examined)
	}
	if got, want := w.len(), n-(n/2+1)+1000+1; got != want {
		t.Fatalf("remembers %d requests, want %d", got, want)
	}
	if w.firstTime("r9999", later) {
		t.Fatal("a live request id is accepted twice")
	}
}
