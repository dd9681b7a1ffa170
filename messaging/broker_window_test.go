package messaging

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// The in-process broker's recent window holds the last windowBatches
// batches of a room, however many were remembered.
func TestMemoryWindowKeepsTheLastBatches(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	for _, n := range []int{1, windowBatches, windowBatches + 1, 2*windowBatches + 1, 3*windowBatches + 7} {
		room := fmt.Sprintf("r%d", n)
		for i := range n {
			if err := m.Remember(ctx, room, []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		got, err := m.Recent(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := max(0, n-windowBatches); i < n; i++ {
			want = append(want, fmt.Sprint(i))
		}
		var have []string
		for _, b := range got {
			have = append(have, string(b))
		}
		slices.Sort(want) // (the window is in no particular order)
		slices.Sort(have)
		if !slices.Equal(have, want) {
			t.Fatalf("%d remembered: window has %d batches, want the last %d", n, len(have), len(want))
		}
	}
}

// It also holds no more than windowBytes: a busy room's large batches
// push the oldest out sooner, and one batch larger than the bound is
// still kept (the newest always is).
func TestMemoryWindowIsBoundedInBytes(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	const size = 4 << 10
	per := windowBytes / size // batches of size that fit
	for i := range 3 * per {
		if err := m.Remember(ctx, "busy", slices.Repeat([]byte{byte(i)}, size)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := m.Recent(ctx, "busy")
	total := 0
	for _, b := range got {
		total += len(b)
	}
	if len(got) != per || total > windowBytes {
		t.Fatalf("window holds %d batches, %d bytes; want the last %d (at most %d bytes)", len(got), total, per, windowBytes)
	}
	if got[len(got)-1][0] != byte(3*per-1) || got[0][0] != byte(2*per) {
		t.Fatalf("window holds batches %d to %d; want the last %d", got[0][0], got[len(got)-1][0], per)
	}
	big := make([]byte, windowBytes+1)
	m.Remember(ctx, "busy", big)
	if got, _ := m.Recent(ctx, "busy"); len(got) != 1 || len(got[0]) != len(big) {
		t.Fatalf("after a batch larger than the bound the window holds %d batches; want only it", len(got))
	}
}
