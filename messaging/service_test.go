package messaging

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-mediation/parley/internal/testenv"
)

// sink collects frames.
type sink struct {
	mu       sync.Mutex
	frames   []ServerFrame
	cap      int
	overflow atomic.Bool
}

func (s *sink) Send(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cap > 0 && len(s.frames) >= s.cap {
		return false
	}
	var f ServerFrame
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
		if f.T == "msgs" {
			out = append(out, f.Ms...)
		}
	}
	return out
}

func (s *sink) first(t string) *ServerFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.frames {
		if f.T == t {
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
			b1, b2 := NewRedis(c1), NewRedis(c2)
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
			a, b := NewService(NewLog(store), ba, nil), NewService(NewLog(store), bb, nil)
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
			rest := resumed.msgs()
			if len(rest) != 40 || rest[0].Offset != 61 || rest[39].Offset != 100 {
				t.Fatalf("resume after 60: %d messages (first %+v)", len(rest), rest)
			}
		})
	}
}

// TestLostBroadcastIsFilledFromStore: a batch committed without any
// broadcast (as when Redis drops a publish) still reaches subscribers, in
// order, when the next batch arrives — and on its own through the probe.
func TestLostBroadcastIsFilledFromStore(t *testing.T) {
	store := stores(t)["dir"](t)
	svc := NewService(NewLog(store), NewMemory(), nil)
	svc.ProbeInterval = 50 * time.Millisecond
	defer svc.Close()
	room := Room{ID: "c_gap/joint", Name: "joint"}
	s := &sink{}
	if _, err := svc.Subscribe(t.Context(), room, "u", "c", nil, s); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Publish(t.Context(), room.ID, Message{ID: "1", From: "u", Body: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	// Another node commits offset 2 and its broadcast is lost.
	pos := Position{Epoch: 1, Offset: 1}
	if _, err := NewLog(store).Commit(t.Context(), room.ID, &pos, []Message{{ID: "2", From: "v", Body: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	msgs := waitMsgs(t, s, 2) // the probe finds it
	if msgs[1].ID != "2" {
		t.Fatalf("probe delivered %+v", msgs)
	}
	// Again, but now the next broadcast arrives first: the hub fills the gap.
	svc.ProbeInterval = time.Hour
	pos = Position{Epoch: 1, Offset: 2}
	if _, err := NewLog(store).Commit(t.Context(), room.ID, &pos, []Message{{ID: "3", From: "v", Body: []byte("c")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Publish(t.Context(), room.ID, Message{ID: "4", From: "u", Body: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	msgs = waitMsgs(t, s, 4)
	for i, m := range msgs {
		if m.Offset != int64(i+1) {
			t.Fatalf("order broken: %+v", msgs)
		}
	}
}

// TestOldGapMeansReload: a subscriber whose position is older than the
// window (and mid-batch) is told to page history, with the range to page.
func TestOldGapMeansReload(t *testing.T) {
	store := stores(t)["dir"](t)
	broker := NewMemory()
	svc := NewService(NewLog(store), broker, nil)
	defer svc.Close()
	room := Room{ID: "c_old/joint", Name: "joint"}
	pos := Position{}
	if _, err := NewLog(store).Commit(t.Context(), room.ID, &pos, []Message{{ID: "1"}, {ID: "2"}, {ID: "3"}}); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	from := Position{Epoch: 1, Offset: 1}
	if _, err := svc.Subscribe(t.Context(), room, "u", "c", &from, s); err != nil {
		t.Fatal(err)
	}
	r := s.first("reload")
	if r == nil || *r.From != from || *r.Head != (Position{Epoch: 1, Offset: 3}) {
		t.Fatalf("want reload from 1/1 to 1/3, got frames %+v", s.frames)
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	store := stores(t)["dir"](t)
	svc := NewService(NewLog(store), NewMemory(), nil)
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
