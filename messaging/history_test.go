package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/parley-mediation/parley/api"
	"github.com/redis/go-redis/v9"

	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
)

// The checked history (issue #19): nodes publish and deliver in several
// rooms while a seeded schedule kills nodes (their owned rooms are taken
// over), flushes Redis and stalls the store. Every publish, acknowledgement
// and delivery is recorded and checked twice: directly (every acknowledged
// message reaches every subscriber exactly once, in the same order
// everywhere, with no gap) and by porcupine against a model of a per-room
// ordered log (an acknowledged publish and every delivery agree with one
// sequential order of appends that respects real time).
//
// PARLEY_HISTORY_SEED replays a schedule; PARLEY_HISTORY_DURATION sets how
// long the faults run (default 6 s; `make soak` runs minutes).

// logState is an immutable per-room log: a cons list from the newest entry.
type logState struct {
	prev *logState
	id   string
	n    int
	hash uint64
}

func (s *logState) push(id string) *logState {
	h := fnv.New64a()
	var b [8]byte
	for i := range 8 {
		b[i] = byte(s.hashOr0() >> (8 * i))
	}
	h.Write(b[:])
	io.WriteString(h, id)
	return &logState{prev: s, id: id, n: s.len() + 1, hash: h.Sum64()}
}

func (s *logState) len() int {
	if s == nil {
		return 0
	}
	return s.n
}

func (s *logState) hashOr0() uint64 {
	if s == nil {
		return 0
	}
	return s.hash
}

// at returns the id at 1-based index i.
func (s *logState) at(i int) (string, bool) {
	for ; s != nil; s = s.prev {
		if s.n == i {
			return s.id, true
		}
		if s.n < i {
			return "", false
		}
	}
	return "", false
}

type histInput struct {
	room    string
	publish string // message id; "" for a delivery
	index   int    // a delivery's offset
}

type histOutput struct {
	index   int    // a publish's acknowledged offset; 0: unknown outcome
	id      string // a delivery's message id
	unknown bool
}

var roomLogModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range h {
			r := op.Input.(histInput).room
			if _, ok := by[r]; !ok {
				order = append(order, r)
			}
			by[r] = append(by[r], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, r := range order {
			out = append(out, by[r])
		}
		return out
	},
	Init: func() []any { return []any{(*logState)(nil)} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(*logState), input.(histInput), output.(histOutput)
		if in.publish == "" { // a delivery: the log holds id at index
			if id, ok := s.at(in.index); ok && id == out.id {
				return []any{s}
			}
			return nil
		}
		if out.unknown { // failed or cut off: it may or may not be in the log
			return []any{s, s.push(in.publish)}
		}
		if out.index == s.len()+1 {
			return []any{s.push(in.publish)}
		}
		return nil
	},
	Equal: func(a, b any) bool {
		x, y := a.(*logState), b.(*logState)
		for x != nil && y != nil {
			if x == y {
				return true
			}
			if x.n != y.n || x.hash != y.hash || x.id != y.id {
				return false
			}
			x, y = x.prev, y.prev
		}
		return x == nil && y == nil
	},
	Hash: func(s any) uint64 { return s.(*logState).hashOr0() },
	DescribeOperation: func(input, output any) string {
		in, out := input.(histInput), output.(histOutput)
		if in.publish == "" {
			return fmt.Sprintf("deliver(%s@%d) = %s", in.room, in.index, out.id)
		}
		if out.unknown {
			return fmt.Sprintf("publish(%s, %s) = ?", in.room, in.publish)
		}
		return fmt.Sprintf("publish(%s, %s) = %d", in.room, in.publish, out.index)
	},
}

// pausableStore stalls every read and write while paused (a store that
// stops answering), until resumed or the caller gives up.
type pausableStore struct {
	objstore.Store
	mu     sync.Mutex
	resume chan struct{} // nil: running
}

func (p *pausableStore) wait(ctx context.Context) error {
	p.mu.Lock()
	ch := p.resume
	p.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pausableStore) pause() {
	p.mu.Lock()
	if p.resume == nil {
		p.resume = make(chan struct{})
	}
	p.mu.Unlock()
}

func (p *pausableStore) unpause() {
	p.mu.Lock()
	if p.resume != nil {
		close(p.resume)
		p.resume = nil
	}
	p.mu.Unlock()
}

func (p *pausableStore) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if err := p.wait(ctx); err != nil {
		return nil, objstore.Info{}, err
	}
	return p.Store.Get(ctx, key, opts)
}

func (p *pausableStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if err := p.wait(ctx); err != nil {
		return objstore.Info{}, err
	}
	return p.Store.Put(ctx, key, r, size, opts)
}

// recorder collects the history with timestamps from one monotonic clock.
type recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (r *recorder) now() int64 { return int64(time.Since(r.start)) }

func (r *recorder) add(op porcupine.Operation) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// histSink is one subscriber's connection: it records every delivery.
type histSink struct {
	rec  *recorder
	room string
	who  string
	mu   sync.Mutex
	got  []Message // in delivery order
	dead atomic.Bool
	bad  atomic.Bool // an undecodable frame or a reload
}

func (s *histSink) Send(frame []byte) bool {
	var sf api.ServerFrame
	if err := json.Unmarshal(frame, &sf); err != nil {
		s.bad.Store(true)
		return true
	}
	if sf.Type == api.FrameReload {
		s.bad.Store(true) // a resume this short must be served, not sent to paging
	}
	f := sf.Msgs
	if sf.Type != api.FrameMsgs || len(f) == 0 {
		return true
	}
	at := s.rec.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range f {
		s.got = append(s.got, m)
		s.rec.add(porcupine.Operation{ClientId: 0, Input: histInput{room: s.room, index: int(m.Offset)},
			Call: at, Output: histOutput{id: m.ID}, Return: at})
	}
	return true
}

func (s *histSink) Overflow() { s.dead.Store(true) }

func (s *histSink) last() *Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) == 0 {
		return &Position{Epoch: 1, Offset: 0}
	}
	p := s.got[len(s.got)-1].Pos()
	return &p
}

// histNode is one running node and its cut-off switch.
type histNode struct {
	svc  *Service
	cut  *cutStore
	name string
}

func TestCheckedHistory(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("PARLEY_HISTORY_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("PARLEY_HISTORY_SEED: %v", err)
		}
		seed = s
	}
	duration := 6 * time.Second
	if v := os.Getenv("PARLEY_HISTORY_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("PARLEY_HISTORY_DURATION: %v", err)
		}
		duration = d
	}
	t.Logf("seed %d (PARLEY_HISTORY_SEED=%d replays this schedule), faults for %v", seed, seed, duration)
	for sname, open := range stores(t) {
		t.Run(sname, func(t *testing.T) {
			// The local-directory store runs as the server runs it: with
			// the nodes' journals as local files (one directory, as in one
			// process); MinIO with journal objects.
			journalDir := ""
			if sname == "dir" {
				journalDir = filepath.Join(t.TempDir(), "journal")
			}
			runCheckedHistory(t, open(t), journalDir, seed, duration)
		})
	}
}

func runCheckedHistory(t *testing.T, base objstore.Store, journalDir string, seed uint64, duration time.Duration) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// A database of its own, flushed whole (FLUSHDB): other packages' tests
	// use the same server at the same time.
	opts, err := redis.ParseURL(testenv.FlushableRedisURL(t, 15))
	if err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(opts)
	defer admin.Close()
	paused := &pausableStore{Store: base}
	fast := timing{probe: 100 * time.Millisecond, compact: 50 * time.Millisecond, sweep: 200 * time.Millisecond, idle: time.Minute}

	var nodesMu sync.Mutex
	var nodes []*histNode
	var all []*histNode
	var made int
	start := func() {
		c := redis.NewClient(opts)
		b := newTestRedis(t, c)
		cut := &cutStore{Store: paused}
		log := NewLog(cut)
		if journalDir != "" {
			var err error
			if log, err = NewLocalLog(cut, journalDir); err != nil {
				t.Fatal(err)
			}
		}
		n := &histNode{svc: newService(log, b, Options{}, fast), cut: cut, name: fmt.Sprint("n", made)}
		made++
		t.Cleanup(func() { b.Close(); c.Close() })
		nodesMu.Lock()
		nodes = append(nodes, n)
		all = append(all, n)
		nodesMu.Unlock()
	}
	start()
	start()
	defer func() {
		nodesMu.Lock()
		defer nodesMu.Unlock()
		for _, n := range nodes {
			n.svc.Close()
		}
	}()
	pick := func(r *rand.Rand) *histNode {
		nodesMu.Lock()
		defer nodesMu.Unlock()
		return nodes[r.IntN(len(nodes))]
	}

	rec := &recorder{start: time.Now()}
	tag := time.Now().UnixNano()
	rooms := make([]string, 4)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("c_hist%d_%d/joint", tag, i)
	}

	// Subscribers: two per room, each following its room from the start
	// and moving to another node when its node is killed (as a client
	// reconnecting through the balancer does).
	type follower struct {
		sink *histSink
		node *histNode
		sub  *Subscription
	}
	var fmu sync.Mutex
	var followers []*follower
	subscribe := func(f *follower, r *rand.Rand) {
		for range 50 {
			n := pick(r)
			sub, err := n.svc.Subscribe(context.Background(), Room{ID: f.sink.room, Name: "joint"}, f.sink.who, f.sink.who, f.sink.last(), f.sink)
			if err == nil {
				f.node, f.sub = n, sub
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("%s could not subscribe to %s", f.sink.who, f.sink.room)
	}
	for i, room := range rooms {
		for j := range 2 {
			f := &follower{sink: &histSink{rec: rec, room: room, who: fmt.Sprintf("s%d.%d", i, j)}}
			subscribe(f, rng)
			followers = append(followers, f)
		}
	}

	// Publishers.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var acked, unknown atomic.Int64
	for w := range 4 {
		wr := rand.New(rand.NewPCG(seed+uint64(w)+1, 7))
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				room := rooms[wr.IntN(len(rooms))]
				id := fmt.Sprintf("w%d-%d", w, i)
				n := pick(wr)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				call := rec.now()
				m, err := n.svc.Publish(ctx, room, Message{ID: id, From: "u", Body: []byte(id)})
				ret := rec.now()
				cancel()
				out := histOutput{index: int(m.Offset)}
				if err != nil {
					out, ret = histOutput{unknown: true}, math.MaxInt64
					unknown.Add(1)
				} else {
					if m.Epoch != 1 {
						t.Errorf("message %s in epoch %d: this history has no seals", id, m.Epoch)
					}
					acked.Add(1)
				}
				rec.add(porcupine.Operation{ClientId: w + 1, Input: histInput{room: room, publish: id}, Call: call, Output: out, Return: ret})
				time.Sleep(time.Duration(wr.IntN(3)) * time.Millisecond)
			}
		})
	}

	// The fault schedule.
	var faults []string
	deadline := time.Now().Add(duration)
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(300+rng.IntN(500)) * time.Millisecond)
		switch rng.IntN(3) {
		case 0: // kill -9 a node, start a replacement, move its subscribers
			nodesMu.Lock()
			victim := nodes[rng.IntN(len(nodes))]
			nodes = slices.DeleteFunc(nodes, func(n *histNode) bool { return n == victim })
			nodesMu.Unlock()
			kill(victim.svc, victim.cut)
			start()
			fmu.Lock()
			for _, f := range followers {
				if f.node == victim {
					subscribe(f, rng)
				}
			}
			fmu.Unlock()
			faults = append(faults, "kill "+victim.name)
		case 1:
			if err := admin.FlushDB(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			faults = append(faults, "redis flushdb")
		case 2:
			d := time.Duration(100+rng.IntN(400)) * time.Millisecond
			paused.pause()
			time.Sleep(d)
			paused.unpause()
			faults = append(faults, "store stalled "+d.String())
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("faults: %v; publishes acknowledged %d, outcome unknown %d", faults, acked.Load(), unknown.Load())
	if acked.Load() == 0 {
		t.Fatal("nothing was acknowledged")
	}

	// Every acknowledged message reaches every subscriber (bounded wait).
	rec.mu.Lock()
	ackedAt := map[string]map[int]string{} // room → offset → id
	for _, op := range rec.ops {
		in, out := op.Input.(histInput), op.Output.(histOutput)
		if in.publish != "" && !out.unknown {
			if ackedAt[in.room] == nil {
				ackedAt[in.room] = map[int]string{}
			}
			ackedAt[in.room][out.index] = in.publish
		}
	}
	rec.mu.Unlock()
	maxAcked := map[string]int{}
	for room, m := range ackedAt {
		for i := range m {
			maxAcked[room] = max(maxAcked[room], i)
		}
	}
	for range 300 {
		behind := 0
		for _, f := range followers {
			if int(f.sink.last().Offset) < maxAcked[f.sink.room] {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, f := range followers {
		if f.sink.dead.Load() || f.sink.bad.Load() {
			t.Fatalf("%s in %s: dropped as too slow or told to reload", f.sink.who, f.sink.room)
		}
		f.sink.mu.Lock()
		got := append([]Message(nil), f.sink.got...)
		f.sink.mu.Unlock()
		for i, m := range got {
			if m.Offset != int64(i+1) {
				t.Fatalf("%s in %s: delivery %d is offset %d (a gap, a duplicate or out of order)", f.sink.who, f.sink.room, i, m.Offset)
			}
			if id, ok := ackedAt[f.sink.room][int(m.Offset)]; ok && id != m.ID {
				t.Fatalf("%s in %s: offset %d is %s, acknowledged as %s", f.sink.who, f.sink.room, m.Offset, m.ID, id)
			}
		}
		if len(got) < maxAcked[f.sink.room] {
			t.Fatalf("%s in %s: %d delivered, but offset %d was acknowledged", f.sink.who, f.sink.room, len(got), maxAcked[f.sink.room])
		}
	}

	// A publish whose outcome is unknown (cut off by a kill or a stall)
	// either landed in its room's log or did not; every follower has read
	// its room to the end by now, so the deliveries say which. Resolving
	// each one to what was delivered (still open until the end of the
	// history) or dropping it keeps the check's search linear; leaving
	// dozens open makes it exponential. The deliveries themselves stay in
	// the history, so a log that delivered one message at two offsets, or
	// two at one, is still refused.
	deliveredAt := map[string]map[string]int{}
	for _, f := range followers {
		f.sink.mu.Lock()
		for _, m := range f.sink.got {
			if deliveredAt[f.sink.room] == nil {
				deliveredAt[f.sink.room] = map[string]int{}
			}
			deliveredAt[f.sink.room][m.ID] = int(m.Offset)
		}
		f.sink.mu.Unlock()
	}
	rec.mu.Lock()
	history := make([]porcupine.Operation, 0, len(rec.ops))
	resolved, dropped := 0, 0
	for _, op := range rec.ops {
		in, out := op.Input.(histInput), op.Output.(histOutput)
		if in.publish != "" && out.unknown {
			at, ok := deliveredAt[in.room][in.publish]
			if !ok {
				dropped++
				continue
			}
			op.Output = histOutput{index: at}
			resolved++
		}
		history = append(history, op)
	}
	rec.mu.Unlock()
	t.Logf("outcome unknown: %d landed (as delivered), %d did not", resolved, dropped)
	res, info := porcupine.CheckOperationsVerbose(roomLogModel.ToModel(), history, 2*time.Minute)
	switch res {
	case porcupine.Ok:
		t.Logf("porcupine: %d operations linearizable against a per-room ordered log", len(history))
	case porcupine.Illegal:
		f, _ := os.CreateTemp("", "parley-history-*.html")
		if f != nil {
			porcupine.Visualize(roomLogModel.ToModel(), info, f)
			f.Close()
			t.Errorf("visualization: %s", f.Name())
		}
		t.Fatalf("history is not linearizable (seed %d)", seed)
	default:
		t.Fatalf("porcupine could not decide within its time (seed %d, %d operations)", seed, len(history))
	}
}

// TestHistoryModelCatchesAnomalies: the model the checked history uses
// refuses what a broken log would show, and accepts an unknown outcome
// either way.
func TestHistoryModelCatchesAnomalies(t *testing.T) {
	pub := func(room, id string, call, ret int64, index int) porcupine.Operation {
		out := histOutput{index: index}
		if index == 0 {
			out, ret = histOutput{unknown: true}, math.MaxInt64
		}
		return porcupine.Operation{Input: histInput{room: room, publish: id}, Call: call, Output: out, Return: ret}
	}
	del := func(room, id string, at int64, index int) porcupine.Operation {
		return porcupine.Operation{Input: histInput{room: room, index: index}, Call: at, Output: histOutput{id: id}, Return: at}
	}
	m := roomLogModel.ToModel()
	for _, c := range []struct {
		name string
		ok   bool
		h    []porcupine.Operation
	}{
		{"in order", true, []porcupine.Operation{pub("r", "a", 0, 10, 1), pub("r", "b", 11, 20, 2), del("r", "a", 12, 1), del("r", "b", 21, 2)}},
		{"concurrent publishes either way", true, []porcupine.Operation{pub("r", "a", 0, 10, 2), pub("r", "b", 1, 9, 1)}},
		{"acknowledged earlier, placed later", false, []porcupine.Operation{pub("r", "a", 0, 10, 2), pub("r", "b", 11, 20, 1)}},
		{"a gap", false, []porcupine.Operation{pub("r", "a", 0, 10, 2)}},
		{"delivered something else", false, []porcupine.Operation{pub("r", "a", 0, 10, 1), del("r", "x", 11, 1)}},
		{"delivered before it was published", false, []porcupine.Operation{del("r", "a", 0, 1), pub("r", "a", 5, 10, 1)}},
		{"unknown outcome that landed", true, []porcupine.Operation{pub("r", "a", 0, 0, 0), pub("r", "b", 5, 10, 2), del("r", "a", 11, 1)}},
		{"unknown outcome that did not", true, []porcupine.Operation{pub("r", "a", 0, 0, 0), pub("r", "b", 5, 10, 1)}},
		{"rooms are separate logs", true, []porcupine.Operation{pub("r", "a", 0, 10, 1), pub("q", "b", 11, 20, 1)}},
	} {
		if got := porcupine.CheckOperations(m, c.h); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}
