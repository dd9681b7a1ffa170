package messaging

import (
	"fmt"
	"testing"
	"time"
)

// flushdb empties m's recent windows and head hints, as FLUSHDB does to
// Redis (subscriptions stay).
func (m *Memory) flushdb() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.window)
	clear(m.hints)
}

// TestCatchUpStopsAtTheHubsHead: a resume served from a segment that
// runs past what the hub has delivered (compaction merged the batches the
// hub has with ones whose broadcast it has not had yet) sends only up to
// the hub's head; the rest arrives once, with the hub's next delivery.
// Before, the catch-up sent the whole segment but recorded the
// subscription at the hub's head, so the batches after it were delivered
// again when the hub reached them (TestCheckedHistory: "delivery 418 is
// offset 418", after a kill moved a subscriber to a node behind the store
// and a flush had emptied the recent window).
func TestCatchUpStopsAtTheHubsHead(t *testing.T) {
	owner, reader, lossy, shared, room := catchUpNodes(t)

	// The reader's hub delivers m0..m2 (offsets 1..3) live.
	live := &sink{}
	if _, err := reader.Subscribe(t.Context(), room, "u1", "c1", nil, live); err != nil {
		t.Fatal(err)
	}
	publishN(t, owner, room.ID, "m", 3)
	waitMsgs(t, live, 3)
	// The broadcasts of m3..m5 are lost; the owner compacts all six into
	// one segment (1..6), and the recent window is flushed.
	lossy.drop.Store(true)
	publishN(t, owner, room.ID, "n", 3)
	if err := owner.compact(t.Context(), owner.current(), true); err != nil {
		t.Fatal(err)
	}
	// One segment, or nothing would run past the hub's head.
	if b, err := owner.log.ReadAt(t.Context(), room.ID, 1, 1); err != nil || b.End() != (Position{Epoch: 1, Offset: 6}) {
		t.Fatalf("the segment at 1/1: %v, %v; want one segment 1..6", b, err)
	}
	shared.flushdb()

	// A client that has offset 1 resumes on the reader, whose hub is at 3:
	// the catch-up (2..3) is read from the segment.
	resumed := &sink{}
	from := Position{Epoch: 1, Offset: 1}
	if _, err := reader.Subscribe(t.Context(), room, "u2", "c2", &from, resumed); err != nil {
		t.Fatal(err)
	}
	if f := waitFrame(t, resumed, "subscribed"); f == nil || f.Head == nil || *f.Head != (Position{Epoch: 1, Offset: 3}) {
		t.Fatalf("subscribed: %+v; want head 1/3", f)
	}
	// The next broadcast arrives: the hub fills 4..6 from the segment,
	// then delivers 7, to both subscribers.
	lossy.drop.Store(false)
	publishN(t, owner, room.ID, "p", 1)
	waitMsgs(t, live, 7)
	waitMsgs(t, resumed, 6)
	for name, s := range map[string]*sink{"live": live, "resumed": resumed} {
		got := s.msgs()
		first := int64(1)
		if s == resumed {
			first = 2
		}
		for i, m := range got {
			if m.Offset != first+int64(i) {
				t.Fatalf("%s: delivery %d is offset %d, want %d (a gap or a duplicate): %v", name, i, m.Offset, first+int64(i), offsets(got))
			}
		}
		if want := 7 - first + 1; int64(len(got)) != want {
			t.Fatalf("%s: %d delivered, want %d: %v", name, len(got), want, offsets(got))
		}
	}
}

// TestCatchUpFromEpochZero: a resume from the zero position ("before
// everything") against a hub at the start of epoch 1 sends nothing from
// the store: the hub delivers the room from its start, once. Before, the
// store read (epoch 0 read as epoch 1) sent the whole first segment past
// the hub's head, and the hub's gap fill sent it again ([1 2 3 1 2 3 4];
// review 256).
func TestCatchUpFromEpochZero(t *testing.T) {
	owner, reader, lossy, shared, room := catchUpNodes(t)

	// The reader's hub knows the empty room (head 1/0); the broadcasts of
	// m0..m2 are lost, they are compacted, and the window is flushed.
	live := &sink{}
	if _, err := reader.Subscribe(t.Context(), room, "u1", "c1", nil, live); err != nil {
		t.Fatal(err)
	}
	lossy.drop.Store(true)
	publishN(t, owner, room.ID, "m", 3)
	if err := owner.compact(t.Context(), owner.current(), true); err != nil {
		t.Fatal(err)
	}
	if b, err := owner.log.ReadAt(t.Context(), room.ID, 1, 1); err != nil || b.End() != (Position{Epoch: 1, Offset: 3}) {
		t.Fatalf("the segment at 1/1: %v, %v; want one segment 1..3", b, err)
	}
	shared.flushdb()

	resumed := &sink{}
	if _, err := reader.Subscribe(t.Context(), room, "u2", "c2", &Position{}, resumed); err != nil {
		t.Fatal(err)
	}
	if f := waitFrame(t, resumed, "subscribed"); f == nil || f.Head == nil || *f.Head != (Position{Epoch: 1}) {
		t.Fatalf("subscribed: %+v; want head 1/0", f)
	}
	lossy.drop.Store(false)
	publishN(t, owner, room.ID, "p", 1)
	waitMsgs(t, live, 4)
	waitMsgs(t, resumed, 4)
	for name, s := range map[string]*sink{"live": live, "resumed": resumed} {
		if got := offsets(s.msgs()); fmt.Sprint(got) != "[1 2 3 4]" {
			t.Fatalf("%s: delivered %v, want [1 2 3 4]", name, got)
		}
	}
}

// catchUpNodes is an owner, whose broadcasts the test can lose (lossy),
// and a reader beside it on one directory store and broker (shared), and a
// new room; nothing is compacted, probed or swept but by the test.
func catchUpNodes(t *testing.T) (owner, reader *Service, lossy *lossyBroker, shared *Memory, room Room) {
	t.Helper()
	return catchUpNodesTimed(t, timing{probe: time.Hour, compact: time.Hour, sweep: time.Hour})
}

// catchUpNodesTimed is catchUpNodes with still as both nodes' timing.
func catchUpNodesTimed(t *testing.T, still timing) (owner, reader *Service, lossy *lossyBroker, shared *Memory, room Room) {
	t.Helper()
	store := stores(t)["dir"](t)
	shared = NewMemory()
	lossy = &lossyBroker{Broker: shared}
	owner = newService(NewLog(store), lossy, Options{}, still)
	t.Cleanup(owner.Close)
	reader = newService(NewLog(store), shared, Options{}, still)
	t.Cleanup(reader.Close)
	return owner, reader, lossy, shared, Room{ID: fmt.Sprintf("c_catchup%d/joint", time.Now().UnixNano()), Name: "joint"}
}

func offsets(msgs []Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Offset
	}
	return out
}
