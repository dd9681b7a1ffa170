package messaging

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

// visitCounter counts the keys a listing hands back.
type visitCounter struct {
	*objstore.Dir
	visited int
}

func (v *visitCounter) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	return v.ListAfter(ctx, prefix, "", fn)
}

func (v *visitCounter) ListAfter(ctx context.Context, prefix, after string, fn func(objstore.Info) error) error {
	return v.Dir.ListAfter(ctx, prefix, after, func(i objstore.Info) error {
		v.visited++
		return fn(i)
	})
}

// TestBatchStartListsAWindow: finding the segment that holds a position
// lists at most the segments that can hold it (one segment is at most
// maxSegmentMessages long), not the whole epoch, and finds what a listing
// of the whole epoch finds, for positions inside segments, at their
// edges, before the first and past the last.
func TestBatchStartListsAWindow(t *testing.T) {
	d, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &visitCounter{Dir: d}
	l := NewLog(store)
	ctx := t.Context()
	const room, per, segments = "r_long", 64, 200 // 12,800 messages, past three windows
	var starts []int64
	for i := range segments {
		first := int64(1 + i*per)
		b := &Batch{Room: room, Epoch: 1, First: first}
		for j := range per {
			b.Msgs = append(b.Msgs, Message{Epoch: 1, Offset: first + int64(j), ID: strconv.Itoa(j), From: "u", Body: []byte("x")})
		}
		if err := l.appendSegment(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		starts = append(starts, first)
	}
	want := func(target int64) int64 {
		s := int64(-1)
		for _, f := range starts {
			if f <= target {
				s = f
			}
		}
		return s
	}
	r := rand.New(rand.NewPCG(19, 4))
	positions := []int64{0, 1, per - 1, per, per + 1, 4095, 4096, 4097, segments*per - 1, segments * per, segments*per + 100}
	for range 40 {
		positions = append(positions, r.Int64N(segments*per+100))
	}
	window := maxSegmentMessages/per + 2
	for _, off := range positions {
		store.visited = 0
		got, err := l.batchStartFor(ctx, room, Position{Epoch: 1, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		if w := want(off + 1); got != w {
			t.Errorf("after offset %d: segment %d, want %d", off, got, w)
		}
		if store.visited > window {
			t.Errorf("after offset %d: listed %d segments, want at most %d", off, store.visited, window)
		}
	}
	// Past the last segment by more than a window, the whole epoch is
	// listed once more to find the last one.
	store.visited = 0
	got, err := l.batchStartFor(ctx, room, Position{Epoch: 1, Offset: segments*per + 5000})
	if err != nil || got != starts[len(starts)-1] || store.visited < segments {
		t.Errorf("far past the end: %d (%v), listed %d", got, err, store.visited)
	}
	if !strings.HasPrefix(batchKey(room, 1, 1), epochPrefix(room, 1)) {
		t.Fatal("a segment's key is not under its epoch")
	}
}
