package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/testenv"
)

// sink collects frames.
type sink struct {
	mu       sync.Mutex
	frames   []api.ServerFrame
	cap      int
	overflow atomic.Bool
}

func (s *sink) Send(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cap > 0 && len(s.frames) >= s.cap {
		return false
	}
	var f api.ServerFrame
	json.Unmarshal(b, &f)
	s.frames = append(s.frames, f)
	return true
}

func (s *sink) Overflow() { s.overflow.Store(true) }

func (s *sink) msgs() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, f := range s.frames {
		if f.Type == api.FrameMsgs {
			out = append(out, f.Msgs...)
		}
	}
	return out
}

func (s *sink) first(t api.FrameType) *api.ServerFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.frames {
		if f.Type == t {
			return &f
		}
	}
	return nil
}

// waitMsgs waits (bounded) until s holds n messages.
func waitMsgs(t *testing.T, s *sink, n int) []Message {
	t.Helper()
	for range 500 {
		if m := s.msgs(); len(m) >= n {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("got %d messages, want %d", len(s.msgs()), n)
	return nil
}

// waitFrame waits (bounded) for s's first frame of type ft: the hub sends
// catch-up frames from its own goroutine, after Subscribe returns.
func waitFrame(t *testing.T, s *sink, ft api.FrameType) *api.ServerFrame {
	t.Helper()
	for range 500 {
		if f := s.first(ft); f != nil {
			return f
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// brokers gives two "nodes'" brokers of each kind: for Memory they are the
// same value (one process); for Redis, two clients of one server.
func brokers(t *testing.T) map[string]func(t *testing.T) (Broker, Broker) {
	return map[string]func(t *testing.T) (Broker, Broker){
		"memory": func(t *testing.T) (Broker, Broker) { m := NewMemory(); return m, m },
		"redis": func(t *testing.T) (Broker, Broker) {
			opts, err := redis.ParseURL(testenv.RedisURL(t))
			if err != nil {
				t.Fatal(err)
			}
			c1, c2 := redis.NewClient(opts), redis.NewClient(opts)
			b1, b2 := newTestRedis(t, c1), newTestRedis(t, c2)
			t.Cleanup(func() { b1.Close(); b2.Close(); c1.Close(); c2.Close() })
			return b1, b2
		},
	}
}

func TestFanOutInOrderAcrossNodes(t *testing.T) {
	for bname, mk := range brokers(t) {
		t.Run(bname, func(t *testing.T) {
			store := stores(t)["dir"](t)
			ba, bb := mk(t)
			a, b := NewService(NewLog(store), ba, Options{}), NewService(NewLog(store), bb, Options{})
			defer a.Close()
			defer b.Close()
			room := Room{ID: fmt.Sprintf("c_t%d/joint", time.Now().UnixNano()), Name: "joint"}
			live := &sink{}
			if _, err := b.Subscribe(t.Context(), room, "u1", "conn1", nil, live); err != nil {
				t.Fatal(err)
			}
			// Publishers on both nodes at once.
			var wg sync.WaitGroup
			for w := range 4 {
				svc := []*Service{a, b}[w%2]
				wg.Go(func() {
					for i := range 25 {
						if _, err := svc.Publish(t.Context(), room.ID, Message{ID: fmt.Sprintf("w%d-%d", w, i), From: "u", Body: []byte("x")}); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			msgs := waitMsgs(t, live, 100)
			ids := map[string]bool{}
			for i, m := range msgs {
				if m.Offset != int64(i+1) {
					t.Fatalf("message %d has offset %d: out of order or duplicated", i, m.Offset)
				}
				ids[m.ID] = true
			}
			if len(msgs) != 100 || len(ids) != 100 {
				t.Fatalf("%d deliveries, %d distinct", len(msgs), len(ids))
			}

			// A subscriber resuming mid-stream gets exactly the rest.
			resumed := &sink{}
			from := Position{Epoch: 1, Offset: 60}
			if _, err := a.Subscribe(t.Context(), room, "u2", "conn2", &from, resumed); err != nil {
				t.Fatal(err)
			}
			// The rest may come partly live: the head hint is set by a
			// broadcast sent after the acknowledgement.
			rest := waitMsgs(t, resumed, 40)
			if len(rest) != 40 || rest[0].Offset != 61 || rest[39].Offset != 100 {
				t.Fatalf("resume after 60: %d messages (first %+v)", len(rest), rest)
			}
		})
	}
}

// lossyBroker drops one node's room broadcasts while drop is set (as
// Redis does while it restarts); everything else passes through.
type lossyBroker struct {
	Broker
	drop atomic.Bool
}

func (b *lossyBroker) Publish(ctx context.Context, topic string, data []byte) error {
	if b.drop.Load() && strings.HasPrefix(topic, "room:") {
		return nil
	}
	return b.Broker.Publish(ctx, topic, data)
}

// TestLostBroadcastIsFilledFromStore: batches whose broadcast was lost
// still reach another node's subscribers, in order, once the owner has
// compacted them: on their own through the probe, and when the next
// broadcast arrives, by filling the gap.
func TestLostBroadcastIsFilledFromStore(t *testing.T) {
	store := stores(t)["dir"](t)
	shared := NewMemory()
	lossy := &lossyBroker{Broker: shared}
	owner := newService(NewLog(store), lossy, Options{}, timing{probe: time.Second, compact: 20 * time.Millisecond, sweep: time.Minute})
	defer owner.Close()
	reader := newService(NewLog(store), shared, Options{}, timing{probe: 50 * time.Millisecond, compact: time.Second, sweep: time.Minute})
	defer reader.Close()
	// A third node that never probes: only a gap fill can help it.
	filler := newService(NewLog(store), shared, Options{}, timing{probe: time.Hour, compact: time.Second, sweep: time.Minute})
	defer filler.Close()
	room := Room{ID: "c_gap/joint", Name: "joint"}
	if _, err := owner.Publish(t.Context(), room.ID, Message{ID: "1", From: "u", Body: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	probed, filled := &sink{}, &sink{}
	if _, err := reader.Subscribe(t.Context(), room, "u", "c", nil, probed); err != nil {
		t.Fatal(err)
	}
	if _, err := filler.Subscribe(t.Context(), room, "u", "c2", nil, filled); err != nil {
		t.Fatal(err)
	}
	lossy.drop.Store(true)
	for _, id := range []string{"2", "3"} {
		if _, err := owner.Publish(t.Context(), room.ID, Message{ID: id, From: "v", Body: []byte("b")}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := waitMsgs(t, probed, 2) // the probe finds them
	if msgs[0].ID != "2" || msgs[1].ID != "3" {
		t.Fatalf("probe delivered %+v", msgs)
	}
	if n := len(filled.msgs()); n != 0 {
		t.Fatalf("the node without a probe got %d messages before any broadcast", n)
	}
	// The next broadcast arrives: the hub fills the gap before it.
	lossy.drop.Store(false)
	if _, err := owner.Publish(t.Context(), room.ID, Message{ID: "4", From: "u", Body: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	msgs = waitMsgs(t, filled, 3)
	for i, m := range msgs {
		if m.Offset != int64(i+2) {
			t.Fatalf("order broken: %+v", msgs)
		}
	}
}

// TestOldGapMeansReload: a subscriber whose gap is longer than what is
// resent over the socket is told to page history, with the range to page.
func TestOldGapMeansReload(t *testing.T) {
	store := stores(t)["dir"](t)
	writer := NewService(NewLog(store), NewMemory(), Options{})
	room := Room{ID: "c_old/joint", Name: "joint"}
	var dones []<-chan Result
	for i := range maxCatchUp + 10 {
		done, err := writer.Enqueue(t.Context(), room.ID, Message{ID: fmt.Sprint(i), From: "u"})
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	for _, d := range dones {
		if r := <-d; r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	writer.Close()
	// Another node with no recent window at all (a flushed Redis).
	svc := NewService(NewLog(store), NewMemory(), Options{})
	defer svc.Close()
	s := &sink{}
	from := Position{Epoch: 1, Offset: 1}
	if _, err := svc.Subscribe(t.Context(), room, "u", "c", &from, s); err != nil {
		t.Fatal(err)
	}
	r := waitFrame(t, s, "reload")
	if r == nil || *r.From != from || *r.Head != (Position{Epoch: 1, Offset: maxCatchUp + 10}) {
		t.Fatalf("want reload from 1/1 to 1/%d, got frames %+v", maxCatchUp+10, s.first("subscribed"))
	}
	// A short gap from the same store is resent, from mid-segment.
	s2 := &sink{}
	from = Position{Epoch: 1, Offset: maxCatchUp}
	if _, err := svc.Subscribe(t.Context(), room, "u", "c2", &from, s2); err != nil {
		t.Fatal(err)
	}
	if got := waitMsgs(t, s2, 10); len(got) != 10 || got[0].Offset != maxCatchUp+1 {
		t.Fatalf("short gap: %d messages, first %+v", len(got), got)
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	store := stores(t)["dir"](t)
	svc := NewService(NewLog(store), NewMemory(), Options{})
	defer svc.Close()
	room := Room{ID: "c_slow/joint", Name: "joint"}
	s := &sink{cap: 3}
	if _, err := svc.Subscribe(t.Context(), room, "u", "c", nil, s); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := svc.Publish(t.Context(), room.ID, Message{ID: fmt.Sprint(i), Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		if s.overflow.Load() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("a subscriber that stopped reading was not dropped")
}

// stalledWindow is an in-process broker whose recent-window writes wait
// until release is closed (a slow Redis round trip).
type stalledWindow struct {
	*Memory
	release chan struct{}
}

func (b *stalledWindow) Remember(ctx context.Context, room string, data []byte) error {
	<-b.release
	return b.Memory.Remember(ctx, room, data)
}

// TestLocalDeliveryWaitsForNoBrokerWrite: a committed batch reaches this
// node's subscribers without waiting for the broker's recent-window write
// (with Redis, a round trip per commit in the delivery path, issue 19).
func TestLocalDeliveryWaitsForNoBrokerWrite(t *testing.T) {
	broker := &stalledWindow{Memory: NewMemory(), release: make(chan struct{})}
	svc := NewService(NewLog(stores(t)["dir"](t)), broker, Options{})
	defer svc.Close()
	released := false
	release := func() {
		if !released {
			released = true
			close(broker.release)
		}
	}
	defer release()
	room := Room{ID: "c_window/joint", Name: "joint"}
	live := &sink{}
	if _, err := svc.Subscribe(t.Context(), room, "u", "c", nil, live); err != nil {
		t.Fatal(err)
	}
	published := make(chan error, 1)
	go func() {
		_, err := svc.Publish(t.Context(), room.ID, Message{ID: "m1", From: "u", Body: []byte("x")})
		published <- err
	}()
	got := waitMsgs(t, live, 1) // fails (bounded) if delivery waits for Remember
	if got[0].ID != "m1" {
		t.Fatalf("delivered %+v", got[0])
	}
	release()
	if err := <-published; err != nil {
		t.Fatal(err)
	}
}
