package messaging

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
)

// largeBody is the size of publishLarge's messages.
const largeBody = 4 << 10

// smallBounds is a catch-up and a page bounded at 64 KiB of bodies (16 of
// publishLarge's messages): the test scales the bounds down with the
// messages, which keeps it quick under the race detector.
var smallBounds = timing{probe: time.Hour, compact: time.Hour, sweep: time.Hour, catchUpBytes: 64 << 10, pageBytes: 64 << 10}

// publishLarge publishes n messages of largeBody bytes each to
// room, 16 at a time (committed in batches, as a client's pipelined
// publishes are).
func publishLarge(t *testing.T, svc *Service, room string, n int) {
	t.Helper()
	body := bytes.Repeat([]byte("z"), largeBody)
	var wg sync.WaitGroup
	ids := make(chan int, n)
	for i := range n {
		ids <- i
	}
	close(ids)
	for range 16 {
		wg.Go(func() {
			for i := range ids {
				if _, err := svc.Publish(t.Context(), room, Message{ID: fmt.Sprintf("big%d", i), From: "u", Body: body}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// bytesSink counts the bytes of the frames it is sent, as a send queue
// that is never read holds them.
type bytesSink struct {
	sink
	n int
}

func (s *bytesSink) Send(b []byte) bool {
	s.sink.mu.Lock()
	s.n += len(b)
	s.sink.mu.Unlock()
	return s.sink.Send(b)
}

// TestCatchUpBoundedByBytes: a resume whose gap holds more than
// maxCatchUpBytes of bodies (here scaled down: smallBounds), though far fewer than maxCatchUp messages,
// gets a reload naming the range to page over HTTP, and no catch-up
// frames: what waits in its send queue stays far under the bound. Before,
// the gap was bounded by messages only, and a resume from the start of a
// room a party had filled with 2,048 large messages queued some 128 MiB
// for that one subscriber, again on every subscribe. A gap under the
// bound is still sent over the socket.
func TestCatchUpBoundedByBytes(t *testing.T) {
	owner, _, _, _, room := catchUpNodesTimed(t, smallBounds)
	n := smallBounds.catchUpBytes/largeBody + 10 // just over the bound
	publishLarge(t, owner, room.ID, n)
	head := Position{Epoch: 1, Offset: int64(n)}
	for _, compacted := range []bool{false, true} {
		t.Run(fmt.Sprintf("compacted=%v", compacted), func(t *testing.T) {
			if compacted {
				if err := owner.compact(t.Context(), owner.current(), true); err != nil {
					t.Fatal(err)
				}
			}
			s := &bytesSink{}
			from := Position{Epoch: 1}
			if _, err := owner.Subscribe(t.Context(), room, "u1", "c-start", &from, s); err != nil {
				t.Fatal(err)
			}
			r := waitFrame(t, s.sinkOf(), api.FrameReload)
			if r == nil || r.From == nil || *r.From != from || r.Head == nil || *r.Head != head {
				t.Fatalf("want reload from %v to %v, got %+v (subscribed: %+v)", from, head, r, s.first(api.FrameSubscribed))
			}
			if got := s.msgs(); len(got) != 0 {
				t.Fatalf("%d messages sent over the socket beside the reload", len(got))
			}
			s.sink.mu.Lock()
			queued := s.n
			s.sink.mu.Unlock()
			if queued > 4<<10 {
				t.Fatalf("the resume queued %d bytes; want only the reload and presence", queued)
			}
			// A gap of 10 messages is under the bound: sent.
			s2 := &bytesSink{}
			from = Position{Epoch: 1, Offset: int64(n - 10)}
			if _, err := owner.Subscribe(t.Context(), room, "u2", "c-near", &from, s2); err != nil {
				t.Fatal(err)
			}
			if got := waitMsgs(t, s2.sinkOf(), 10); len(got) != 10 || got[0].Offset != from.Offset+1 {
				t.Fatalf("the near resume got %d messages (%v), want the 10 after %v", len(got), offsets(got), from)
			}
			if r := s2.first(api.FrameReload); r != nil {
				t.Fatalf("the near resume got a reload: %+v", r)
			}
		})
	}
}

func (s *bytesSink) sinkOf() *sink { return &s.sink }

// TestPageBoundedByBytes: a page of history asked for up to 500 messages
// of a room holding more than maxPageBytes of bodies (here scaled down:
// smallBounds) returns fewer, their
// bodies within the bound, and the position of the last; paging on from
// it returns the rest, each message once. Before, the page held as many
// messages as asked (500 of the largest: some 32 MiB for one response).
// Read from the owner's journaled tail and, once compacted, from the
// segments.
func TestPageBoundedByBytes(t *testing.T) {
	owner, reader, _, _, room := catchUpNodesTimed(t, smallBounds)
	n := 2*smallBounds.pageBytes/largeBody + 5
	publishLarge(t, owner, room.ID, n)
	for _, compacted := range []bool{false, true} {
		if compacted {
			if err := owner.compact(t.Context(), owner.current(), true); err != nil {
				t.Fatal(err)
			}
		}
		for name, svc := range map[string]*Service{"owner": owner, "reader": reader} {
			t.Run(fmt.Sprintf("%s/compacted=%v", name, compacted), func(t *testing.T) {
				pos, all, pages := Position{Epoch: 1}, 0, 0
				for range 10 {
					msgs, next, err := svc.Page(t.Context(), room.ID, pos, 500)
					if err != nil {
						t.Fatal(err)
					}
					if len(msgs) == 0 {
						break
					}
					pages++
					if size := bodyBytes(msgs); size > smallBounds.pageBytes {
						t.Fatalf("a page of %d messages holds %d bytes of bodies, over %d", len(msgs), size, smallBounds.pageBytes)
					}
					if msgs[0].Pos() != (Position{Epoch: 1, Offset: pos.Offset + 1}) || next != msgs[len(msgs)-1].Pos() {
						t.Fatalf("page after %v: %v..%v, next %v", pos, msgs[0].Pos(), msgs[len(msgs)-1].Pos(), next)
					}
					all += len(msgs)
					pos = next
				}
				if all != n || pages < 3 {
					t.Fatalf("paged %d messages in %d pages, want %d in at least 3", all, pages, n)
				}
			})
		}
	}
}
