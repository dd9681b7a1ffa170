package messaging

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Broker of scale mode: PUB/SUB between nodes, each room's
// recent window as a capped list, head hints as plain keys. Every key is
// under "parley:" and may vanish at any time without loss.
type Redis struct {
	client *redis.Client
	ps     *redis.PubSub

	mu     sync.RWMutex
	subs   map[string]map[int]func([]byte)
	nextID int
	done   chan struct{}
}

// NewRedis starts a broker on client. Close stops it (not the client).
func NewRedis(client *redis.Client) *Redis {
	r := &Redis{client: client, ps: client.Subscribe(context.Background()),
		subs: map[string]map[int]func([]byte){}, done: make(chan struct{})}
	go r.dispatch()
	return r
}

const redisPrefix = "parley:"

// dispatch hands every received message to its topic's subscribers, in
// arrival order (one goroutine, so order is kept per channel). go-redis
// resubscribes after a reconnect; messages published while disconnected
// are lost here and recovered by the hub's gap detection.
func (r *Redis) dispatch() {
	defer close(r.done)
	for msg := range r.ps.Channel(redis.WithChannelSize(4096)) {
		topic := msg.Channel[len(redisPrefix):]
		data := []byte(msg.Payload)
		r.mu.RLock()
		for _, fn := range r.subs[topic] {
			fn(data)
		}
		r.mu.RUnlock()
	}
}

// Publish implements Broker.
func (r *Redis) Publish(ctx context.Context, topic string, data []byte) error {
	return r.client.Publish(ctx, redisPrefix+topic, data).Err()
}

// Send implements Broker: Redis answers PUBLISH with the number of
// connections subscribed to the channel, one per broker (process).
func (r *Redis) Send(ctx context.Context, topic string, data []byte) (int, error) {
	n, err := r.client.Publish(ctx, redisPrefix+topic, data).Result()
	return int(n), err
}

// Subscribe implements Broker.
func (r *Redis) Subscribe(topic string, fn func([]byte)) func() {
	r.mu.Lock()
	id := r.nextID
	r.nextID++
	first := r.subs[topic] == nil
	if first {
		r.subs[topic] = map[int]func([]byte){}
	}
	r.subs[topic][id] = fn
	r.mu.Unlock()
	if first {
		r.ps.Subscribe(context.Background(), redisPrefix+topic)
	}
	return func() {
		r.mu.Lock()
		delete(r.subs[topic], id)
		last := len(r.subs[topic]) == 0
		if last {
			delete(r.subs, topic)
		}
		r.mu.Unlock()
		if last {
			r.ps.Unsubscribe(context.Background(), redisPrefix+topic)
		}
	}
}

func windowKey(room string) string { return redisPrefix + "win:" + room }
func hintKey(room string) string   { return redisPrefix + "head:" + room }

// Remember implements Broker.
func (r *Redis) Remember(ctx context.Context, room string, data []byte) error {
	pipe := r.client.Pipeline()
	pipe.RPush(ctx, windowKey(room), data)
	pipe.LTrim(ctx, windowKey(room), -windowBatches, -1)
	_, err := pipe.Exec(ctx)
	return err
}

// Recent implements Broker.
func (r *Redis) Recent(ctx context.Context, room string) ([][]byte, error) {
	vals, err := r.client.LRange(ctx, windowKey(room), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte(v)
	}
	return out, nil
}

// HeadHint implements Broker.
func (r *Redis) HeadHint(ctx context.Context, room string) (Position, bool) {
	b, err := r.client.Get(ctx, hintKey(room)).Bytes()
	if err != nil {
		return Position{}, false
	}
	var p Position
	if json.Unmarshal(b, &p) != nil {
		return Position{}, false
	}
	return p, true
}

// SetHeadHint implements Broker.
func (r *Redis) SetHeadHint(ctx context.Context, room string, pos Position) {
	b, _ := json.Marshal(pos)
	r.client.Set(ctx, hintKey(room), b, 0)
}

func presenceKey(room string) string { return redisPrefix + "here:" + room }

// SetPresence implements Broker: a hash of connection → "user|expiry", so
// a node killed without cleaning up leaves entries that simply expire.
func (r *Redis) SetPresence(ctx context.Context, room, conn, user string, ttl time.Duration) {
	if ttl == 0 {
		r.client.HDel(ctx, presenceKey(room), conn)
		return
	}
	exp := time.Now().Add(ttl).UnixMilli()
	pipe := r.client.Pipeline()
	pipe.HSet(ctx, presenceKey(room), conn, user+"|"+strconv.FormatInt(exp, 10))
	pipe.Expire(ctx, presenceKey(room), 24*time.Hour)
	pipe.Exec(ctx)
}

// Presence implements Broker.
func (r *Redis) Presence(ctx context.Context, room string) ([]string, error) {
	vals, err := r.client.HGetAll(ctx, presenceKey(room)).Result()
	if err != nil {
		return nil, err
	}
	conns := map[string]presence{}
	for conn, v := range vals {
		user, exp, ok := strings.Cut(v, "|")
		ms, err := strconv.ParseInt(exp, 10, 64)
		if !ok || err != nil {
			continue
		}
		conns[conn] = presence{user: user, expires: time.UnixMilli(ms)}
	}
	return presentUsers(conns, time.Now()), nil
}

// Close implements Broker.
func (r *Redis) Close() error {
	err := r.ps.Close()
	<-r.done
	return err
}
