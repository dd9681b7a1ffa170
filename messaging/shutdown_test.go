package messaging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// gateStore holds every journal write until the test opens the gate or
// the writer gives up.
type gateStore struct {
	objstore.Store
	gate    chan struct{}
	waiting chan struct{} // gets a value each time a journal write waits
}

func (g *gateStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, "journal/") {
		select {
		case g.waiting <- struct{}{}:
		default:
		}
		select {
		case <-g.gate:
		case <-ctx.Done():
			return objstore.Info{}, ctx.Err()
		}
	}
	return g.Store.Put(ctx, key, r, size, opts)
}

// TestCloseAnswersEveryPendingCaller: messages queued behind a commit
// that is still in flight when the node shuts down all get an answer
// (issue #19: Publish and Seal blocked forever across shutdown though
// the doc says pending ones fail).
func TestCloseAnswersEveryPendingCaller(t *testing.T) {
	d, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g := &gateStore{Store: d, gate: make(chan struct{}), waiting: make(chan struct{}, 1)}
	svc := newService(NewLog(g), NewMemory(), Options{}, neverCompact)
	const room = "r_shutdown"
	const n = 40
	var wg sync.WaitGroup
	results := make(chan error, n+1)
	publish := func(i int) {
		defer wg.Done()
		_, err := svc.Publish(context.Background(), room, Message{ID: fmt.Sprint("m", i), From: "u", Body: []byte("x")})
		results <- err
	}
	wg.Add(1)
	go publish(0)
	select { // the first commit is now stuck in its journal write
	case <-g.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the first journal write never started")
	}
	for i := 1; i < n; i++ {
		wg.Add(1)
		go publish(i)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		results <- svc.Seal(context.Background(), room, "test")
	}()
	c, _ := svc.committer(room)
	for range 1000 { // bounded: until the callers wait in the queue
		if c.requests() >= n/2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c.requests() < n/2 {
		t.Fatalf("only %d callers queued", c.requests())
	}
	closed := make(chan struct{})
	go func() { svc.Close(); close(closed) }()
	answered := make(chan struct{})
	go func() { wg.Wait(); close(answered) }()
	select {
	case <-answered:
	case <-time.After(20 * time.Second):
		t.Fatalf("%d of %d callers were never answered after Close", n+1-len(results), n+1)
	}
	close(g.gate)
	<-closed
	close(results)
	for err := range results {
		if err == nil {
			continue // committed before the stop reached it
		}
		if !strings.Contains(err.Error(), "shutting down") && !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("a pending caller got %v, want a shutdown error", err)
		}
	}
	if _, err := svc.Publish(context.Background(), room, Message{ID: "late", From: "u", Body: []byte("x")}); err != ErrClosed {
		t.Fatalf("publish after Close: %v, want ErrClosed", err)
	}
}

// TestIdleFreeNeverWaitsOnABlockedSender: a committer whose idle timer
// fires while its queue is full (a long commit) must not wait for the
// send lock: the senders holding it wait for the queue, which only the
// committer drains. Freeing gives up instead, and the room goes on.
func TestIdleFreeNeverWaitsOnABlockedSender(t *testing.T) {
	d, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(NewLog(d), NewMemory(), Options{}, neverCompact)
	t.Cleanup(func() { svc.Close() })
	c := &committer{room: "r_full", queue: make(chan *pending, 1)}
	c.queue <- &pending{done: make(chan Result, 1)} // full
	sent := make(chan error, 1)
	go func() { sent <- svc.send(context.Background(), c, pending{done: make(chan Result, 1)}) }()
	// Wait (bounded) until the sender holds the send lock, blocked on the
	// full queue.
	for i := 0; ; i++ {
		if !c.sendMu.TryLock() {
			break
		}
		c.sendMu.Unlock()
		if i == 1000 {
			t.Fatal("the sender never took the send lock")
		}
		time.Sleep(time.Millisecond)
	}
	freed := make(chan bool, 1)
	go func() { freed <- svc.freeCommitter(c) }()
	select {
	case ok := <-freed:
		if ok {
			t.Fatal("a committer with a sender waiting was freed")
		}
	case <-time.After(5 * time.Second):
		<-c.queue // let the sender (and the stuck free) go
		t.Fatal("freeing an idle committer waited on a sender blocked on its full queue")
	}
	<-c.queue
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// TestCloseLetsAWriteInFlightLand: a node closed while a journal write is
// in flight lets the write land (within journalCloseGrace), then ends its
// journal as on any clean close: the message is in its room's segments and
// the journal ends in a tombstone, so the room moves at once. Before, the
// write was cancelled at once: the message was not stored, a new journal
// was started, and the old one was left to be found gone.
func TestCloseLetsAWriteInFlightLand(t *testing.T) {
	d, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g := &gateStore{Store: d, gate: make(chan struct{}), waiting: make(chan struct{}, 1)}
	svc := newService(NewLog(g), NewMemory(), Options{}, neverCompact)
	const room = "r_close_grace"
	aid := svc.current().id
	go func() {
		// Answered ErrClosed or stored: the room's content says which.
		_, _ = svc.Publish(context.Background(), room, Message{ID: "m1", From: "u", Body: []byte("x")})
	}()
	select { // the commit's journal write is in flight
	case <-g.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the journal write never started")
	}
	closed := make(chan struct{})
	go func() { svc.Close(); close(closed) }()
	waitFor(t, func() bool {
		select {
		case <-svc.stop:
			return true
		default:
			return false
		}
	})
	close(g.gate) // the write goes on after the stop
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	checkChain(t, pageAll(t, d, room), []string{"m1"})
	l := NewLog(d)
	seqs, err := l.journalSeqs(t.Context(), aid)
	if err != nil || len(seqs) == 0 {
		t.Fatalf("the closed node's journal: %v %v, want it ended by a tombstone", seqs, err)
	}
	if e, err := l.readJournal(t.Context(), aid, seqs[len(seqs)-1]); err != nil || e.FencedBy == "" {
		t.Fatalf("the closed node's journal ends in %+v (%v), want a tombstone", e, err)
	}
}

// countingGate holds the first journal write until the gate opens and
// counts the journal writes (not tombstones) that begin after stop is
// closed.
type countingGate struct {
	objstore.Store
	gate    chan struct{}
	waiting chan struct{}
	stop    atomic.Pointer[chan struct{}]
	held    atomic.Bool
	late    atomic.Int32
}

func (g *countingGate) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, "journal/") {
		data, err := io.ReadAll(r)
		if err != nil {
			return objstore.Info{}, err
		}
		r = bytes.NewReader(data)
		if stop := g.stop.Load(); stop != nil && !bytes.Contains(data, []byte(`"fenced_by"`)) {
			select {
			case <-*stop:
				g.late.Add(1)
			default:
			}
		}
		if g.held.CompareAndSwap(false, true) {
			g.waiting <- struct{}{}
			select {
			case <-g.gate:
			case <-ctx.Done():
				return objstore.Info{}, ctx.Err()
			}
		}
	}
	return g.Store.Put(ctx, key, r, size, opts)
}

// TestJournalStartsNoWriteAfterStop: once the service stops, the journal
// writer finishes the write in flight and starts no other, though more
// than busyJournal batches wait: their publishers were already answered
// ErrClosed. Before, its select picked at random between the queue and
// the stop, and so, about one close in two, wrote the waiting batches
// after the stop (stored after their senders were told they were not).
// Several closes, so that a random pick shows.
func TestJournalStartsNoWriteAfterStop(t *testing.T) {
	for trial := range 8 {
		d, err := objstore.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		g := &countingGate{Store: d, gate: make(chan struct{}), waiting: make(chan struct{}, 1)}
		svc := newService(NewLog(g), NewMemory(), Options{}, neverCompact)
		stop := svc.stop
		g.stop.Store(&stop)
		go func() {
			_, _ = svc.Publish(context.Background(), "r_stop_first", Message{ID: "m0", From: "u", Body: []byte("x")})
		}()
		select { // the first write is held
		case <-g.waiting:
		case <-time.After(10 * time.Second):
			t.Fatal("the first journal write never started")
		}
		const rooms = busyJournal + 4
		for i := range rooms {
			go func() {
				_, _ = svc.Publish(context.Background(), fmt.Sprintf("r_stop_%d", i), Message{ID: "m", From: "u", Body: []byte("x")})
			}()
		}
		waitFor(t, func() bool { return len(svc.journalQ) >= rooms })
		closed := make(chan struct{})
		go func() { svc.Close(); close(closed) }()
		waitFor(t, func() bool {
			select {
			case <-svc.stop:
				return true
			default:
				return false
			}
		})
		close(g.gate)
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not return")
		}
		if n := g.late.Load(); n > 0 {
			t.Fatalf("close %d: %d journal writes began after the stop, want 0", trial, n)
		}
	}
}
