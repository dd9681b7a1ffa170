package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
)

// pipelineRoom publishes a blocker that waits at g's gate, then n more
// messages from one sender, one at a time: while the pipeline has room,
// each queued after the one before was taken from the committer's queue.
// It returns their result channels (the blocker's first) once every one
// is in the committer's hands.
func pipelineRoom(t *testing.T, svc *Service, g *gatedStore, room string, n int) []<-chan Result {
	t.Helper()
	out := []<-chan Result{blockCommitter(t, svc, g, room)}
	c, _ := svc.committer(room)
	for i := range n {
		out = append(out, enqueueFor(t, svc, room, fmt.Sprintf("p%d", i), 0))
		waitQueued(t, svc, room, i+1)
		if i < pipelineDepth-1 {
			// Taken from the queue and started alone (a batch of its
			// own: busy counts the blocker and each started message)
			// before the next is queued, while the pipeline has room.
			if !pollUntil(func() bool { return c.busy.Load() == int64(i+2) }) {
				t.Fatalf("message %d was never taken from the committer's queue", i)
			}
		}
	}
	return out
}

// TestCommitsArePipelined: while a room's batch waits for its journal
// write, the room's committer hands the next batches to the journal
// instead of waiting (up to pipelineDepth in flight); they land after it,
// in order, each acknowledged at its own place.
func TestCommitsArePipelined(t *testing.T) {
	g := newGatedStore(stores(t)["dir"](t))
	svc := newService(NewLog(g), NewMemory(), Options{}, neverCompact)
	t.Cleanup(svc.Close)
	room := "c_pipe/joint"
	if _, err := svc.Publish(t.Context(), room, Message{ID: "m0", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	res := pipelineRoom(t, svc, g, room, pipelineDepth+2)
	// Every batch after the blocker's is in the journal's queue, not the
	// committer's, up to the pipeline's depth.
	pollUntil(func() bool { return len(svc.journalQ) >= pipelineDepth-1 })
	c, _ := svc.committer(room)
	if got := len(svc.journalQ); got == 0 || got != pipelineDepth-1 {
		t.Fatalf("%d batches handed to the journal behind the one in flight, want %d", got, pipelineDepth-1)
	}
	if got, want := len(c.queue), len(res)-pipelineDepth; got != want {
		t.Fatalf("%d requests left in the committer's queue, want the %d past the pipeline's depth", got, want)
	}
	g.open()
	var ids []string
	for i, ch := range res {
		r := result(t, ch)
		if r.Err != nil || r.Msg.Pos() != (Position{Epoch: 1, Offset: int64(i + 2)}) {
			t.Fatalf("message %d: %+v, want stored at 1/%d", i, r, i+2)
		}
		ids = append(ids, r.Msg.ID)
	}
	checkRoomHolds(t, svc, room, append([]string{"m0"}, ids...))
}

// TestPipelineAfterAFailedWrite: when the journal write of the oldest
// batch in flight fails, that batch's senders are told, the journal starts
// again, and the batches behind it (handed to the ended journal) are
// committed again, in their order, after what the room holds.
func TestPipelineAfterAFailedWrite(t *testing.T) {
	g := newGatedStore(stores(t)["dir"](t))
	svc := newService(NewLog(g), NewMemory(), Options{}, neverCompact)
	t.Cleanup(svc.Close)
	room := "c_pipefail/joint"
	if _, err := svc.Publish(t.Context(), room, Message{ID: "m0", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	res := pipelineRoom(t, svc, g, room, pipelineDepth+1)
	sealed := make(chan error, 1)
	go func() { sealed <- svc.Seal(t.Context(), room, "test") }()
	waitQueued(t, svc, room, pipelineDepth+2)
	stale := enqueueFor(t, svc, room, "stale", 1)
	waitQueued(t, svc, room, pipelineDepth+3)
	g.mu.Lock()
	g.fail = errors.New("disk full")
	g.mu.Unlock()
	g.open()
	if r := result(t, res[0]); r.Err == nil {
		t.Fatalf("the blocker, whose write failed, was acknowledged: %+v", r)
	}
	want := []string{"m0"}
	for i, ch := range res[1:] {
		r := result(t, ch)
		if r.Err != nil || r.Msg.Pos() != (Position{Epoch: 1, Offset: int64(i + 2)}) {
			t.Fatalf("message %d after the failed write: %+v, want stored at 1/%d", i, r, i+2)
		}
		want = append(want, r.Msg.ID)
	}
	if err := <-sealed; err != nil {
		t.Fatalf("seal after the failed write: %v", err)
	}
	if r := result(t, stale); !errors.Is(r.Err, ErrEpochMoved) {
		t.Fatalf("a message for epoch 1 behind the seal: %+v, want refused", r)
	}
	checkRoomHolds(t, svc, room, want)
}

// TestForwardsArePipelined: a node that is not the room's owner forwards
// the room's next batches while the owner is still writing the first (up
// to pipelineDepth in flight), and the owner commits them in the order
// they were sent.
func TestForwardsArePipelined(t *testing.T) {
	room := "c_pipefwd/joint"
	owner, peer, g := gatedPair(t, room)
	if _, err := peer.Publish(t.Context(), room, Message{ID: "m1", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err) // the peer learns who owns the room
	}
	res := []<-chan Result{blockCommitter(t, owner, g, room)}
	for i := range pipelineDepth {
		res = append(res, enqueueFor(t, peer, room, fmt.Sprintf("f%d", i), 0))
		waitQueued(t, owner, room, i+1) // reached the owner while the blocker waits
	}
	for i := range 2 {
		res = append(res, enqueueFor(t, peer, room, fmt.Sprintf("q%d", i), 0))
	}
	pc, _ := peer.committer(room)
	waitQueued(t, peer, room, pipelineDepth+2-1)
	if got := len(pc.queue); got != 2 {
		t.Fatalf("%d requests wait in the peer's queue, want the 2 past its pipeline", got)
	}
	g.open()
	want := []string{"m0", "m1"}
	for i, ch := range res {
		r := result(t, ch)
		if r.Err != nil || r.Msg.Pos() != (Position{Epoch: 1, Offset: int64(i + 3)}) {
			t.Fatalf("message %d: %+v, want stored at 1/%d", i, r, i+3)
		}
		want = append(want, r.Msg.ID)
	}
	checkRoomHolds(t, owner, room, want)
}

// TestForwardedCommitsKeepTheirOrder: forwarded requests for a room are
// committed in the order they arrived from the broker, however many
// arrive at once (a peer pipelines them).
func TestForwardedCommitsKeepTheirOrder(t *testing.T) {
	svc := newService(NewLog(stores(t)["dir"](t)), NewMemory(), Options{}, neverCompact)
	t.Cleanup(svc.Close)
	room := "c_intake/joint"
	if _, err := svc.Publish(t.Context(), room, Message{ID: "m0", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	inc := svc.current()
	const n = 200
	want := []string{"m0"}
	for i := range n {
		id := fmt.Sprintf("r%03d", i)
		svc.admit(inc, forwardRequest{Op: "commit", Req: id, Reply: "nobody", Room: room, At: time.Now().UnixMilli(),
			Msgs: []Message{{ID: id, From: "u", Body: []byte(id)}}})
		want = append(want, id)
	}
	pollUntil(func() bool { // until all are stored
		msgs, _, err := svc.Page(t.Context(), room, Position{}, 1000)
		return err == nil && len(msgs) == n+1
	})
	checkRoomHolds(t, svc, room, want)
	svc.fwdMu.Lock()
	left := len(svc.intakes)
	svc.fwdMu.Unlock()
	if left != 0 {
		t.Fatalf("%d intakes left after every request was queued", left)
	}
}

// stalledBroadcaster is a Memory broker whose batched broadcasts wait
// until released, recording what each carried.
type stalledBroadcaster struct {
	*Memory
	release chan struct{}
	mu      sync.Mutex
	calls   [][]broadcastItem
}

func (b *stalledBroadcaster) Broadcast(ctx context.Context, rooms []roomBroadcasts) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	for _, rb := range rooms {
		b.calls = append(b.calls, rb.items)
	}
	b.mu.Unlock()
	return nil
}

// TestStalledBroadcastsAreBoundedAndKeepTheCommitter: while the broker
// stalls, a room's waiting broadcasts are capped (the oldest go unsent),
// the room's committer is not freed (a new one's broadcaster could
// overtake the old), and once the broker answers the rest go out in
// order.
func TestStalledBroadcastsAreBoundedAndKeepTheCommitter(t *testing.T) {
	bc := &stalledBroadcaster{Memory: NewMemory(), release: make(chan struct{})}
	svc := newService(NewLog(stores(t)["dir"](t)), bc, Options{}, neverCompact)
	t.Cleanup(svc.Close)
	c := &committer{room: "c_stall/joint", queue: make(chan *pending, 1)}
	const n = maxBroadcastQueue + 500
	for i := range n {
		c.queueBroadcast(svc, broadcastItem{head: Position{Epoch: 1, Offset: int64(i + 1)}, msg: []byte("m")})
	}
	c.bmu.Lock()
	waiting := len(c.bq)
	c.bmu.Unlock()
	if waiting > maxBroadcastQueue {
		t.Fatalf("%d broadcasts wait, want at most %d", waiting, maxBroadcastQueue)
	}
	if svc.freeCommitter(c) {
		t.Fatal("the committer was freed while its broadcasts were waiting")
	}
	close(bc.release)
	if !pollUntil(func() bool { return !c.broadcasting() }) {
		t.Fatal("the broadcaster never finished")
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	last := int64(0)
	for _, call := range bc.calls {
		for _, it := range call {
			if it.head.Offset <= last {
				t.Fatalf("broadcast of %d after %d", it.head.Offset, last)
			}
			last = it.head.Offset
		}
	}
	if last != n {
		t.Fatalf("the newest broadcast sent was %d, want %d", last, n)
	}
}

// frameSink records the ids of each frame of messages it is sent.
type frameSink struct {
	mu     sync.Mutex
	frames [][]string
}

func (s *frameSink) Send(frame []byte) bool {
	var sf api.ServerFrame
	if json.Unmarshal(frame, &sf) != nil || sf.Type != api.FrameMsgs {
		return true
	}
	var ids []string
	for _, m := range sf.Msgs {
		ids = append(ids, m.ID)
	}
	s.mu.Lock()
	s.frames = append(s.frames, ids)
	s.mu.Unlock()
	return true
}

func (s *frameSink) Overflow() {}

// frameOf returns the ids of the frame that carried id.
func (s *frameSink) frameOf(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.frames {
		if slices.Contains(f, id) {
			return f
		}
	}
	return nil
}

// TestOwnAndForwardedRequestsShareABatch: on a room's owner, what its own
// members send and what another node forwarded, waiting together, are
// committed as one batch (one journal record, one broadcast, one frame to
// each subscriber), not a batch for each run of one source.
func TestOwnAndForwardedRequestsShareABatch(t *testing.T) {
	g := newGatedStore(stores(t)["dir"](t))
	svc := newService(NewLog(g), NewMemory(), Options{}, neverCompact)
	t.Cleanup(svc.Close)
	room := "c_mix/joint"
	if _, err := svc.Publish(t.Context(), room, Message{ID: "m0", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	sink := &frameSink{}
	sub, err := svc.Subscribe(t.Context(), Room{ID: room, Name: "joint"}, "u", "c1", &Position{Epoch: 1, Offset: 1}, sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe(context.Background()) })
	// A full pipeline: the blocker at the gate and pipelineDepth-1 more.
	res := pipelineRoom(t, svc, g, room, pipelineDepth-1)
	inc := svc.current()
	ids := []string{"o0", "f0", "o1", "f1", "o2"}
	for i, id := range ids {
		if id[0] == 'o' {
			res = append(res, enqueueFor(t, svc, room, id, 0))
		} else {
			svc.admit(inc, forwardRequest{Op: "commit", Req: id, Reply: "nobody", Room: room, At: time.Now().UnixMilli(),
				Msgs: []Message{{ID: id, From: "v", Body: []byte(id)}}})
		}
		waitQueued(t, svc, room, pipelineDepth-1+i+1)
	}
	g.open()
	for _, ch := range res {
		if r := result(t, ch); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if !pollUntil(func() bool { return sink.frameOf("o2") != nil }) {
		t.Fatal("the last message was never delivered")
	}
	if got := sink.frameOf("o0"); !slices.Equal(got, ids) {
		t.Fatalf("o0 was delivered in a frame of %v, want one batch of %v", got, ids)
	}
	want := []string{"m0", "blocker"}
	for i := range pipelineDepth - 1 {
		want = append(want, fmt.Sprintf("p%d", i))
	}
	checkRoomHolds(t, svc, room, append(want, ids...))
}

// TestMixedBatchMovedCommitsItsOwnAgain: a batch of this node's own
// requests and forwarded ones whose commit comes back errMoved (the
// incarnation the forwarded ones were sent to has ended) commits its own
// again and refuses only the forwarded ones, whose node asks the room's
// owner again.
func TestMixedBatchMovedCommitsItsOwnAgain(t *testing.T) {
	svc := newService(NewLog(stores(t)["dir"](t)), NewMemory(), Options{}, neverCompact)
	t.Cleanup(svc.Close)
	room := "c_mixmoved/joint"
	if _, err := svc.Publish(t.Context(), room, Message{ID: "m0", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	c, err := svc.committer(room)
	if err != nil {
		t.Fatal(err)
	}
	ended := &incarnation{} // not the node's current one: as after its journal ended
	var batch []pending
	for _, id := range []string{"o0", "f0", "o1"} {
		p := pending{msg: Message{ID: id, From: "u", Body: []byte(id)}, done: make(chan Result, 1)}
		if id[0] == 'f' {
			p.via = ended
		}
		batch = append(batch, p)
	}
	c.busy.Add(int64(len(batch)))
	svc.commitBatch(t.Context(), c, batch)
	for _, p := range batch {
		r := result(t, p.done)
		if p.via != nil {
			if !errors.Is(r.Err, errMoved) {
				t.Fatalf("forwarded %s: %+v, want refused as moved", p.msg.ID, r)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("own %s: %v, want committed again", p.msg.ID, r.Err)
		}
	}
	// answer counts its requests done once it has sent their results (a
	// deferred decrement), so the last one may still be counted for a
	// moment after its caller has it: a bounded poll.
	for deadline := time.Now().Add(10 * time.Second); c.busy.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the committer counts %d requests busy 10 s after all were answered", c.busy.Load())
		}
		time.Sleep(time.Millisecond) // bounded poll
	}
	checkRoomHolds(t, svc, room, []string{"m0", "o0", "o1"})
}

// TestForwardedToAnEndedIncarnationNeverJoins: requests forwarded to two
// incarnations of the owner (the current one, and one that has ended)
// never share a batch: the one sent to the ended incarnation is refused,
// never committed by the current one.
func TestForwardedToAnEndedIncarnationNeverJoins(t *testing.T) {
	g := newGatedStore(stores(t)["dir"](t))
	svc := newService(NewLog(g), NewMemory(), Options{}, neverCompact)
	t.Cleanup(svc.Close)
	room := "c_mixended/joint"
	if _, err := svc.Publish(t.Context(), room, Message{ID: "m0", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	res := pipelineRoom(t, svc, g, room, pipelineDepth-1)
	fnew, err := svc.queueForwarded(svc.current(), forwardRequest{Op: "commit", Room: room, Msgs: []Message{{ID: "fnew", From: "v", Body: []byte("x")}}}, time.Now().Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	fold, err := svc.queueForwarded(&incarnation{}, forwardRequest{Op: "commit", Room: room, Msgs: []Message{{ID: "fold", From: "v", Body: []byte("x")}}}, time.Now().Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	waitQueued(t, svc, room, pipelineDepth+1)
	g.open()
	for _, ch := range res {
		if r := result(t, ch); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if r := result(t, fnew[0].done); r.Err != nil {
		t.Fatalf("forwarded to the current incarnation: %v", r.Err)
	}
	if r := result(t, fold[0].done); !errors.Is(r.Err, errMoved) {
		t.Fatalf("forwarded to an ended incarnation: %+v, want refused as moved", r)
	}
	want := []string{"m0", "blocker"}
	for i := range pipelineDepth - 1 {
		want = append(want, fmt.Sprintf("p%d", i))
	}
	checkRoomHolds(t, svc, room, append(want, "fnew"))
}
