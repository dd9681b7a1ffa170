package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Broker of scale mode: PUB/SUB between nodes, each room's
// recent window as a capped list, head hints as plain keys. Every key is
// under "parley:" and may vanish at any time without loss. Every message,
// window entry, hint and presence entry carries a MAC under the node key,
// and what does not verify is dropped (broker_auth.go).
type Redis struct {
	client *redis.Client
	ps     *redis.PubSub
	mac    brokerMAC
	// refused counts payloads read from Redis that did not verify.
	refused atomic.Int64

	mu     sync.RWMutex
	subs   map[string]map[int]func([]byte)
	nextID int
	done   chan struct{}

	// topics serialises the Redis SUBSCRIBE/UNSUBSCRIBE of each topic
	// (see sync); guarded by tmu.
	tmu    sync.Mutex
	topics map[string]*topicSub

	// pubq holds publishes waiting for the publisher (see runPublisher);
	// closing ends it, pubDone is closed once it has.
	pubq      chan *publication
	closing   chan struct{}
	closeOnce sync.Once
	pubDone   chan struct{}
}

// topicSub is one topic's Redis subscription state. mu is held while a
// SUBSCRIBE or UNSUBSCRIBE for the topic is sent, so the commands for one
// topic go out one at a time and the last one matches the last change.
type topicSub struct {
	mu     sync.Mutex
	refs   int  // sync calls holding or waiting for mu (guarded by tmu)
	active bool // Redis subscription in place (guarded by mu)
}

// NewRedis starts a broker on client, authenticating what it writes and
// reads with nodeKey (every node of the deployment has the same; see
// kms.NodeKeyObject). Close stops it (not the client).
func NewRedis(client *redis.Client, nodeKey []byte) (*Redis, error) {
	mac, err := newBrokerMAC(nodeKey)
	if err != nil {
		return nil, err
	}
	r := &Redis{client: client, ps: client.Subscribe(context.Background()), mac: mac,
		subs: map[string]map[int]func([]byte){}, done: make(chan struct{}), topics: map[string]*topicSub{},
		pubq: make(chan *publication, maxPublishQueue), closing: make(chan struct{}), pubDone: make(chan struct{})}
	go r.dispatch()
	go r.runPublisher()
	return r, nil
}

const redisPrefix = "parley:"

// Refused is how many payloads read from Redis did not verify and were
// dropped: written without this deployment's node key, or moved from the
// topic, room or connection they were written for. Nodes of one
// deployment never produce one, so any rise means something else writes
// to Redis (or nodes run with different keys or releases).
func (r *Redis) Refused() int64 { return r.refused.Load() }

// dispatch hands every received message to its topic's subscribers, in
// arrival order (one goroutine, so order is kept per channel). go-redis
// resubscribes after a reconnect; messages published while disconnected
// are lost here and recovered by the hub's gap detection.
func (r *Redis) dispatch() {
	defer close(r.done)
	for msg := range r.ps.Channel(redis.WithChannelSize(4096)) {
		topic := msg.Channel[len(redisPrefix):]
		data, ok := r.mac.open(macPublish, topic, []byte(msg.Payload))
		if !ok {
			r.refused.Add(1)
			continue
		}
		r.mu.RLock()
		for _, fn := range r.subs[topic] {
			fn(data)
		}
		r.mu.RUnlock()
	}
}

// Publish implements Broker.
func (r *Redis) Publish(ctx context.Context, topic string, data []byte) error {
	_, err := r.publish(ctx, topic, data)
	return err
}

// Send implements Broker: Redis answers PUBLISH with the number of
// connections subscribed to the channel, one per broker (process).
func (r *Redis) Send(ctx context.Context, topic string, data []byte) (int, error) {
	n, err := r.publish(ctx, topic, data)
	return int(n), err
}

// The process's publishes share round trips. A node forwarding commits
// to an owner, and the owner answering them, publish thousands of small
// messages a second from as many goroutines; one PUBLISH per round trip
// cost each a write and a read on both ends, a tenth of a node's CPU in
// the two-node benchmark. Publish and Send queue their message for one
// goroutine (runPublisher), which sends everything queued when it gets
// to it as one pipeline: an idle node's publish goes out at once, a busy
// node's wait for the round trip in flight and go out together in the
// next. Messages leave in the order they were queued.
//
// A round trip that fails for want of Redis (not a Redis error reply)
// fails everything queued behind it at once, rather than each batch
// waiting out its own timeout: callers see the outage within one round
// trip. Close sends what is queued, under one deadline, and then fails
// any publish that comes later. As with one PUBLISH, a failed round trip
// may have delivered some of its messages (go-redis retries a pipeline
// whole); the forward protocol resends and receivers drop duplicates.

// publication is one queued PUBLISH and, once done is closed, its answer.
type publication struct {
	ctx   context.Context
	topic string // with redisPrefix
	data  []byte
	n     int64
	err   error
	done  chan struct{}
}

const (
	// maxPublishQueue bounds the publishes waiting for the publisher;
	// past it Publish waits (or its context ends).
	maxPublishQueue = 4096
	// maxPipeline and maxPipelineBytes bound one round trip's publishes
	// (one larger message goes alone).
	maxPipeline      = 256
	maxPipelineBytes = 4 << 20
	// publishTimeout bounds one round trip, and Close's flush of what is
	// queued.
	publishTimeout = 5 * time.Second
)

// errBrokerClosed answers a publish made after Close.
var errBrokerClosed = errors.New("messaging: broker closed")

// publish queues data for topic and waits for Redis's answer: the number
// of processes subscribed. A caller whose context ends returns at once;
// its message is not sent if the publisher has not taken it yet.
func (r *Redis) publish(ctx context.Context, topic string, data []byte) (int64, error) {
	select {
	case <-r.closing:
		return 0, errBrokerClosed
	default:
	}
	p := &publication{ctx: ctx, topic: redisPrefix + topic, data: r.mac.seal(macPublish, topic, data), done: make(chan struct{})}
	select {
	case r.pubq <- p:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-r.closing:
		return 0, errBrokerClosed
	}
	select {
	case <-p.done:
		return p.n, p.err
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-r.pubDone:
		// Queued as Close's flush ended: p was either in it or is left.
		select {
		case <-p.done:
			return p.n, p.err
		default:
			return 0, errBrokerClosed
		}
	}
}

// runPublisher sends queued publishes, as many as wait in each round
// trip, until Close; then it flushes the queue.
func (r *Redis) runPublisher() {
	defer close(r.pubDone)
	var batch []*publication
	var carry *publication // taken, but did not fit the last batch
	for {
		if carry == nil {
			select {
			case <-r.closing:
				r.flush()
				return
			default:
			}
			select {
			case carry = <-r.pubq:
			case <-r.closing:
				r.flush()
				return
			}
		}
		batch, carry = r.gather(append(batch[:0], carry))
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		err := r.sendPublications(ctx, batch)
		cancel()
		clear(batch)
		if err != nil {
			// Redis is not answering: fail what waits now.
			r.failQueued(err, &carry)
		}
	}
}

// gather adds to batch whatever is queued, within maxPipeline and
// maxPipelineBytes; carry is the publication taken that did not fit.
func (r *Redis) gather(batch []*publication) (_ []*publication, carry *publication) {
	size := len(batch[0].data)
	for len(batch) < maxPipeline {
		select {
		case p := <-r.pubq:
			if size+len(p.data) > maxPipelineBytes {
				return batch, p
			}
			batch = append(batch, p)
			size += len(p.data)
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// flush sends what is queued once Close has begun, under one deadline.
func (r *Redis) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	var carry *publication
	for {
		if carry == nil {
			select {
			case carry = <-r.pubq:
			default:
				return
			}
		}
		var batch []*publication
		batch, carry = r.gather([]*publication{carry})
		if err := r.sendPublications(ctx, batch); err != nil {
			r.failQueued(err, &carry)
			return
		}
	}
}

// failQueued answers carry (when set) and every publication queued now
// with err.
func (r *Redis) failQueued(err error, carry **publication) {
	if *carry != nil {
		answerPublication(*carry, 0, err)
		*carry = nil
	}
	for {
		select {
		case p := <-r.pubq:
			answerPublication(p, 0, err)
		default:
			return
		}
	}
}

func answerPublication(p *publication, n int64, err error) {
	p.n, p.err = n, err
	close(p.done)
}

// sendPublications sends batch in one pipeline and answers each one; a
// publish whose caller has given up is not sent. It returns the round
// trip's error when Redis itself did not answer (not an error reply).
func (r *Redis) sendPublications(ctx context.Context, batch []*publication) error {
	pipe := r.client.Pipeline()
	cmds := make([]*redis.IntCmd, len(batch))
	for i, p := range batch {
		if p.ctx.Err() == nil {
			cmds[i] = pipe.Publish(ctx, p.topic, p.data)
		}
	}
	var execErr error
	if pipe.Len() > 0 {
		_, execErr = pipe.Exec(ctx) // each command also holds its own error
		var reply redis.Error
		if errors.As(execErr, &reply) {
			execErr = nil // an error reply: that command's own
		}
	}
	for i, p := range batch {
		switch {
		case cmds[i] == nil:
			answerPublication(p, 0, p.ctx.Err())
		case execErr != nil && cmds[i].Err() == nil && cmds[i].Val() == 0:
			// Not answered (a hook that failed the round trip without
			// running it): a count of 0 would read as "nobody listens".
			answerPublication(p, 0, execErr)
		default:
			answerPublication(p, cmds[i].Val(), cmds[i].Err())
		}
	}
	return execErr
}

// Subscribe implements Broker.
func (r *Redis) Subscribe(topic string, fn func([]byte)) func() {
	r.mu.Lock()
	id := r.nextID
	r.nextID++
	if r.subs[topic] == nil {
		r.subs[topic] = map[int]func([]byte){}
	}
	r.subs[topic][id] = fn
	r.mu.Unlock()
	r.sync(topic)
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.subs[topic], id)
			if len(r.subs[topic]) == 0 {
				delete(r.subs, topic)
			}
			r.mu.Unlock()
			r.sync(topic)
		})
	}
}

// syncAttempts and syncBackoff bound the retries of one SUBSCRIBE or
// UNSUBSCRIBE that Redis refused (a dropped connection): about 1.5 s in
// all. go-redis also resubscribes every channel it tracks when it
// reconnects, and the sockets re-check their session every ping interval.
const (
	syncAttempts = 5
	syncBackoff  = 50 * time.Millisecond
)

// sync makes topic's Redis subscription match its local subscribers.
// Subscribe and cancel call it after changing the local set; calls for one
// topic take turns (topicSub.mu) and each reads the local set afresh, so
// however subscribes and cancels interleave, the last command sent says
// what the set holds at the end. (Without this, a cancel's UNSUBSCRIBE
// could overtake a later subscribe's SUBSCRIBE and leave a socket with no
// Redis subscription, deaf to its sign-out.) Only this topic's subscribe
// and cancel calls wait on topicSub.mu; r.mu, which dispatch takes, is
// never held across a command.
func (r *Redis) sync(topic string) {
	r.tmu.Lock()
	ts := r.topics[topic]
	if ts == nil {
		ts = &topicSub{}
		r.topics[topic] = ts
	}
	ts.refs++
	r.tmu.Unlock()

	ts.mu.Lock()
	backoff := syncBackoff
	for attempt := 0; ; {
		r.mu.RLock()
		want := len(r.subs[topic]) > 0
		r.mu.RUnlock()
		if want == ts.active {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		if want {
			err = r.ps.Subscribe(ctx, redisPrefix+topic)
		} else {
			err = r.ps.Unsubscribe(ctx, redisPrefix+topic)
		}
		cancel()
		if err == nil {
			ts.active = want
			attempt = 0
			continue
		}
		attempt++
		if attempt >= syncAttempts {
			// go-redis keeps the channel in its set (or out of it) and
			// applies that when it reconnects; record the wish as done.
			ts.active = want
			break
		}
		time.Sleep(backoff)
		backoff *= 2
	}
	ts.mu.Unlock()

	r.tmu.Lock()
	ts.refs--
	if ts.refs == 0 && !ts.active {
		delete(r.topics, topic)
	}
	r.tmu.Unlock()
}

func windowKey(room string) string { return redisPrefix + "win:" + room }
func hintKey(room string) string   { return redisPrefix + "head:" + room }

// Remember implements Broker.
func (r *Redis) Remember(ctx context.Context, room string, data []byte) error {
	pipe := r.client.Pipeline()
	pipe.RPush(ctx, windowKey(room), r.mac.seal(macWindow, room, data))
	pipe.LTrim(ctx, windowKey(room), -windowBatches, -1)
	pipe.Expire(ctx, windowKey(room), recentKeep)
	_, err := pipe.Exec(ctx)
	return err
}

// Broadcast does Remember, SetHeadHint and Publish for each of rooms'
// batches, each room's in order, in one pipeline: one round trip for all
// of them.
func (r *Redis) Broadcast(ctx context.Context, rooms []roomBroadcasts) error {
	pipe := r.client.Pipeline()
	for _, rb := range rooms {
		batches := rb.items
		if len(batches) == 0 {
			continue
		}
		hint, _ := json.Marshal(batches[len(batches)-1].head)
		hint = r.mac.seal(macHint, rb.room, hint)
		// Only the last windowBatches can stay in the window.
		windows := make([]any, 0, min(len(batches), windowBatches))
		for _, b := range batches[max(0, len(batches)-windowBatches):] {
			windows = append(windows, r.mac.seal(macWindow, rb.room, b.window))
		}
		pipe.RPush(ctx, windowKey(rb.room), windows...)
		pipe.LTrim(ctx, windowKey(rb.room), -windowBatches, -1)
		pipe.Expire(ctx, windowKey(rb.room), recentKeep)
		pipe.Set(ctx, hintKey(rb.room), hint, recentKeep)
		for _, b := range batches {
			pipe.Publish(ctx, redisPrefix+rb.topic, r.mac.seal(macPublish, rb.topic, b.msg))
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Recent implements Broker.
func (r *Redis) Recent(ctx context.Context, room string) ([][]byte, error) {
	vals, err := r.client.LRange(ctx, windowKey(room), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(vals))
	for _, v := range vals {
		data, ok := r.mac.open(macWindow, room, []byte(v))
		if !ok {
			r.refused.Add(1)
			continue
		}
		out = append(out, data)
	}
	return out, nil
}

// HeadHint implements Broker.
func (r *Redis) HeadHint(ctx context.Context, room string) (Position, bool) {
	b, err := r.client.Get(ctx, hintKey(room)).Bytes()
	if err != nil {
		return Position{}, false
	}
	b, ok := r.mac.open(macHint, room, b)
	if !ok {
		r.refused.Add(1)
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
	r.client.Set(ctx, hintKey(room), r.mac.seal(macHint, room, b), recentKeep)
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
	pipe.HSet(ctx, presenceKey(room), conn, r.mac.seal(macHere, presenceName(room, conn), []byte(user+"|"+strconv.FormatInt(exp, 10))))
	pipe.Expire(ctx, presenceKey(room), 24*time.Hour)
	pipe.Exec(ctx)
}

// Presence implements Broker.
func (r *Redis) Presence(ctx context.Context, room string) ([]string, error) {
	conns, err := r.presence(ctx, room)
	if err != nil {
		return nil, err
	}
	return presentUsers(conns, time.Now()), nil
}

// PresentConns implements Broker.
func (r *Redis) PresentConns(ctx context.Context, room string) (map[string]string, error) {
	conns, err := r.presence(ctx, room)
	if err != nil {
		return nil, err
	}
	return presentConns(conns, time.Now()), nil
}

// presence reads the room's entries that verify.
func (r *Redis) presence(ctx context.Context, room string) (map[string]presence, error) {
	vals, err := r.client.HGetAll(ctx, presenceKey(room)).Result()
	if err != nil {
		return nil, err
	}
	conns := map[string]presence{}
	for conn, v := range vals {
		entry, ok := r.mac.open(macHere, presenceName(room, conn), []byte(v))
		if !ok {
			r.refused.Add(1)
			continue
		}
		user, exp, ok := strings.Cut(string(entry), "|")
		ms, err := strconv.ParseInt(exp, 10, 64)
		if !ok || err != nil {
			continue
		}
		conns[conn] = presence{user: user, expires: time.UnixMilli(ms)}
	}
	return conns, nil
}

// Close implements Broker. A publish still waiting fails with
// errBrokerClosed.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() { close(r.closing) })
	<-r.pubDone
	err := r.ps.Close()
	<-r.done
	return err
}
