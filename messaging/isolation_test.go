package messaging

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// slowRoomStore blocks reads of one room's objects while blocked is set,
// as a slow or stalled store read does.
type slowRoomStore struct {
	objstore.Store
	prefix  string
	blocked atomic.Bool
	release chan struct{}
	waiting chan struct{}
}

func (s *slowRoomStore) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if s.blocked.Load() && strings.HasPrefix(key, s.prefix) {
		select {
		case s.waiting <- struct{}{}:
		default:
		}
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, objstore.Info{}, ctx.Err()
		}
	}
	return s.Store.Get(ctx, key, opts)
}

// noRecent hides the broker's recent window, so a catch-up reads the
// store.
type noRecent struct{ Broker }

func (noRecent) Recent(context.Context, string) ([][]byte, error) { return nil, nil }

// TestSlowReadStallsOnlyItsRoom: while one room's store read hangs on a
// node (a subscriber catching up), the node still delivers every other
// room's messages at once (issue #19: the hub held its lock across store
// I/O and the broker delivered every topic into callbacks taking it, so
// one slow read stalled every room).
func TestSlowReadStallsOnlyItsRoom(t *testing.T) {
	for bname, mk := range brokers(t) {
		t.Run(bname, func(t *testing.T) {
			store := stores(t)["dir"](t)
			bp, bs := mk(t)
			tag := time.Now().UnixNano()
			roomA := Room{ID: fmt.Sprintf("c_slow%d/caucus-a", tag), Name: "caucus:A"}
			roomB := Room{ID: fmt.Sprintf("c_fast%d/joint", tag), Name: "joint"}
			slow := &slowRoomStore{Store: store, prefix: "rooms/" + roomA.ID, release: make(chan struct{}), waiting: make(chan struct{}, 1)}
			p := newService(NewLog(store), bp, Options{}, timing{probe: time.Second, compact: 20 * time.Millisecond, sweep: time.Minute})
			// No probe: room B's message must come by broadcast, not by a store read.
			s := newService(NewLog(slow), noRecent{bs}, Options{}, timing{probe: time.Hour, compact: time.Second, sweep: time.Minute})
			defer p.Close()
			defer s.Close()
			released := false
			defer func() {
				if !released {
					close(slow.release)
				}
			}()
			publishN(t, p, roomA.ID, "a", 3)
			// Wait until the owner has compacted them into the room's
			// store: the node then knows the head from the store alone,
			// whenever their broadcasts (sent after the acknowledgement)
			// arrive, so the second subscriber's catch-up must read it.
			if !pollUntil(func() bool {
				head, err := NewLog(store).Head(t.Context(), roomA.ID)
				return err == nil && head.Offset == 3
			}) {
				t.Fatal("the owner never compacted room A's messages")
			}
			liveA, liveB := &sink{}, &sink{}
			if _, err := s.Subscribe(t.Context(), roomA, "u1", "c1", nil, liveA); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Subscribe(t.Context(), roomB, "u1", "c1", nil, liveB); err != nil {
				t.Fatal(err)
			}
			slow.blocked.Store(true)
			joined := make(chan error, 1)
			go func() {
				from := Position{Epoch: 1, Offset: 0}
				_, err := s.Subscribe(context.Background(), roomA, "u2", "c2", &from, &sink{})
				joined <- err
			}()
			select {
			case <-slow.waiting:
			case <-time.After(10 * time.Second):
				t.Fatal("the catch-up never read the store")
			}
			published := make(chan error, 2)
			go func() {
				_, err := p.Publish(context.Background(), roomA.ID, Message{ID: "a-late", From: "u", Body: []byte("x")})
				published <- err
				_, err = p.Publish(context.Background(), roomB.ID, Message{ID: "b1", From: "u", Body: []byte("x")})
				published <- err
			}()
			deadline := time.Now().Add(5 * time.Second)
			for len(liveB.msgs()) == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if len(liveB.msgs()) == 0 {
				t.Fatal("room B's message did not arrive while room A's store read hung")
			}
			close(slow.release)
			released = true
			if err := <-joined; err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := <-published; err != nil {
					t.Fatal(err)
				}
			}
			// liveA joined with no position, right after a0..a2 were
			// acknowledged. Their broadcasts go out after the
			// acknowledgement, so a join that reads the head before they
			// land receives some of them live: what it gets must be an
			// in-order run of the room's messages ending with a-late.
			if !pollUntil(func() bool {
				got := liveA.msgs()
				return len(got) > 0 && got[len(got)-1].ID == "a-late"
			}) {
				t.Fatalf("room A delivered %v, never a-late", ids(liveA.msgs()))
			}
			all := []string{"a0", "a1", "a2", "a-late"}
			if got := ids(liveA.msgs()); !slices.Equal(got, all[len(all)-len(got):]) {
				t.Fatalf("room A delivered %v, want the end of %v", got, all)
			}
		})
	}
}

// TestIdleRoomsAreFreed: a node that opened many rooms (a subscriber came
// and left, a message was published) frees each room's hub, committer,
// goroutines and broker subscriptions once idle (issue #19: they were
// kept for every room the node ever touched), and forgets its ownership
// entry once the room's batches are compacted (kept until restart
// before).
func TestIdleRoomsAreFreed(t *testing.T) {
	store := stores(t)["dir"](t)
	broker := NewMemory()
	s := newService(NewLog(store), broker, Options{}, timing{probe: 20 * time.Millisecond, compact: 20 * time.Millisecond, sweep: time.Minute, idle: 50 * time.Millisecond, forget: 50 * time.Millisecond})
	defer s.Close()
	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	base := settle()
	const rooms = 200
	tag := time.Now().UnixNano()
	for i := range rooms {
		room := Room{ID: fmt.Sprintf("c_idle%d_%d/joint", tag, i), Name: "joint"}
		sub, err := s.Subscribe(t.Context(), room, "u1", "c1", nil, &sink{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publish(t.Context(), room.ID, Message{ID: "m", From: "u1", Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		sub.Unsubscribe(t.Context())
	}
	var hubs, committers, topics, owned, g int
	for range 500 {
		s.mu.Lock()
		hubs, committers = len(s.hubs), len(s.committers)
		s.mu.Unlock()
		broker.mu.Lock()
		topics = len(broker.subs)
		broker.mu.Unlock()
		s.incMu.Lock()
		owned = len(s.inc.owned)
		s.incMu.Unlock()
		g = settle()
		if hubs == 0 && committers == 0 && topics <= 2 && owned == 0 && g <= base+10 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if hubs != 0 || committers != 0 || topics > 2 || owned != 0 || g > base+10 {
		t.Fatalf("after %d idle rooms: %d hubs, %d committers, %d broker topics, %d rooms still owned in memory, %d goroutines (%d before)", rooms, hubs, committers, topics, owned, g, base)
	}
	// A freed room works again, with its history.
	room := Room{ID: fmt.Sprintf("c_idle%d_0/joint", tag), Name: "joint"}
	from := Position{Epoch: 1, Offset: 0}
	again := &sink{}
	if _, err := s.Subscribe(t.Context(), room, "u1", "c1", &from, again); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(t.Context(), room.ID, Message{ID: "m2", From: "u1", Body: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	if got := waitMsgs(t, again, 2); got[0].ID != "m" || got[1].ID != "m2" {
		t.Fatalf("reopened room delivered %v", ids(got))
	}
}

// TestBrokersForgetQuietRooms: the recent window and head hint of a room
// without batches for recentKeep are forgotten, in process and in Redis
// (keys expire), so neither grows with every room ever used.
func TestBrokersForgetQuietRooms(t *testing.T) {
	m := NewMemory()
	now := time.Unix(1_800_000_000, 0)
	m.now = func() time.Time { return now }
	for i := range 1000 {
		room := fmt.Sprint("c_q/", i)
		m.Remember(t.Context(), room, []byte("{}"))
		m.SetHeadHint(t.Context(), room, Position{Epoch: 1, Offset: 1})
		m.SetPresence(t.Context(), room, "conn", "u", time.Minute)
	}
	now = now.Add(recentKeep + time.Minute)
	m.Remember(t.Context(), "c_new/joint", []byte("{}"))
	m.mu.RLock()
	w, h, u, p := len(m.window), len(m.hints), len(m.used), len(m.here)
	m.mu.RUnlock()
	if w != 1 || h != 0 || u != 1 || p != 0 {
		t.Fatalf("after an hour: %d windows, %d hints, %d used, %d presence rooms; want 1, 0, 1, 0", w, h, u, p)
	}

	for bname, mk := range brokers(t) {
		if bname != "redis" {
			continue
		}
		r, _ := mk(t)
		rb := r.(*Redis)
		room := fmt.Sprintf("c_ttl%d/joint", time.Now().UnixNano())
		rb.Remember(t.Context(), room, []byte("{}"))
		rb.SetHeadHint(t.Context(), room, Position{Epoch: 1, Offset: 1})
		for _, key := range []string{windowKey(room), hintKey(room)} {
			ttl, err := rb.client.TTL(t.Context(), key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl <= 0 || ttl > recentKeep {
				t.Errorf("%s expires in %v; want within %v", key, ttl, recentKeep)
			}
		}
	}
}

// TestHungJoinIsBounded: a subscriber's join whose store read hangs (its
// catch-up) gives up within the gap-fill bound (the subscriber is sent
// the range to page instead), and its room's other
// subscribers get their messages again, without the read ever returning.
// Before, a join read with its socket's context, which has no deadline,
// on the goroutine that delivers for the room: the room stayed silent for
// as long as the store did.
func TestHungJoinIsBounded(t *testing.T) {
	store := stores(t)["dir"](t)
	tag := time.Now().UnixNano()
	room := Room{ID: fmt.Sprintf("c_hung%d/joint", tag), Name: "joint"}
	slow := &slowRoomStore{Store: store, prefix: "rooms/" + room.ID, release: make(chan struct{}), waiting: make(chan struct{}, 1)}
	defer close(slow.release)
	s := newService(NewLog(slow), noRecent{NewMemory()}, Options{}, timing{probe: time.Hour, compact: 20 * time.Millisecond, sweep: time.Minute})
	defer s.Close()
	publishN(t, s, room.ID, "a", 3)
	// Compacted, and gone from the owner's journaled tail, so the
	// catch-up must read the store.
	if !pollUntil(func() bool {
		head, err := NewLog(store).Head(t.Context(), room.ID)
		tail, _ := s.ownTailAfter(room.ID, Position{})
		return err == nil && head.Offset == 3 && len(tail) == 0
	}) {
		t.Fatal("the messages were never compacted")
	}
	live := &sink{}
	if _, err := s.Subscribe(t.Context(), room, "u1", "c1", nil, live); err != nil {
		t.Fatal(err)
	}
	slow.blocked.Store(true)
	joined := make(chan error, 1)
	start := time.Now()
	go func() {
		from := Position{Epoch: 1, Offset: 0}
		_, err := s.Subscribe(context.Background(), room, "u2", "c2", &from, &sink{})
		joined <- err
	}()
	select {
	case <-slow.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the catch-up never read the store")
	}
	select {
	case <-joined: // with a reload frame (the gap is paged over HTTP) or an error
		if d := time.Since(start); d > gapFillTimeout+3*time.Second {
			t.Fatalf("the hung join gave up after %v", d)
		}
	case <-time.After(gapFillTimeout + 5*time.Second):
		t.Fatal("the hung join never gave up")
	}
	if _, err := s.Publish(t.Context(), room.ID, Message{ID: "a-late", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(func() bool {
		got := live.msgs()
		return len(got) > 0 && got[len(got)-1].ID == "a-late"
	}) {
		t.Fatalf("the room's subscriber got %v after the hung join, never a-late", ids(live.msgs()))
	}
}

// TestIdleRoomKeepsOwnershipForAnHour: a room whose hub and committer
// were freed (idle for seconds) keeps its ownership entry: forgetting it
// would make the room's next message list its segments again (Log.Head),
// on the sender's path, after every pause of a mediation.
func TestIdleRoomKeepsOwnershipForAnHour(t *testing.T) {
	s := newService(NewLog(stores(t)["dir"](t)), NewMemory(), Options{}, timing{probe: 20 * time.Millisecond, compact: 20 * time.Millisecond, sweep: time.Minute, idle: 50 * time.Millisecond})
	defer s.Close()
	room := fmt.Sprintf("c_keep%d/joint", time.Now().UnixNano())
	publishN(t, s, room, "m", 2)
	if !pollUntil(func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.committers) == 0
	}) {
		t.Fatal("the idle room's committer was never freed")
	}
	s.incMu.Lock()
	or := s.inc.owned[room]
	s.incMu.Unlock()
	if or == nil {
		t.Fatal("the room's ownership entry was forgotten with its committer")
	}
	if defaultTiming.forgetAfter() < time.Hour {
		t.Fatalf("rooms are forgotten after %v", defaultTiming.forgetAfter())
	}
}
