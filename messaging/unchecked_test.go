package messaging

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// flakyEndedStore fails every history-ended check (Stat of rooms-ended/…)
// from the first segment write on, until the test calls heal; with end
// set, the room group's history is ended (a disposal's marker) as that
// write lands, as a marker that came between the check before the write
// and the write.
type flakyEndedStore struct {
	objstore.Store
	end     string // the room group to end, or ""
	failing atomic.Bool
	once    sync.Once
}

func (f *flakyEndedStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if err == nil && strings.HasPrefix(key, "rooms/") && strings.Contains(key, "/e0") {
		var endErr error
		f.once.Do(func() {
			f.failing.Store(true)
			if f.end != "" {
				endErr = EndHistory(ctx, f.Store, f.end)
			}
		})
		if endErr != nil {
			return info, endErr
		}
	}
	return info, err
}

func (f *flakyEndedStore) Stat(ctx context.Context, key string) (objstore.Info, error) {
	if strings.HasPrefix(key, endedRoot) && f.failing.Load() {
		return objstore.Info{}, fmt.Errorf("stat %s: %w", key, objstore.ErrUnavailable)
	}
	return f.Store.Stat(ctx, key)
}

func (f *flakyEndedStore) heal() { f.failing.Store(false) }

func owedChecks(s *Service) int {
	s.owedMu.Lock()
	defer s.owedMu.Unlock()
	return len(s.owed)
}

// TestUncheckedSegmentWriteIsNoFence: a segment write that landed but
// whose history-ended check after it failed counts as written; the check
// is made again at the next compaction, and the incarnation goes on. Before,
// the write was reported failed, its batches stayed in the tail, and the
// next compaction met its own segment, took it for a fence and started a
// new incarnation (every room of the node taken over). With a disposal's
// marker that came meanwhile, the owed check deletes the segment.
func TestUncheckedSegmentWriteIsNoFence(t *testing.T) {
	for name, open := range stores(t) {
		for _, ended := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ended=%v", name, ended), func(t *testing.T) {
				base := open(t)
				group := fmt.Sprintf("c_unchecked%d", time.Now().UnixNano())
				room := group + "/joint"
				f := &flakyEndedStore{Store: base}
				if ended {
					f.end = group
				}
				svc := newService(NewLog(f), NewMemory(), Options{}, neverCompact)
				defer svc.Close()
				live := &sink{}
				if _, err := svc.Subscribe(t.Context(), Room{ID: room, Name: "joint"}, "u1", "conn1", nil, live); err != nil {
					t.Fatal(err)
				}
				publishN(t, svc, room, "m", 1)
				inc := svc.current()
				if err := svc.compact(t.Context(), inc, true); err == nil {
					t.Fatal("the first compaction reported no failed check")
				}
				if n := owedChecks(svc); n != 1 {
					t.Fatalf("%d checks owed after the failed one, want 1", n)
				}
				f.heal()
				if err := svc.compact(t.Context(), svc.current(), true); err != nil {
					t.Fatalf("the second compaction: %v", err)
				}
				if svc.current() != inc {
					t.Fatal("the incarnation ended: its own segment was taken for a fence")
				}
				if n := owedChecks(svc); n != 0 {
					t.Fatalf("%d checks still owed", n)
				}
				if tailOf(svc, room) != 0 {
					t.Fatal("the written batch stayed in the tail")
				}
				if ended {
					if msgs := pageAll(t, base, room); len(msgs) != 0 {
						t.Fatalf("the ended room still holds %v", ids(msgs))
					}
					return
				}
				checkChain(t, pageAll(t, base, room), []string{"m0"})
				if _, err := svc.Publish(t.Context(), room, Message{ID: "m1", From: "u", Body: []byte("x")}); err != nil {
					t.Fatal(err)
				}
				if got := ids(waitMsgs(t, live, 2)); len(got) != 2 || got[0] != "m0" || got[1] != "m1" {
					t.Fatalf("delivered %v, want [m0 m1] once each", got)
				}
			})
		}
	}
}

// TestLostSegmentAnswerIsNoFence: a segment write that landed though its
// answer was lost, found again by the next compaction (whose tail has
// grown since) holding exactly what this node would have written of its
// first batches, counts those batches as written: no fence, no new
// incarnation, and the rest is compacted after it.
func TestLostSegmentAnswerIsNoFence(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			base := open(t)
			room := fmt.Sprintf("c_lostseg%d/joint", time.Now().UnixNano())
			svc := newService(NewLog(&lostAnswerStore{Store: base, match: "/e0"}), NewMemory(), Options{}, neverCompact)
			defer svc.Close()
			publishN(t, svc, room, "a", 2)
			inc := svc.current()
			if err := svc.compact(t.Context(), inc, true); err == nil {
				t.Fatal("the lost answer was not reported")
			}
			for i := range 3 {
				if _, err := svc.Publish(t.Context(), room, Message{ID: fmt.Sprint("b", i), From: "u", Body: []byte("x")}); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				if err := svc.compact(t.Context(), svc.current(), true); err != nil {
					t.Fatalf("compaction after the lost answer: %v", err)
				}
			}
			if svc.current() != inc {
				t.Fatal("the incarnation ended: its own segment was taken for a fence")
			}
			if tailOf(svc, room) != 0 {
				t.Fatalf("%d batches left in the tail", tailOf(svc, room))
			}
			checkChain(t, pageAll(t, base, room), []string{"a0", "a1", "b0", "b1", "b2"})
		})
	}
}
