package messaging

import (
	"context"
	"errors"
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
	b1, b2 := newTestRedis(t, c1), newTestRedis(t, c2)
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
	b1, b2 := newTestRedis(t, c1), newTestRedis(t, c2)
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

// gatePipelines is a go-redis hook that counts pipelines of PUBLISH
// commands and holds the first one until release is closed.
type gatePipelines struct {
	n       atomic.Int32
	held    int           // the held pipeline's commands (set before started closes)
	started chan struct{} // closed when the first pipeline is held
	release chan struct{}
	// fail, when set, is what the held pipeline returns on release,
	// without reaching Redis (as a dropped connection would).
	fail error
}

func (g *gatePipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (g *gatePipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (g *gatePipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "publish" && g.n.Add(1) == 1 {
			g.held = len(cmds)
			close(g.started)
			<-g.release
			if g.fail != nil {
				return g.fail
			}
		}
		return next(ctx, cmds)
	}
}

// gatedRedisPair returns two clients of the test Redis: held, whose first
// pipeline of publishes gate holds (failing it with fail, when set), and
// plain. release lets the held pipeline go (once); the clients close at
// cleanup, after the caller's own cleanups.
func gatedRedisPair(t *testing.T, fail error) (gate *gatePipelines, held, plain *redis.Client, release func()) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	gate = &gatePipelines{started: make(chan struct{}), release: make(chan struct{}), fail: fail}
	held, plain = redis.NewClient(opts), redis.NewClient(opts)
	held.AddHook(gate)
	var once sync.Once
	release = func() { once.Do(func() { close(gate.release) }) }
	t.Cleanup(func() { release(); held.Close(); plain.Close() })
	return gate, held, plain, release
}

// waitHeld waits until gate holds a pipeline.
func waitHeld(t *testing.T, gate *gatePipelines) {
	t.Helper()
	select {
	case <-gate.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no publish went out in a pipeline")
	}
}

// TestRedisPublishesShareRoundTrips: publishes queued while one round
// trip is in flight go out together in the next (before, each PUBLISH
// was a round trip of its own: 200 here), each caller still getting its
// own answer, and every message arriving once, in the order queued.
func TestRedisPublishesShareRoundTrips(t *testing.T) {
	gate, c1, c2, release := gatedRedisPair(t, nil)
	b1, b2 := newTestRedis(t, c1), newTestRedis(t, c2)
	t.Cleanup(func() { release(); b1.Close(); b2.Close() })
	topic := fmt.Sprintf("share-%d", time.Now().UnixNano())
	got := make(chan string, 256)
	cancel := b2.Subscribe(topic, func(data []byte) { got <- string(data) })
	defer cancel()
	// A subscription just made may not be in effect: wait until a
	// publish from another client reaches it.
	waitSubscribed(t, c2, topic, got)

	const n = 200
	answers := make(chan error, n)
	counts := make(chan int, n)
	send := func(i int) {
		c, err := b1.Send(t.Context(), topic, []byte(fmt.Sprint(i)))
		counts <- c
		answers <- err
	}
	go send(0)
	waitHeld(t, gate) // the first round trip is held: the rest queue behind it
	for i := 1; i < n; i++ {
		// Queued one at a time, so the order is known.
		go send(i)
		waitFor(t, func() bool { return len(b1.pubq) == i })
	}
	release()
	for range n {
		if err := <-answers; err != nil {
			t.Fatal(err)
		}
		if c := <-counts; c != 1 {
			t.Fatalf("Send counted %d subscribed processes, want 1", c)
		}
	}
	if p := gate.n.Load(); p != 2 {
		t.Fatalf("%d publishes took %d round trips, want 2 (the held one and one for the %d queued)", n, p, n-1)
	}
	for i := 0; i < n; {
		select {
		case m := <-got:
			if m == "ready" { // a later one of waitSubscribed's
				continue
			}
			if m != fmt.Sprint(i) {
				t.Fatalf("message %d arrived as %q: out of order", i, m)
			}
			i++
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d did not arrive", i)
		}
	}
}

// TestRedisCloseSendsQueuedPublishes: Close while publishes wait for
// the publisher sends every one of them and answers each; a publish
// after Close fails at once. Before, Close dropped what was queued.
func TestRedisCloseSendsQueuedPublishes(t *testing.T) {
	gate, c1, c2, release := gatedRedisPair(t, nil)
	b1, b2 := newTestRedis(t, c1), newTestRedis(t, c2)
	t.Cleanup(func() { release(); b1.Close(); b2.Close() })
	topic := fmt.Sprintf("close-%d", time.Now().UnixNano())
	got := make(chan string, 1024)
	cancel := b2.Subscribe(topic, func(data []byte) { got <- string(data) })
	defer cancel()
	waitSubscribed(t, c2, topic, got)

	const n = 600 // more than one round trip's worth
	answers := make(chan error, n)
	for i := range n {
		go func() { answers <- b1.Publish(context.Background(), topic, []byte(fmt.Sprint(i))) }()
	}
	waitHeld(t, gate)
	waitFor(t, func() bool { return gate.held+len(b1.pubq) == n })
	closed := make(chan struct{})
	go func() { b1.Close(); close(closed) }()
	waitFor(t, func() bool {
		select {
		case <-b1.closing:
			return true
		default:
			return false
		}
	})
	release()
	for i := range n {
		select {
		case err := <-answers:
			if err != nil {
				t.Fatalf("publish queued before Close: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d publishes queued at Close were never answered", n-i, n)
		}
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	seen := map[string]bool{}
	for deadline := time.After(10 * time.Second); len(seen) < n; {
		select {
		case m := <-got:
			if m != "ready" {
				seen[m] = true
			}
		case <-deadline:
			t.Fatalf("%d of %d publishes answered as sent did not arrive", n-len(seen), n)
		}
	}
	if err := b1.Publish(context.Background(), topic, []byte("late")); !errors.Is(err, errBrokerClosed) {
		t.Fatalf("publish after Close: %v, want errBrokerClosed", err)
	}
}

// TestRedisOutageFailsQueuedPublishes: a round trip that fails for want
// of Redis fails every publish queued behind it at once, in no further
// round trip (before, each batch waited out its own timeout); a caller
// that gives up while queued returns at once.
func TestRedisOutageFailsQueuedPublishes(t *testing.T) {
	dropped := errors.New("connection dropped")
	gate, c1, _, release := gatedRedisPair(t, dropped)
	b1 := newTestRedis(t, c1)
	t.Cleanup(func() { release(); b1.Close() })

	first := make(chan error, 1)
	go func() { _, err := b1.Send(context.Background(), "outage", []byte("first")); first <- err }()
	waitHeld(t, gate)
	// One caller gives up while queued.
	gaveUp, stop := context.WithCancel(context.Background())
	quit := make(chan error, 1)
	go func() { quit <- b1.Publish(gaveUp, "outage", []byte("abandoned")) }()
	waitFor(t, func() bool { return len(b1.pubq) == 1 })
	stop()
	if err := <-quit; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned publish: %v, want context.Canceled", err)
	}
	const n = 300
	answers := make(chan error, n)
	for range n {
		go func() { _, err := b1.Send(context.Background(), "outage", []byte("x")); answers <- err }()
	}
	waitFor(t, func() bool { return len(b1.pubq) == n+1 })
	release()
	// The held round trip's own publish: not answered by Redis, so an
	// error, never a count of 0 ("nobody listens").
	if err := <-first; !errors.Is(err, dropped) {
		t.Fatalf("the failed round trip's publish: %v, want %v", err, dropped)
	}
	for i := range n {
		select {
		case err := <-answers:
			if !errors.Is(err, dropped) {
				t.Fatalf("publish queued behind the failed round trip: %v, want %v", err, dropped)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d queued publishes not answered", n-i, n)
		}
	}
	if p := gate.n.Load(); p != 1 {
		t.Fatalf("%d round trips after the failed one, want none", p-1)
	}
}

// waitSubscribed publishes on topic through c until got receives one.
func waitSubscribed(t *testing.T, c *redis.Client, topic string, got chan string) {
	t.Helper()
	for try := 0; ; try++ {
		if try == 250 {
			t.Fatal("the subscription never took effect")
		}
		mac, err := newBrokerMAC(testNodeKey)
		if err != nil {
			t.Fatal(err)
		}
		c.Publish(t.Context(), redisPrefix+topic, mac.seal(macPublish, topic, []byte("ready"))) // as a node writes it
		select {
		case m := <-got:
			if m != "ready" {
				t.Fatalf("got %q before any publish", m)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitFor is pollUntil that fails the test when cond never holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	if !pollUntil(cond) {
		t.Fatal("condition not reached within 10 s")
	}
}
