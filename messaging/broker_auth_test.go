package messaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-mediation/parley/internal/testenv"
)

// testNodeKey is the node key of the tests' Redis brokers.
var testNodeKey = bytes.Repeat([]byte{7}, 32)

// newTestRedis is a Redis broker on c with testNodeKey.
func newTestRedis(t testing.TB, c *redis.Client) *Redis {
	t.Helper()
	b, err := NewRedis(c, testNodeKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRedisRefusesWhatItDidNotWrite: whoever can reach Redis can write
// to it, but a node takes nothing from it that a node of the deployment
// did not write there, for that topic or room: messages published
// without the node key, under another key, or moved from another topic
// are dropped; so are recent-window entries, head hints and presence
// entries written so or copied from another room (or connection). Before, a forged batch or head hint whose
// positions ran ahead of a room's made its hubs pass over the room's real
// messages.
func TestRedisRefusesWhatItDidNotWrite(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c1, c2, c3, raw := redis.NewClient(opts), redis.NewClient(opts), redis.NewClient(opts), redis.NewClient(opts)
	b1, b2 := newTestRedis(t, c1), newTestRedis(t, c2)
	other, err := NewRedis(c3, bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b1.Close()
		b2.Close()
		other.Close()
		c1.Close()
		c2.Close()
		c3.Close()
		raw.Close()
	})
	if _, err := NewRedis(raw, []byte("short")); err == nil {
		t.Fatal("a broker started with a 5-byte key")
	}
	ctx := t.Context()
	tag := fmt.Sprint(time.Now().UnixNano())
	topic, elsewhere := "forge-"+tag, "forge-other-"+tag
	room, otherRoom := "c_forge"+tag+"/joint", "c_forge"+tag+"/caucus-A"

	got := make(chan string, 16)
	defer b2.Subscribe(topic, func(d []byte) { got <- string(d) })()
	// A genuine message of another topic, as Redis carries it.
	spy := raw.Subscribe(ctx, redisPrefix+elsewhere)
	defer spy.Close()
	if _, err := spy.Receive(ctx); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		n, err := raw.PubSubNumSub(ctx, redisPrefix+topic).Result()
		return err == nil && n[redisPrefix+topic] == 1
	})
	if err := b1.Publish(ctx, elsewhere, []byte("meant for another topic")); err != nil {
		t.Fatal(err)
	}
	moved, err := spy.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Forged, then genuine: Redis delivers them in that order, so once the
	// genuine one has arrived, the forged ones were read and dropped.
	before := b2.refused.Load()
	for _, forged := range []string{"no key", moved.Payload, string(bytes.Repeat([]byte{'x'}, 40))} {
		if err := raw.Publish(ctx, redisPrefix+topic, forged).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Publish(ctx, topic, []byte("another deployment's key")); err != nil {
		t.Fatal(err)
	}
	if err := b1.Publish(ctx, topic, []byte("genuine")); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-got:
		if d != "genuine" {
			t.Fatalf("a subscriber received %q, not written by a node of this deployment for this topic", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the genuine message did not arrive")
	}
	if n := b2.refused.Load() - before; n != 4 {
		t.Fatalf("%d messages refused, want 4", n)
	}

	// The recent window: a node's batch is read back; what others wrote,
	// or a batch of another room's, is not.
	if err := b1.Remember(ctx, room, []byte(`{"room":"`+room+`"}`)); err != nil {
		t.Fatal(err)
	}
	if err := b1.Remember(ctx, otherRoom, []byte("another room's batch")); err != nil {
		t.Fatal(err)
	}
	otherWin, err := raw.LRange(ctx, windowKey(otherRoom), 0, -1).Result()
	if err != nil || len(otherWin) != 1 {
		t.Fatal(otherWin, err)
	}
	if err := raw.RPush(ctx, windowKey(room), `{"room":"forged"}`, otherWin[0]).Err(); err != nil {
		t.Fatal(err)
	}
	if err := other.Remember(ctx, room, []byte("another deployment's key")); err != nil {
		t.Fatal(err)
	}
	win, err := b2.Recent(ctx, room)
	if err != nil || len(win) != 1 || string(win[0]) != `{"room":"`+room+`"}` {
		t.Fatalf("recent window read as %q (%v), want only the node's batch", win, err)
	}

	// Head hints: a node's is read; one set without the key, far ahead of
	// the room, or copied from another room, is not.
	b1.SetHeadHint(ctx, room, Position{Epoch: 1, Offset: 5})
	if p, ok := b2.HeadHint(ctx, room); !ok || p != (Position{Epoch: 1, Offset: 5}) {
		t.Fatalf("head hint %+v %v, want 1/5", p, ok)
	}
	ahead, _ := json.Marshal(Position{Epoch: 1, Offset: 1 << 40})
	b1.SetHeadHint(ctx, otherRoom, Position{Epoch: 1, Offset: 1 << 40})
	copied, err := raw.Get(ctx, hintKey(otherRoom)).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, forged := range []string{string(ahead), copied} {
		if err := raw.Set(ctx, hintKey(room), forged, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if p, ok := b2.HeadHint(ctx, room); ok {
			t.Fatalf("a forged head hint was read: %+v", p)
		}
	}

	// Presence: a node's entry is read; one written without the key, or a
	// genuine one copied to another connection or room, is not.
	b1.SetPresence(ctx, room, "conn-1", "u_ada", time.Minute)
	genuine, err := raw.HGet(ctx, presenceKey(room), "conn-1").Result()
	if err != nil {
		t.Fatal(err)
	}
	later := fmt.Sprint(time.Now().Add(time.Hour).UnixMilli())
	if err := raw.HSet(ctx, presenceKey(room), "conn-2", "u_mallory|"+later, "conn-3", genuine).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.HSet(ctx, presenceKey(otherRoom), "conn-1", genuine).Err(); err != nil {
		t.Fatal(err)
	}
	if here, err := b2.Presence(ctx, room); err != nil || !slices.Equal(here, []string{"u_ada"}) {
		t.Fatalf("present in the room: %q %v, want only u_ada", here, err)
	}
	if here, err := b2.Presence(ctx, otherRoom); err != nil || len(here) != 0 {
		t.Fatalf("present in the other room: %q %v, want nobody", here, err)
	}

	// One pipeline's broker writes (Broadcast) verify as the single ones do.
	bc := []roomBroadcasts{{room: room, topic: topic, items: []broadcastItem{
		{window: []byte("batch 1"), head: Position{Epoch: 2, Offset: 1}, msg: []byte("frame 1")},
		{window: []byte("batch 2"), head: Position{Epoch: 2, Offset: 2}, msg: []byte("frame 2")},
	}}}
	if err := b1.Broadcast(ctx, bc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"frame 1", "frame 2"} {
		select {
		case d := <-got:
			if d != want {
				t.Fatalf("received %q, want %q", d, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q did not arrive", want)
		}
	}
	if win, err := b2.Recent(ctx, room); err != nil || !slices.ContainsFunc(win, func(b []byte) bool { return string(b) == "batch 2" }) {
		t.Fatalf("recent window after Broadcast: %q %v", win, err)
	}
	if p, ok := b2.HeadHint(ctx, room); !ok || p != (Position{Epoch: 2, Offset: 2}) {
		t.Fatalf("head hint after Broadcast %+v %v, want 2/2", p, ok)
	}
}

// BenchmarkBrokerSealOpen: what authenticating one 4 KiB batch costs the
// node that publishes it and one that reads it.
func BenchmarkBrokerSealOpen(b *testing.B) {
	mac, err := newBrokerMAC(testNodeKey)
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte{'m'}, 4096)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := mac.open(macPublish, "room:c_x/joint", mac.seal(macPublish, "room:c_x/joint", data)); !ok {
			b.Fatal("did not verify")
		}
	}
}
