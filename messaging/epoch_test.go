package messaging

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// gatedStore holds the node's journal writes while the gate is shut, so a
// test can line requests up in a room's committer queue behind one that
// is being written.
type gatedStore struct {
	objstore.Store
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	entered chan struct{} // gets a value when a journal write waits at the gate
	fail    error         // returned by the write held at the gate when it opens (once)
}

func newGatedStore(s objstore.Store) *gatedStore {
	return &gatedStore{Store: s, entered: make(chan struct{}, 16)}
}

func (g *gatedStore) shut() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedStore) open() {
	g.mu.Lock()
	close(g.gate)
	g.gate = nil
	g.mu.Unlock()
}

func (g *gatedStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil && strings.HasPrefix(key, journalRoot) {
		g.entered <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return objstore.Info{}, ctx.Err()
		}
		g.mu.Lock()
		err := g.fail
		g.fail = nil
		g.mu.Unlock()
		if err != nil {
			return objstore.Info{}, err
		}
	}
	return g.Store.Put(ctx, key, r, size, opts)
}

// pollUntil checks cond every millisecond until it holds or 10 s have
// passed, and reports whether it held.
func pollUntil(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// waitQueued waits until room's committer on svc has n requests besides
// the one it is busy with (the blocker, or a forwarded commit): queued,
// or taken into its pipeline and not yet answered.
func waitQueued(t *testing.T, svc *Service, room string, n int) {
	t.Helper()
	if !pollUntil(func() bool {
		svc.mu.Lock()
		c := svc.committers[room]
		svc.mu.Unlock()
		return c != nil && c.requests()-1 == n
	}) {
		t.Fatalf("room %s: %d requests never queued", room, n)
	}
}

// gatedPair starts two nodes on one store and broker, the owner's journal
// writes behind g's gate, and makes the owner room's owner with a first
// message, m0.
func gatedPair(t *testing.T, room string) (owner, peer *Service, g *gatedStore) {
	t.Helper()
	base := stores(t)["dir"](t)
	g = newGatedStore(base)
	broker := NewMemory()
	owner = newService(NewLog(g), broker, Options{}, neverCompact)
	t.Cleanup(owner.Close)
	peer = newService(NewLog(base), broker, Options{}, neverCompact)
	t.Cleanup(peer.Close)
	if _, err := owner.Publish(t.Context(), room, Message{ID: "m0", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	return owner, peer, g
}

// checkRoomHolds checks that room holds exactly the messages want, by id,
// in that order.
func checkRoomHolds(t *testing.T, svc *Service, room string, want []string) {
	t.Helper()
	msgs, _, err := svc.Page(t.Context(), room, Position{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("room holds %v,\nwant %v", got, want)
	}
}

func blockCommitter(t *testing.T, svc *Service, g *gatedStore, room string) <-chan Result {
	t.Helper()
	g.shut()
	done, err := svc.Enqueue(t.Context(), room, Message{ID: "blocker", From: "u", Body: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the blocker's journal write never started")
	}
	return done
}

func result(t *testing.T, ch <-chan Result) Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no result")
		return Result{}
	}
}

func enqueueFor(t *testing.T, svc *Service, room, id string, epoch int64) <-chan Result {
	t.Helper()
	done, err := svc.EnqueueFor(t.Context(), room, Message{ID: id, From: "u", Body: []byte(id)}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	return done
}

// checkEpochGuard checks the results of a stale message (expecting epoch
// 1, queued behind the seal of epoch 1), a fresh one (expecting 2) and a
// plain one (no expectation), committed after the seal, fresh at offset
// first of epoch 2, and that the room holds exactly the ids want.
func checkEpochGuard(t *testing.T, reader *Service, room string, stale, fresh, plain Result, first int64, want string) {
	t.Helper()
	var em *EpochMovedError
	if !errors.Is(stale.Err, ErrEpochMoved) || !errors.As(stale.Err, &em) || em.Current != 2 || em.Expected != 1 {
		t.Fatalf("stale message: %+v, want refused with the current epoch 2", stale)
	}
	if fresh.Err != nil || fresh.Msg.Pos() != (Position{Epoch: 2, Offset: first}) {
		t.Fatalf("fresh message: %+v, want stored at 2/%d", fresh, first)
	}
	if plain.Err != nil || plain.Msg.Pos() != (Position{Epoch: 2, Offset: first + 1}) {
		t.Fatalf("message without an expectation: %+v, want stored at 2/%d", plain, first+1)
	}
	msgs, _, err := reader.Page(t.Context(), room, Position{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.ID)
		if m.ID == "stale" {
			t.Fatalf("the message encrypted for the ended epoch was stored at %v", m.Pos())
		}
	}
	if strings.Join(got, ",") != want {
		t.Fatalf("room holds %v", got)
	}
}

// TestEpochGuardRefusesMessageBehindSeal: a message expecting epoch 1,
// queued behind the seal that ends epoch 1, is refused with the room's
// current epoch and not stored; one expecting epoch 2 and one expecting
// nothing, committed in the same batch, are stored. A lone refused message
// writes nothing and leaves the room's position where it was.
func TestEpochGuardRefusesMessageBehindSeal(t *testing.T) {
	g := newGatedStore(stores(t)["dir"](t))
	svc := newService(NewLog(g), NewMemory(), Options{}, neverCompact)
	t.Cleanup(svc.Close)
	room := "c_guard/joint"
	if _, err := svc.Publish(t.Context(), room, Message{ID: "m0", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	blocker := blockCommitter(t, svc, g, room)
	sealed := make(chan error, 1)
	go func() { sealed <- svc.Seal(context.Background(), room, "test") }()
	waitQueued(t, svc, room, 1)
	stale := enqueueFor(t, svc, room, "stale", 1)
	fresh := enqueueFor(t, svc, room, "fresh", 2)
	plain := enqueueFor(t, svc, room, "plain", 0)
	waitQueued(t, svc, room, 4)
	g.open()
	if r := result(t, blocker); r.Err != nil {
		t.Fatal(r.Err)
	}
	if err := <-sealed; err != nil {
		t.Fatal(err)
	}
	checkEpochGuard(t, svc, room, result(t, stale), result(t, fresh), result(t, plain), 1, "m0,blocker,fresh,plain")

	lone := result(t, enqueueFor(t, svc, room, "stale", 1))
	if !errors.Is(lone.Err, ErrEpochMoved) {
		t.Fatalf("lone stale message: %+v", lone)
	}
	next, err := svc.Publish(t.Context(), room, Message{ID: "after", From: "u", Body: []byte("x")})
	if err != nil || next.Pos() != (Position{Epoch: 2, Offset: 3}) {
		t.Fatalf("after a refused message: %+v %v, want 2/3", next, err)
	}
}

// TestEpochGuardThroughForwarding: the same when the messages are
// published on a node that does not own the room: the expectations travel
// with the forwarded request (one request holding all three: the peer's
// committer is busy forwarding an earlier message while they queue) and
// the owner's committer checks them, ordered against the seal it commits.
func TestEpochGuardThroughForwarding(t *testing.T) {
	room := "c_guardfwd/joint"
	owner, peer, g := gatedPair(t, room)
	blocker := blockCommitter(t, owner, g, room)
	sealed := make(chan error, 1)
	go func() { sealed <- owner.Seal(context.Background(), room, "test") }()
	waitQueued(t, owner, room, 1)
	earlier := enqueueFor(t, peer, room, "earlier", 0)
	waitQueued(t, owner, room, 2) // forwarded, behind the seal
	stale := enqueueFor(t, peer, room, "stale", 1)
	fresh := enqueueFor(t, peer, room, "fresh", 2)
	plain := enqueueFor(t, peer, room, "plain", 0)
	waitQueued(t, peer, room, 3)
	g.open()
	for _, ch := range []<-chan Result{blocker, earlier} {
		if r := result(t, ch); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if err := <-sealed; err != nil {
		t.Fatal(err)
	}
	checkEpochGuard(t, peer, room, result(t, stale), result(t, fresh), result(t, plain), 2, "m0,blocker,earlier,fresh,plain")
}

// TestPagePastJournaledSeal (review 404 M2): a seal still in the
// journaled tail, nothing after it, ends a history page at the next
// epoch's start, as the segments' page does once it is compacted: a
// client paging to the head learns the room's current epoch from history.
func TestPagePastJournaledSeal(t *testing.T) {
	svc := newService(NewLog(stores(t)["dir"](t)), NewMemory(), Options{}, neverCompact)
	t.Cleanup(svc.Close)
	room := "c_pageseal/joint"
	m, err := svc.Publish(t.Context(), room, Message{ID: "m0", From: "u", Body: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Seal(t.Context(), room, "test"); err != nil {
		t.Fatal(err)
	}
	for _, from := range []Position{{}, m.Pos()} {
		_, next, err := svc.Page(t.Context(), room, from, 100)
		if err != nil || next != (Position{Epoch: 2, Offset: 0}) {
			t.Fatalf("a page from %v: next %v (%v), want the sealed room's next epoch 2/0", from, next, err)
		}
	}
}
