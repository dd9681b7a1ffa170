package messaging

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
)

// heldBroadcasts is an in-process broker whose batch broadcasts (as with
// Redis, sent after the acknowledgement) wait until release is closed.
type heldBroadcasts struct {
	*Memory
	release chan struct{}
}

func (b heldBroadcasts) Broadcast(ctx context.Context, rooms []roomBroadcasts) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, rb := range rooms {
		for _, it := range rb.items {
			b.Remember(ctx, rb.room, it.window)
			b.SetHeadHint(ctx, rb.room, it.head)
			b.Publish(ctx, rb.topic, it.msg)
		}
	}
	return nil
}

// TestOwnerJoinBeforeItsBroadcasts: on the node that owns a room, a
// subscriber joining after a message was acknowledged but before its
// broadcast reached the broker starts at that message, a resume from the
// beginning is served, and the next message arrives at once. Before, the
// hub took its head from the broker's hint and the store, both behind
// the owner's journal; it skips its own broadcasts, so the next message
// found a gap the store could fill only after compaction (issue #19
// review: seconds of silence for a party whose socket opened right after
// joining).
func TestOwnerJoinBeforeItsBroadcasts(t *testing.T) {
	store := stores(t)["dir"](t)
	broker := heldBroadcasts{Memory: NewMemory(), release: make(chan struct{})}
	// Nothing is compacted during the test: only the journal has the room.
	s := newService(NewLog(store), broker, Options{}, timing{probe: time.Hour, compact: time.Hour, sweep: time.Hour})
	defer s.Close()
	defer close(broker.release)
	room := Room{ID: fmt.Sprintf("c_ownjoin%d/joint", time.Now().UnixNano()), Name: "joint"}
	publishN(t, s, room.ID, "m", 2)

	live := &sink{}
	if _, err := s.Subscribe(t.Context(), room, "u1", "c1", nil, live); err != nil {
		t.Fatal(err)
	}
	if f := waitFrame(t, live, api.FrameSubscribed); f.Head == nil || f.Head.Offset != 2 {
		t.Fatalf("joined at %+v; want the head after m0 and m1 (offset 2)", f.Head)
	}
	resumed := &sink{}
	from := Position{Epoch: 1, Offset: 0}
	if _, err := s.Subscribe(t.Context(), room, "u2", "c2", &from, resumed); err != nil {
		t.Fatal(err)
	}
	if f := waitFrame(t, resumed, api.FrameSubscribed); f.Head == nil || f.Head.Offset != 2 {
		t.Fatalf("resume from the start: %+v, reload %v; want subscribed at offset 2", f, resumed.first(api.FrameReload) != nil)
	}
	if got := ids(waitMsgs(t, resumed, 2)); fmt.Sprint(got) != "[m0 m1]" {
		t.Fatalf("resume from the start caught up %v", got)
	}

	if _, err := s.Publish(t.Context(), room.ID, Message{ID: "m2", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(func() bool { return len(live.msgs()) > 0 }) {
		t.Fatal("m2 never reached the subscriber on the owner")
	}
	if got := ids(live.msgs()); fmt.Sprint(got) != "[m2]" {
		t.Fatalf("the subscriber on the owner got %v; want [m2]", got)
	}
}

// stuckSink holds the hub that sends to it until release is closed, as a
// hub busy elsewhere would be.
type stuckSink struct {
	sink
	entered chan struct{} // gets a value when a send waits
	release chan struct{}
}

func (s *stuckSink) Send(b []byte) bool {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.sink.Send(b)
}

// TestOwnerHubCatchesUpFromItsJournal: on a room's owner, batches that
// found its hub's inbox full reach the subscriber from what the owner has
// journaled, before any compaction. Before, the hub read them from the
// store only, which has them once compacted (here: never).
func TestOwnerHubCatchesUpFromItsJournal(t *testing.T) {
	store := stores(t)["dir"](t)
	s := newService(NewLog(store), NewMemory(), Options{}, timing{probe: 20 * time.Millisecond, compact: time.Hour, sweep: time.Hour})
	defer s.Close()
	room := Room{ID: fmt.Sprintf("c_owninbox%d/joint", time.Now().UnixNano()), Name: "joint"}
	overflowInbox(t, s, s, room)
}

// TestNonOwnerHubCatchesUpFromTheOwnersJournal: on a node that does not
// own the room, batches that found its hub's inbox full reach the
// subscriber from the owner's journaled tail, before any compaction.
// Before, the hub read them from the segments only, which have them once
// the owner compacts (here: never), so the subscriber waited.
func TestNonOwnerHubCatchesUpFromTheOwnersJournal(t *testing.T) {
	store := stores(t)["dir"](t)
	broker := NewMemory()
	fast := timing{probe: 20 * time.Millisecond, compact: time.Hour, sweep: time.Hour}
	owner := newService(NewLog(store), broker, Options{}, fast)
	defer owner.Close()
	other := newService(NewLog(store), broker, Options{}, fast)
	defer other.Close()
	room := Room{ID: fmt.Sprintf("c_otherinbox%d/joint", time.Now().UnixNano()), Name: "joint"}
	overflowInbox(t, owner, other, room)
}

// overflowInbox has owner (which comes to own room) publish while a
// subscriber on sub (owner itself, or another node) holds the room's hub
// in its join, past the hub's inbox, and checks that the subscriber then
// gets every message, in order.
func overflowInbox(t *testing.T, owner, sub *Service, room Room) {
	t.Helper()
	publishN(t, owner, room.ID, "m", 1)
	stuck := &stuckSink{entered: make(chan struct{}, 1), release: make(chan struct{})}
	released := false
	defer func() {
		if !released {
			close(stuck.release)
		}
	}()
	joined := make(chan error, 1)
	go func() {
		_, err := sub.Subscribe(context.Background(), room, "u1", "c1", nil, stuck)
		joined <- err
	}()
	// The join's own "subscribed" frame holds the hub: every batch
	// published meanwhile waits in its inbox, and those past its
	// capacity are dropped from it.
	select {
	case <-stuck.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the join never sent its first frame")
	}
	n := hubInbox + 20
	publishN(t, owner, room.ID, "x", n)
	close(stuck.release)
	released = true
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	if !pollUntil(func() bool { return len(stuck.msgs()) >= n }) {
		t.Fatalf("the subscriber got %d of %d messages", len(stuck.msgs()), n)
	}
	for i, m := range stuck.msgs() {
		if want := fmt.Sprintf("x%d", i); m.ID != want {
			t.Fatalf("message %d is %s, want %s", i, m.ID, want)
		}
	}
}
