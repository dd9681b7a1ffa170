package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
)

// presenceOf is every presence frame s holds about user, in order.
func (s *sink) presenceOf(user string) []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bool
	for _, f := range s.frames {
		if f.Type == api.FramePresence && f.User == user {
			out = append(out, f.Here)
		}
	}
	return out
}

// TestPresenceLeavesWithTheLastConnection: a user with two connections to
// a room on this node (two tabs, a phone and a laptop) who closes one is
// still there; the room is told they left only when the last one closes.
// Before, closing either told the room here:false, and the browser (which
// keeps presence from these frames alone) showed them gone while they
// were still in the room. Whether the first close announced anything is
// read after a marker: another user's leaving, announced through the same
// path after it.
func TestPresenceLeavesWithTheLastConnection(t *testing.T) {
	s := NewService(NewLog(stores(t)["dir"](t)), NewMemory(), Options{})
	defer s.Close()
	room := Room{ID: fmt.Sprintf("c_here%d/joint", time.Now().UnixNano()), Name: "joint"}
	watcher := &sink{}
	if _, err := s.Subscribe(t.Context(), room, "watcher", "w1", nil, watcher); err != nil {
		t.Fatal(err)
	}
	tab1, err := s.Subscribe(t.Context(), room, "ada", "ada-1", nil, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	tab2, err := s.Subscribe(t.Context(), room, "ada", "ada-2", nil, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	marker := func(conn string) {
		t.Helper()
		before := len(watcher.presenceOf("marker"))
		m, err := s.Subscribe(t.Context(), room, "marker", conn, nil, &sink{})
		if err != nil {
			t.Fatal(err)
		}
		m.Unsubscribe(t.Context())
		if !pollUntil(func() bool {
			got := watcher.presenceOf("marker")
			return len(got) >= before+2 && !got[len(got)-1]
		}) {
			t.Fatalf("the marker's leaving never arrived: %v", watcher.presenceOf("marker"))
		}
	}

	tab1.Unsubscribe(t.Context())
	marker("m1")
	if got := watcher.presenceOf("ada"); len(got) == 0 || !got[len(got)-1] {
		t.Fatalf("after one of two connections closed, the room was told %v about ada; want her still here", got)
	}
	if users, err := s.broker.Presence(t.Context(), room.ID); err != nil || !slices.Contains(users, "ada") {
		t.Fatalf("presence after one close: %v %v", users, err)
	}

	tab2.Unsubscribe(t.Context())
	if !pollUntil(func() bool {
		got := watcher.presenceOf("ada")
		return len(got) > 0 && !got[len(got)-1]
	}) {
		t.Fatalf("after her last connection closed, the room was told %v about ada; want here:false last", watcher.presenceOf("ada"))
	}
	// Closing the same connection again announces nothing more.
	n := len(watcher.presenceOf("ada"))
	tab2.Unsubscribe(t.Context())
	marker("m2")
	if got := watcher.presenceOf("ada"); len(got) != n {
		t.Fatalf("a second Unsubscribe announced again: %v", got)
	}
}

// TestPresenceLeavesOnOverflow: a user whose last connection to a room is
// dropped for falling behind (its send queue full) leaves the room: its
// presence entry goes and the room is told here:false. Before, the drop
// ended the subscription without either, the later Unsubscribe found it
// ended and did nothing, and a user who did not reconnect was shown
// present to everyone else until their browsers reloaded.
func TestPresenceLeavesOnOverflow(t *testing.T) {
	s := NewService(NewLog(stores(t)["dir"](t)), NewMemory(), Options{})
	defer s.Close()
	room := Room{ID: fmt.Sprintf("c_over%d/joint", time.Now().UnixNano()), Name: "joint"}
	watcher := &sink{}
	if _, err := s.Subscribe(t.Context(), room, "watcher", "w1", nil, watcher); err != nil {
		t.Fatal(err)
	}
	slow := &sink{}
	if _, err := s.Subscribe(t.Context(), room, "ada", "ada-1", nil, slow); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(func() bool { got := watcher.presenceOf("ada"); return len(got) > 0 && got[len(got)-1] }) {
		t.Fatal("ada's joining never arrived")
	}
	// From now on ada's queue takes nothing more.
	slow.mu.Lock()
	slow.cap = len(slow.frames)
	slow.mu.Unlock()
	if _, err := s.Publish(t.Context(), room.ID, Message{ID: "m1", From: "watcher", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(slow.overflow.Load) {
		t.Fatal("ada's full queue was never dropped")
	}
	if !pollUntil(func() bool { got := watcher.presenceOf("ada"); return len(got) > 0 && !got[len(got)-1] }) {
		t.Fatalf("ada's only connection was dropped, and the room was told %v about her; want here:false last", watcher.presenceOf("ada"))
	}
	if users, err := s.broker.Presence(t.Context(), room.ID); err != nil || slices.Contains(users, "ada") {
		t.Fatalf("presence after the drop: %v %v; want ada gone", users, err)
	}
}

// slowLeave is a Broker (the in-process one beneath) whose removal of one
// connection's presence entry waits until released, as a Redis round
// trip can.
type slowLeave struct {
	Broker
	conn    string
	entered chan struct{}
	release chan struct{}
}

func (b *slowLeave) SetPresence(ctx context.Context, room, conn, user string, ttl time.Duration) {
	if ttl == 0 && conn == b.conn {
		close(b.entered)
		<-b.release
	}
	b.Broker.SetPresence(ctx, room, conn, user, ttl)
}

// TestPresenceLeaveNotAfterRejoin: a user closes their only connection to
// a room and, while that close is still removing its presence entry (a
// broker round trip), opens another, which announces here:true. The
// close's here:false must not arrive after it: the room would show the
// user gone while they are in it. Before, the close decided "last
// connection" before its round trip and announced after it, whatever had
// joined meanwhile.
func TestPresenceLeaveNotAfterRejoin(t *testing.T) {
	b := &slowLeave{Broker: NewMemory(), conn: "ada-1", entered: make(chan struct{}), release: make(chan struct{})}
	s := NewService(NewLog(stores(t)["dir"](t)), b, Options{})
	defer s.Close()
	room := Room{ID: fmt.Sprintf("c_back%d/joint", time.Now().UnixNano()), Name: "joint"}
	watcher := &sink{}
	if _, err := s.Subscribe(t.Context(), room, "watcher", "w1", nil, watcher); err != nil {
		t.Fatal(err)
	}
	tab1, err := s.Subscribe(t.Context(), room, "ada", "ada-1", nil, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		tab1.Unsubscribe(context.Background())
	}()
	select {
	case <-b.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the close never removed its presence entry")
	}
	if _, err := s.Subscribe(t.Context(), room, "ada", "ada-2", nil, &sink{}); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(func() bool { return len(watcher.presenceOf("ada")) >= 2 }) {
		t.Fatalf("ada's second joining never arrived: %v", watcher.presenceOf("ada"))
	}
	close(b.release)
	<-closed
	// A marker's leaving, announced after the close returned, bounds
	// what the close could still announce.
	m, err := s.Subscribe(t.Context(), room, "marker", "m1", nil, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	m.Unsubscribe(t.Context())
	if !pollUntil(func() bool { got := watcher.presenceOf("marker"); return len(got) >= 2 && !got[len(got)-1] }) {
		t.Fatal("the marker's leaving never arrived")
	}
	if got := watcher.presenceOf("ada"); !got[len(got)-1] {
		t.Fatalf("ada came back before her first close finished, and the room was told %v; want here:true last", got)
	}
}

// TestPresenceAcrossNodes: a user connected to a room through two nodes
// (a phone and a laptop behind a load balancer with no sticky sessions)
// who closes one is still here; the room hears they left only when the
// other closes too. Before, the node whose last connection of theirs
// closed told the room here:false without looking at the other node's
// presence entry, and everyone saw them gone while they were in the room.
// Two last connections closing at the same moment, on the two nodes,
// still end in here:false.
func TestPresenceAcrossNodes(t *testing.T) {
	for bname, mk := range brokers(t) {
		t.Run(bname, func(t *testing.T) {
			store := stores(t)["dir"](t)
			ba, bb := mk(t)
			a, b := NewService(NewLog(store), ba, Options{}), NewService(NewLog(store), bb, Options{})
			defer a.Close()
			defer b.Close()
			room := Room{ID: fmt.Sprintf("c_nodes%d/joint", time.Now().UnixNano()), Name: "joint"}
			watcher := &sink{}
			if _, err := a.Subscribe(t.Context(), room, "watcher", "w1", nil, watcher); err != nil {
				t.Fatal(err)
			}
			marks := 0
			marker := func() {
				t.Helper()
				marks++
				before := len(watcher.presenceOf("marker"))
				m, err := b.Subscribe(t.Context(), room, "marker", fmt.Sprintf("m%d", marks), nil, &sink{})
				if err != nil {
					t.Fatal(err)
				}
				m.Unsubscribe(t.Context())
				if !pollUntil(func() bool {
					got := watcher.presenceOf("marker")
					return len(got) >= before+2 && !got[len(got)-1]
				}) {
					t.Fatalf("the marker's leaving never arrived: %v", watcher.presenceOf("marker"))
				}
			}
			for round, together := range []bool{false, true} {
				onA, err := a.Subscribe(t.Context(), room, "ada", fmt.Sprintf("ada-a%d", round), nil, &sink{})
				if err != nil {
					t.Fatal(err)
				}
				onB, err := b.Subscribe(t.Context(), room, "ada", fmt.Sprintf("ada-b%d", round), nil, &sink{})
				if err != nil {
					t.Fatal(err)
				}
				if !pollUntil(func() bool { got := watcher.presenceOf("ada"); return len(got) > 0 && got[len(got)-1] }) {
					t.Fatalf("round %d: ada's joining never arrived: %v", round, watcher.presenceOf("ada"))
				}
				if !together {
					onB.Unsubscribe(t.Context())
					marker()
					if got := watcher.presenceOf("ada"); !got[len(got)-1] {
						t.Fatalf("ada closed her connection through one node and still has one through the other; the room was told %v, want her still here", got)
					}
					onA.Unsubscribe(t.Context())
				} else {
					var wg sync.WaitGroup
					wg.Go(func() { onA.Unsubscribe(context.Background()) })
					wg.Go(func() { onB.Unsubscribe(context.Background()) })
					wg.Wait()
				}
				if !pollUntil(func() bool { got := watcher.presenceOf("ada"); return !got[len(got)-1] }) {
					t.Fatalf("round %d: after her last connections closed, the room was told %v about ada; want here:false last", round, watcher.presenceOf("ada"))
				}
			}
		})
	}
}

// keptEntry is a broker whose removal of conn's presence entry fails
// (silently, as SetPresence's errors are): the entry stays until it
// expires, as one a refresh wrote back after its subscription ended would.
type keptEntry struct {
	Broker
	conn string
}

func (b *keptEntry) SetPresence(ctx context.Context, room, conn, user string, ttl time.Duration) {
	if ttl == 0 && conn == b.conn {
		return
	}
	b.Broker.SetPresence(ctx, room, conn, user, ttl)
}

// TestPresenceLeaveDespiteOwnStaleEntry: a user's first connection's
// presence entry outlives it (its removal failed); when their last
// connection closes, the room is still told they left. Before (review
// 235), the close found that entry in the broker, took it for a
// connection of theirs on another node and announced nothing, so everyone
// saw them here until they came back and left again.
func TestPresenceLeaveDespiteOwnStaleEntry(t *testing.T) {
	s := NewService(NewLog(stores(t)["dir"](t)), &keptEntry{Broker: NewMemory(), conn: "ada-1"}, Options{})
	defer s.Close()
	room := Room{ID: fmt.Sprintf("c_kept%d/joint", time.Now().UnixNano()), Name: "joint"}
	watcher := &sink{}
	if _, err := s.Subscribe(t.Context(), room, "watcher", "w1", nil, watcher); err != nil {
		t.Fatal(err)
	}
	tab1, err := s.Subscribe(t.Context(), room, "ada", "ada-1", nil, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	tab2, err := s.Subscribe(t.Context(), room, "ada", "ada-2", nil, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	tab1.Unsubscribe(t.Context())
	tab2.Unsubscribe(t.Context())
	if !pollUntil(func() bool { got := watcher.presenceOf("ada"); return len(got) > 0 && !got[len(got)-1] }) {
		t.Fatalf("after both her connections closed, the room was told %v about ada; want here:false last", watcher.presenceOf("ada"))
	}
}

// dropAtJoin is a Broker (the in-process one beneath) that, when the room
// is first told user joined, first has their subscription dropped as too
// slow (their sink takes nothing more and a message is published) and
// waits until that drop's leave has announced here:false: the drop falls
// between Subscribe's look at whether the subscription ended and its
// here:true.
type dropAtJoin struct {
	Broker
	s    *Service
	room string
	user string
	sink *sink
	once sync.Once
	left chan struct{}
	err  chan error
}

func (b *dropAtJoin) Publish(ctx context.Context, topic string, data []byte) error {
	var ev presenceEvent
	if topic == presenceTopic(b.room) && json.Unmarshal(data, &ev) == nil && ev.User == b.user {
		if !ev.Here {
			select {
			case b.left <- struct{}{}:
			default:
			}
		} else {
			b.once.Do(func() {
				b.sink.mu.Lock()
				b.sink.cap = len(b.sink.frames)
				b.sink.mu.Unlock()
				_, err := b.s.Publish(ctx, b.room, Message{ID: "m1", From: "watcher", Body: []byte("x")})
				if err == nil {
					select {
					case <-b.left:
					case <-time.After(10 * time.Second):
						err = errors.New("the drop's leave announced nothing within 10 s")
					}
				}
				b.err <- err
			})
		}
	}
	return b.Broker.Publish(ctx, topic, data)
}

// TestPresenceDropDuringJoinLeavesLast: a subscription dropped as too
// slow after Subscribe looked at whether it ended, but before its
// here:true went out, has its leave's here:false announced before that
// here:true. Subscribe looks again after announcing and decides the leave
// again, so the room is told here:false last. Before, it showed the user
// present while gone (review 395).
func TestPresenceDropDuringJoinLeavesLast(t *testing.T) {
	room := Room{ID: fmt.Sprintf("c_drop%d/joint", time.Now().UnixNano()), Name: "joint"}
	slow := &sink{}
	b := &dropAtJoin{Broker: NewMemory(), room: room.ID, user: "ada", sink: slow, left: make(chan struct{}, 1), err: make(chan error, 1)}
	s := NewService(NewLog(stores(t)["dir"](t)), b, Options{})
	defer s.Close()
	b.s = s
	watcher := &sink{}
	if _, err := s.Subscribe(t.Context(), room, "watcher", "w1", nil, watcher); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(t.Context(), room, "ada", "ada-1", nil, slow); err != nil {
		t.Fatal(err)
	}
	if err := <-b.err; err != nil {
		t.Fatal(err)
	}
	if !slow.overflow.Load() && !pollUntil(slow.overflow.Load) {
		t.Fatal("ada's subscription was never dropped")
	}
	// A marker's leaving, announced after Subscribe returned, bounds what
	// it could still announce.
	m, err := s.Subscribe(t.Context(), room, "marker", "m1", nil, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	m.Unsubscribe(t.Context())
	if !pollUntil(func() bool { got := watcher.presenceOf("marker"); return len(got) >= 2 && !got[len(got)-1] }) {
		t.Fatal("the marker's leaving never arrived")
	}
	if got := watcher.presenceOf("ada"); len(got) == 0 || got[len(got)-1] {
		t.Fatalf("ada was dropped while joining, and the room was told %v; want here:false last", got)
	}
	if users, err := s.broker.Presence(t.Context(), room.ID); err != nil || slices.Contains(users, "ada") {
		t.Fatalf("presence after the drop: %v %v; want ada gone", users, err)
	}
}
