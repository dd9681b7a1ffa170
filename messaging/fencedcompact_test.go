package messaging

import (
	"fmt"
	"testing"
	"time"
)

// TestFencedNodeLearnsItAtCompaction: a node another node fenced (its
// journal ended with a tombstone, its rooms recovered and taken over)
// learns it at its next compaction and starts a new incarnation, though
// the segment it meets holds exactly the bytes it would have written (the
// recovering node merged the same batches). Taking that segment for its
// own lost-answer write kept it the rooms' owner in memory, serving their
// history without the new owner's messages.
func TestFencedNodeLearnsItAtCompaction(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			base := open(t)
			broker := NewMemory()
			room := fmt.Sprintf("c_fencedcmp%d/joint", time.Now().UnixNano())
			a := newService(NewLog(base), broker, Options{}, neverCompact)
			defer a.Close()
			b := newService(NewLog(base), broker, Options{}, neverCompact)
			defer b.Close()
			publishN(t, a, room, "a", 2)
			incA := a.current()
			incA.stopListening() // a looks gone: b's sweep fences it
			b.sweep(t.Context())
			if !recoveredBy(b, incA.id) {
				t.Fatal("b's sweep did not recover a's journal")
			}
			publishN(t, b, room, "b", 1)
			if err := a.compact(t.Context(), incA, true); err == nil {
				t.Error("a's compaction reported nothing though a was fenced")
			}
			if a.current() == incA {
				t.Fatal("a fenced node kept its incarnation: the recovered segment was taken for its own write")
			}
		})
	}
}
