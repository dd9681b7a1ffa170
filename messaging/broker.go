package messaging

import (
	"context"
	"slices"
	"sync"
	"time"
)

// windowBatches is how many recent batches a Broker keeps per room for
// fast recovery. Older gaps are served by history paging from the store.
const windowBatches = 256

// windowBytes bounds the in-process broker's window of a room in bytes
// too: its batches share their buffers with the journal's tail and the
// broadcast, and 256 batches of every busy room would keep seconds of a
// node's traffic alive for the garbage collector to mark on every cycle.
const windowBytes = 64 << 10

// recentKeep is how long a broker keeps a room's recent window and head
// hint after its last batch (Redis: the keys' expiry). They are only
// shortcuts: a room reopened later reads its head and history from the
// store.
const recentKeep = time.Hour

// Broker is the seam between nodes: fan-out of committed batches and
// events, the recent window of each room, and hints. Two implementations:
// Memory (one process, embedded mode) and Redis (scale mode). Nothing a
// Broker holds is needed for correctness — the object store is the record
// — so a flushed or restarted Redis costs only speed.
type Broker interface {
	// Publish delivers data to every subscriber of topic, on every node.
	// data must not be changed after the call (it may still be on its
	// way when a caller whose context ended has returned).
	Publish(ctx context.Context, topic string, data []byte) error
	// Send is Publish that also says how many processes subscribe to
	// topic: 0 means nobody listens there (for a room owner's topic, that
	// the owner is gone).
	Send(ctx context.Context, topic string, data []byte) (int, error)
	// Subscribe calls fn with each payload published to topic, in the
	// order it was published, until cancel is called. fn must not block.
	Subscribe(topic string, fn func(data []byte)) (cancel func())
	// Remember adds a batch to room's recent window (oldest dropped).
	Remember(ctx context.Context, room string, data []byte) error
	// Recent returns room's recent window, in no particular order.
	Recent(ctx context.Context, room string) ([][]byte, error)
	// HeadHint returns the last head position some node reported for
	// room, if any; SetHeadHint reports one. A stale hint only costs a
	// few extra reads.
	HeadHint(ctx context.Context, room string) (Position, bool)
	SetHeadHint(ctx context.Context, room string, pos Position)
	// SetPresence records that connection conn of user is in room until
	// ttl passes (refreshed while it stays); ttl 0 removes it. Presence
	// returns the users present now; PresentConns the connections present
	// now, each with its user.
	SetPresence(ctx context.Context, room, conn, user string, ttl time.Duration)
	Presence(ctx context.Context, room string) ([]string, error)
	PresentConns(ctx context.Context, room string) (map[string]string, error)
	Close() error
}

// Memory is the in-process Broker.
type Memory struct {
	mu     sync.RWMutex
	subs   map[string]map[int]func([]byte)
	nextID int
	window map[string]*recentWindow
	hints  map[string]Position
	here   map[string]map[string]presence
	// used is when each room's window or hint last changed; a room unused
	// for recentKeep is forgotten by forget, which runs at most every
	// recentKeep/4 (so the maps shrink as rooms go quiet).
	used      map[string]time.Time
	lastSweep time.Time
	now       func() time.Time
}

type presence struct {
	user    string
	expires time.Time
}

// NewMemory returns an in-process broker.
func NewMemory() *Memory {
	return &Memory{subs: map[string]map[int]func([]byte){}, window: map[string]*recentWindow{}, hints: map[string]Position{},
		here: map[string]map[string]presence{}, used: map[string]time.Time{}, now: time.Now}
}

// Publish implements Broker. Subscribers run in the publisher's goroutine,
// so publish order is delivery order.
func (m *Memory) Publish(_ context.Context, topic string, data []byte) error {
	m.mu.RLock()
	fns := make([]func([]byte), 0, len(m.subs[topic]))
	for _, fn := range m.subs[topic] {
		fns = append(fns, fn)
	}
	m.mu.RUnlock()
	for _, fn := range fns {
		fn(data)
	}
	return nil
}

// Send implements Broker: in one process, a topic with a subscriber has
// exactly one listening process.
func (m *Memory) Send(ctx context.Context, topic string, data []byte) (int, error) {
	m.mu.RLock()
	n := len(m.subs[topic])
	m.mu.RUnlock()
	if n == 0 {
		return 0, nil
	}
	return 1, m.Publish(ctx, topic, data)
}

// Subscribe implements Broker.
func (m *Memory) Subscribe(topic string, fn func([]byte)) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.nextID
	m.nextID++
	if m.subs[topic] == nil {
		m.subs[topic] = map[int]func([]byte){}
	}
	m.subs[topic][id] = fn
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.subs[topic], id)
		if len(m.subs[topic]) == 0 {
			delete(m.subs, topic)
		}
	}
}

// Remember implements Broker.
func (m *Memory) Remember(_ context.Context, room string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.window[room]
	if w == nil {
		w = &recentWindow{}
		m.window[room] = w
	}
	w.add(data)
	m.touch(room)
	return nil
}

// recentWindow is a room's recent window: its last batches, at most
// windowBatches of them and windowBytes of data (the newest is kept
// whatever its size).
type recentWindow struct {
	batches [][]byte // oldest first
	bytes   int
}

func (r *recentWindow) add(data []byte) {
	r.batches = append(r.batches, data)
	r.bytes += len(data)
	for len(r.batches) > 1 && (len(r.batches) > windowBatches || r.bytes > windowBytes) {
		r.bytes -= len(r.batches[0])
		r.batches[0] = nil
		r.batches = r.batches[1:]
	}
}

// touch records that room was used and, at most every recentKeep/4,
// forgets the windows, hints and presence of rooms unused since
// recentKeep. The caller holds mu.
func (m *Memory) touch(room string) {
	now := m.now()
	m.used[room] = now
	if now.Sub(m.lastSweep) < recentKeep/4 {
		return
	}
	m.lastSweep = now
	for r, at := range m.used {
		if now.Sub(at) > recentKeep {
			delete(m.used, r)
			delete(m.window, r)
			delete(m.hints, r)
		}
	}
	for r, conns := range m.here {
		for c, p := range conns {
			if !now.Before(p.expires) {
				delete(conns, c)
			}
		}
		if len(conns) == 0 {
			delete(m.here, r)
		}
	}
}

// Recent implements Broker.
func (m *Memory) Recent(_ context.Context, room string) ([][]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if w := m.window[room]; w != nil {
		return append([][]byte(nil), w.batches...), nil
	}
	return nil, nil
}

// HeadHint implements Broker.
func (m *Memory) HeadHint(_ context.Context, room string) (Position, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p, ok := m.hints[room]
	return p, ok
}

// SetHeadHint implements Broker.
func (m *Memory) SetHeadHint(_ context.Context, room string, pos Position) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hints[room].Before(pos) {
		m.hints[room] = pos
	}
	m.touch(room)
}

// Close implements Broker.
func (m *Memory) Close() error { return nil }

// SetPresence implements Broker.
func (m *Memory) SetPresence(_ context.Context, room, conn, user string, ttl time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ttl == 0 {
		delete(m.here[room], conn)
		if len(m.here[room]) == 0 {
			delete(m.here, room)
		}
		return
	}
	if m.here[room] == nil {
		m.here[room] = map[string]presence{}
	}
	m.here[room][conn] = presence{user: user, expires: m.now().Add(ttl)}
}

// Presence implements Broker.
func (m *Memory) Presence(_ context.Context, room string) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return presentUsers(m.here[room], m.now()), nil
}

// PresentConns implements Broker.
func (m *Memory) PresentConns(_ context.Context, room string) (map[string]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return presentConns(m.here[room], m.now()), nil
}

func presentConns(conns map[string]presence, now time.Time) map[string]string {
	out := map[string]string{}
	for conn, p := range conns {
		if now.Before(p.expires) {
			out[conn] = p.user
		}
	}
	return out
}

func presentUsers(conns map[string]presence, now time.Time) []string {
	var users []string
	for _, p := range conns {
		if now.Before(p.expires) && !slices.Contains(users, p.user) {
			users = append(users, p.user)
		}
	}
	slices.Sort(users)
	return users
}
