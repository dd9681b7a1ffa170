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
