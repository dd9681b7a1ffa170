package messaging

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-mediation/parley/internal/testenv"
)

// TestRedisSubscribeChurn: many goroutines subscribe to and cancel the same
// topics at once, on real Redis; at the end every listener still
// subscribed receives a publish from another node. Before subscribe and
// cancel were serialised per topic, a cancel's UNSUBSCRIBE could overtake
// a later SUBSCRIBE and leave listeners with no Redis subscription: deaf
// to a sign-out or recusal until the one-minute recheck (issue 15 item 5).
func TestRedisSubscribeChurn(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := redis.NewClient(opts), redis.NewClient(opts)
	b1, b2 := NewRedis(c1), NewRedis(c2)
	t.Cleanup(func() { b1.Close(); b2.Close(); c1.Close(); c2.Close() })

	// Per topic, two listeners hand over: one cancels while the other
	// subscribes, so the topic's local set goes empty and refills at the
	// same moment: the interleaving that lost the subscription. Rounds
	// alternate who leaves; hundreds of topics churn at once.
	const topics, rounds = 200, 8
	base := fmt.Sprintf("churn-%d-", time.Now().UnixNano())
	type listener struct {
		topic string
		got   atomic.Bool
	}
	listen := func(l *listener) func() {
		return b1.Subscribe(l.topic, func(data []byte) {
			if string(data) == "ended" {
				l.got.Store(true)
			}
		})
	}
	final := make([]*listener, topics)
	var wg sync.WaitGroup
	for tp := range topics {
		wg.Go(func() {
			l := &listener{topic: base + fmt.Sprint(tp)}
			cancel := listen(l)
			for range rounds {
				next := &listener{topic: l.topic}
				var nextCancel func()
				var hand sync.WaitGroup
				hand.Go(cancel)
				hand.Go(func() { nextCancel = listen(next) })
				hand.Wait()
				l, cancel = next, nextCancel
			}
			final[tp] = l
		})
	}
	wg.Wait()

	// Publish from the other node until every listener has heard it
	// (a SUBSCRIBE just sent may not be in effect yet), bounded.
	deadline := time.Now().Add(5 * time.Second)
	for {
		deaf := map[string]bool{}
		for _, l := range final {
			if !l.got.Load() {
				deaf[l.topic] = true
			}
		}
		if len(deaf) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d topics have subscribers that never heard a publish: no Redis subscription left", len(deaf), topics)
		}
		for topic := range deaf {
			if err := b2.Publish(t.Context(), topic, []byte("ended")); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisBroadcastInOneRoundTrip: Broadcast (for each room, its
// commits' window writes, head hint and publishes, pipelined together
// with the other rooms') has the effects of the calls it replaces, as
// another node sees them, room by room.
func TestRedisBroadcastInOneRoundTrip(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := redis.NewClient(opts), redis.NewClient(opts)
	b1, b2 := NewRedis(c1), NewRedis(c2)
	t.Cleanup(func() { b1.Close(); b2.Close(); c1.Close(); c2.Close() })
	rooms := []string{fmt.Sprintf("c_bc%d/joint", time.Now().UnixNano()), fmt.Sprintf("c_bd%d/caucus-A", time.Now().UnixNano())}
	got := make([]chan string, len(rooms))
	var all []roomBroadcasts
	for i, room := range rooms {
		got[i] = make(chan string, 2)
		cancel := b2.Subscribe(roomTopic(room), func(data []byte) { got[i] <- string(data) })
		defer cancel()
		p := fmt.Sprint(i)
		all = append(all, roomBroadcasts{room: room, topic: roomTopic(room), items: []broadcastItem{
			{window: []byte("w1." + p), head: Position{Epoch: 2, Offset: 5 + int64(i)}, msg: []byte("m1." + p)},
			{window: []byte("w2." + p), head: Position{Epoch: 2, Offset: 9 + int64(i)}, msg: []byte("m2." + p)}}})
	}
	all = append(all, roomBroadcasts{room: "c_none/joint", topic: roomTopic("c_none/joint")}) // nothing to send
	if err := b1.Broadcast(t.Context(), all); err != nil {
		t.Fatal(err)
	}
	for i, room := range rooms {
		p := fmt.Sprint(i)
		for _, want := range []string{"m1." + p, "m2." + p} {
			select {
			case m := <-got[i]:
				if m != want {
					t.Fatalf("%s: published %q, want %s", room, m, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: the publish did not arrive", room)
			}
		}
		if w, err := b2.Recent(t.Context(), room); err != nil || len(w) != 2 || string(w[0]) != "w1."+p || string(w[1]) != "w2."+p {
			t.Fatalf("%s: recent window %q %v, want [w1.%s w2.%s]", room, w, err, p, p)
		}
		head := Position{Epoch: 2, Offset: 9 + int64(i)}
		if got, ok := b2.HeadHint(t.Context(), room); !ok || got != head {
			t.Fatalf("%s: head hint %+v %v, want %+v", room, got, ok, head)
		}
	}
	if _, ok := b2.HeadHint(t.Context(), "c_none/joint"); ok {
		t.Fatal("a room with nothing to broadcast got a head hint")
	}
}
