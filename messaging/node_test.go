package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// cutStore is a node's view of the store that can be cut off, as when the
// node is killed: afterwards it writes nothing (no compaction, no
// retirement), so what it acknowledged lives only in its journal.
type cutStore struct {
	objstore.Store
	cut atomic.Bool
}

var errCut = fmt.Errorf("cut off: %w", objstore.ErrUnavailable)

func (c *cutStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if c.cut.Load() {
		return objstore.Info{}, errCut
	}
	return c.Store.Put(ctx, key, r, size, opts)
}

func (c *cutStore) DeleteVersions(ctx context.Context, v []objstore.Info) []error {
	if c.cut.Load() {
		errs := make([]error, len(v))
		for i := range errs {
			errs[i] = errCut
		}
		return errs
	}
	return c.Store.DeleteVersions(ctx, v)
}

// neverCompact keeps a node's acknowledged messages in its journal only
// (for the length of a test: paced compaction would take a room early
// after interval / compactMinAge, six minutes).
var neverCompact = timing{probe: time.Second, compact: time.Hour, sweep: time.Hour}

// kill cuts a node off the store (and its local journal, if it has one)
// and closes it: its broker subscriptions end (as a killed process's Redis
// connection does) and nothing it holds in memory survives.
func kill(svc *Service, store *cutStore) {
	store.cut.Store(true)
	crashLocal(svc.log, svc.current().id)
	svc.Close()
}

func publishN(t *testing.T, svc *Service, room string, prefix string, n int) []Message {
	t.Helper()
	var out []Message
	for i := range n {
		m, err := svc.Publish(t.Context(), room, Message{ID: fmt.Sprintf("%s%d", prefix, i), From: "u", Body: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// pageAll reads a room's whole history from the store.
func pageAll(t *testing.T, store objstore.Store, room string) []Message {
	t.Helper()
	msgs, _, err := NewLog(store).Page(t.Context(), room, Position{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func checkChain(t *testing.T, msgs []Message, wantIDs []string) {
	t.Helper()
	if len(msgs) != len(wantIDs) {
		t.Fatalf("history holds %d messages, want %d", len(msgs), len(wantIDs))
	}
	for i, m := range msgs {
		if m.Offset != int64(i+1) || m.ID != wantIDs[i] {
			t.Fatalf("history[%d] = %s at %d, want %s at %d", i, m.ID, m.Offset, wantIDs[i], i+1)
		}
	}
}

func ids(msgs []Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// TestKilledOwnerIsTakenOver: the owner of a room dies with acknowledged
// messages only in its journal; the next node to publish there fences the
// journal, recovers every acknowledged message into the room, claims it,
// and goes on right after them.
func TestKilledOwnerIsTakenOver(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			base := open(t)
			broker := NewMemory()
			aStore := &cutStore{Store: base}
			a := newService(NewLog(aStore), broker, Options{}, neverCompact) // everything stays in a's journal
			b := NewService(NewLog(base), broker, Options{})
			defer b.Close()
			room := fmt.Sprintf("c_kill%d/joint", len(name))
			before := publishN(t, a, room, "a", 20)
			// b forwards to the owner while it lives.
			fwd := publishN(t, b, room, "f", 5)
			if fwd[4].Offset != 25 {
				t.Fatalf("forwarded message at %d, want 25", fwd[4].Offset)
			}
			a0 := a.current().id
			kill(a, aStore)
			// Before anyone takes over, history already has every
			// acknowledged message: read from the gone owner's journal.
			if msgs, _, err := b.Page(t.Context(), room, Position{}, 100); err != nil || len(msgs) != 25 {
				t.Fatalf("history before the takeover: %d messages (err %v), want 25", len(msgs), err)
			}
			after := publishN(t, b, room, "b", 5)
			if after[0].Offset != 26 {
				t.Fatalf("first message after the takeover at %d, want 26", after[0].Offset)
			}
			b.Close()
			want := append(append(ids(before), ids(fwd)...), ids(after)...)
			checkChain(t, pageAll(t, base, room), want)
			// a's journal is ended by a tombstone and holds nothing else.
			seqs, err := NewLog(base).journalSeqs(t.Context(), a0)
			if err != nil || len(seqs) != 1 {
				t.Fatalf("a's journal after recovery: %v (err %v), want only its tombstone", seqs, err)
			}
			if e, err := NewLog(base).readJournal(t.Context(), a0, seqs[0]); err != nil || e.FencedBy == "" {
				t.Fatalf("a's last journal entry is not a tombstone: %+v %v", e, err)
			}
		})
	}
}

// TestRestartRecoversJournal: one embedded node killed and started again
// on the same store (a fresh in-process broker): the new process's sweep
// finds the old journal at start and recovers it without anyone writing.
func TestRestartRecoversJournal(t *testing.T) {
	base := stores(t)["dir"](t)
	aStore := &cutStore{Store: base}
	a := newService(NewLog(aStore), NewMemory(), Options{}, neverCompact)
	room := "c_restart/joint"
	before := publishN(t, a, room, "a", 7)
	kill(a, aStore)
	if got := pageAll(t, base, room); len(got) != 0 {
		t.Fatalf("before recovery the segments hold %d messages; the test needs them only journaled", len(got))
	}
	b := NewService(NewLog(base), NewMemory(), Options{})
	defer b.Close()
	var got []Message
	for range 200 {
		if got = pageAll(t, base, room); len(got) == len(before) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkChain(t, got, ids(before))
	after := publishN(t, b, room, "b", 1)
	if after[0].Offset != 8 {
		t.Fatalf("after restart the next message went to %d, want 8", after[0].Offset)
	}
}

// ownerAndPeer starts two nodes on one store and broker: a, which keeps
// what it acknowledges in its journal, and b. Both close with the test.
func ownerAndPeer(t *testing.T) (objstore.Store, *Service, *Service) {
	store := stores(t)["dir"](t)
	broker := NewMemory()
	a := newService(NewLog(store), broker, Options{}, neverCompact)
	t.Cleanup(a.Close)
	b := NewService(NewLog(store), broker, Options{})
	t.Cleanup(b.Close)
	return store, a, b
}

// TestFencedOwnerCannotAcknowledge: a live owner that another node
// fenced (it thought the owner gone) fails its next commit rather than
// acknowledge it where nobody will look, starts a new journal, and its
// publishers' retries reach the new owner.
func TestFencedOwnerCannotAcknowledge(t *testing.T) {
	store, a, b := ownerAndPeer(t)
	room := "c_fence/joint"
	before := publishN(t, a, room, "a", 3)
	cl, ok, err := b.log.currentClaim(t.Context(), room)
	if err != nil || !ok || cl.Node != a.current().id {
		t.Fatalf("claim %+v %v %v", cl, ok, err)
	}
	if err := b.takeOver(t.Context(), room, cl); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(t.Context(), room, Message{ID: "lost?", From: "u"}); err == nil {
		t.Fatal("a fenced owner acknowledged a message")
	}
	retried := publishN(t, a, room, "r", 2) // a's new incarnation forwards to b
	if retried[0].Offset != 4 {
		t.Fatalf("retry landed at %d, want 4", retried[0].Offset)
	}
	a.Close()
	b.Close()
	checkChain(t, pageAll(t, store, room), append(ids(before), ids(retried)...))
}

// TestHistoryIncludesJournaledMessages: what the owner has acknowledged
// but not yet compacted is in history at once, read on the owner (from
// memory) or on any other node (asking the owner).
func TestHistoryIncludesJournaledMessages(t *testing.T) {
	store, a, b := ownerAndPeer(t)
	room := "c_hist/joint"
	sent := publishN(t, a, room, "a", 6)
	if got := pageAll(t, store, room); len(got) != 0 {
		t.Fatalf("segments hold %d messages; the test needs them only journaled", len(got))
	}
	for name, svc := range map[string]*Service{"owner": a, "other node": b} {
		msgs, next, err := svc.Page(t.Context(), room, Position{Epoch: 1, Offset: 2}, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 3 || msgs[0].ID != sent[2].ID || msgs[2].ID != sent[4].ID || next != msgs[2].Pos() {
			t.Fatalf("%s: page after 1/2 = %+v next %+v", name, ids(msgs), next)
		}
	}
}

// TestForwardingIsAuthenticated: a request to a room's owner that is not
// signed with the deployment's node key is ignored, and a signed one
// replayed through the broker is served once.
func TestForwardingIsAuthenticated(t *testing.T) {
	store := stores(t)["dir"](t)
	broker := NewMemory()
	a := NewService(NewLog(store), broker, Options{NodeKey: []byte("the deployment's key")})
	defer a.Close()
	room := "c_mac/joint"
	publishN(t, a, room, "a", 1)
	request := func(id string) []byte {
		body, _ := json.Marshal(forwardRequest{Op: "commit", Req: id, Reply: "someone", Room: room, At: time.Now().UnixMilli(),
			Msgs: []Message{{ID: id, From: "u_forged", Body: []byte("x")}}})
		return body
	}
	inc := a.current().id
	forger := NewService(NewLog(store), NewMemory(), Options{NodeKey: []byte("a guess")})
	defer forger.Close()
	for _, data := range [][]byte{request("unsigned"), forger.sign(request("wrong-key"))} {
		if n, err := broker.Send(t.Context(), ownerTopic(inc), data); err != nil || n != 1 {
			t.Fatalf("send: %d %v", n, err)
		}
	}
	signed := a.sign(request("replayed"))
	for range 3 {
		broker.Send(t.Context(), ownerTopic(inc), signed)
	}
	count := map[string]int{}
	var got []string
	for range 200 { // until the signed request is in (it is served asynchronously)
		msgs, _, err := a.Page(t.Context(), room, Position{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		got = ids(msgs)
		clear(count)
		for _, id := range got {
			count[id]++
		}
		if count["replayed"] > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if count["unsigned"] != 0 || count["wrong-key"] != 0 || count["replayed"] != 1 {
		t.Fatalf("history %v: want the signed request once and no other", got)
	}
}

// pauseOnceStore stops, once, right after listing keys under prefix, until
// released: it lets a test run other work between a node's listing and
// what that node does next.
type pauseOnceStore struct {
	objstore.Store
	prefix  string
	once    sync.Once
	listed  chan struct{}
	release chan struct{}
}

func (p *pauseOnceStore) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	err := p.Store.List(ctx, prefix, fn)
	if strings.HasPrefix(prefix, p.prefix) {
		p.once.Do(func() {
			close(p.listed)
			<-p.release
		})
	}
	return err
}

// TestFenceAboveWhatCompactionFreed: the owner writes on and compacts
// (deleting the entry numbers a fencing node listed) between the fencing
// node's listing and its tombstone. The fence still ends the journal above
// everything the owner wrote: the owner's next commit fails, and the new
// owner goes on after every acknowledged message. (Found in review: a
// tombstone on a freed number let the owner go on acknowledging.)
func TestFenceAboveWhatCompactionFreed(t *testing.T) {
	base := stores(t)["dir"](t)
	broker := NewMemory()
	a := newService(NewLog(base), broker, Options{}, timing{probe: time.Second, compact: 20 * time.Millisecond, sweep: time.Hour})
	defer a.Close()
	room := "c_freed/joint"
	first := publishN(t, a, room, "a", 3)
	aid := a.current().id
	paused := &pauseOnceStore{Store: base, prefix: journalPrefix(aid), listed: make(chan struct{}), release: make(chan struct{})}
	b := newService(NewLog(paused), broker, Options{}, timing{probe: time.Second, compact: time.Hour, sweep: time.Hour})
	defer b.Close()
	cl, _, err := b.log.currentClaim(t.Context(), room)
	if err != nil {
		t.Fatal(err)
	}
	fenced := make(chan error, 1)
	go func() { fenced <- b.fence(context.Background(), aid) }()
	<-paused.listed
	more := publishN(t, a, room, "m", 3)
	for range 100 { // until compaction has freed the numbers b listed
		if seqs, _ := a.log.journalSeqs(t.Context(), aid); len(seqs) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(paused.release)
	if err := <-fenced; err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(t.Context(), room, Message{ID: "after-fence", From: "u"}); err == nil {
		t.Fatal("the fenced owner acknowledged a message")
	}
	if err := b.recoverJournal(t.Context(), aid); err != nil {
		t.Fatal(err)
	}
	if err := b.claimRoom(t.Context(), b.current(), room, cl.Gen+1); err != nil {
		t.Fatal(err)
	}
	next := publishN(t, b, room, "b", 2)
	if next[0].Offset != 7 {
		t.Fatalf("the new owner went on at %d, want 7 (after the 6 acknowledged)", next[0].Offset)
	}
	a.Close()
	b.Close()
	checkChain(t, pageAll(t, base, room), append(append(ids(first), ids(more)...), ids(next)...))
}

// lostAnswerStore stores the first put under a key containing match but
// answers it with an error, as when the store's answer is lost.
type lostAnswerStore struct {
	objstore.Store
	match string
	once  sync.Once
}

func (l *lostAnswerStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := l.Store.Put(ctx, key, r, size, opts)
	lost := false
	if err == nil && strings.Contains(key, l.match) {
		l.once.Do(func() { lost = true })
	}
	if lost {
		return objstore.Info{}, errCut
	}
	return info, err
}

// TestClaimWithLostAnswerIsAdopted: a node's claim lands but its answer is
// lost, so its publish fails; another node forwarding to it is still
// served (the claim is adopted), not sent round in circles. (Found in
// review.)
func TestClaimWithLostAnswerIsAdopted(t *testing.T) {
	base := stores(t)["dir"](t)
	broker := NewMemory()
	a := NewService(NewLog(&lostAnswerStore{Store: base, match: "/owner/"}), broker, Options{})
	defer a.Close()
	b := NewService(NewLog(base), broker, Options{})
	defer b.Close()
	room := "c_lost/joint"
	if _, err := a.Publish(t.Context(), room, Message{ID: "x", From: "u"}); err == nil {
		t.Fatal("the claim's lost answer did not fail the publish")
	}
	got := publishN(t, b, room, "b", 2)
	if got[0].Offset != 1 {
		t.Fatalf("forwarded message at %d, want 1", got[0].Offset)
	}
	if cl, _, _ := b.log.currentClaim(t.Context(), room); cl.Node != a.current().id || cl.Gen != 1 {
		t.Fatalf("claim %+v: want a's, generation 1", cl)
	}
}

// TestEndedHistoryIsNotWrittenBack: a case's history disposed of while
// its messages still wait in the owner's journal is not written back when
// the journal is compacted. (Found by the retention kill -9 fault run.)
func TestEndedHistoryIsNotWrittenBack(t *testing.T) {
	store := stores(t)["dir"](t)
	a := newService(NewLog(store), NewMemory(), Options{}, neverCompact)
	room := "c_ended/joint"
	publishN(t, a, room, "a", 3)
	if err := EndHistory(t.Context(), store, "c_ended"); err != nil {
		t.Fatal(err)
	}
	a.Close() // compacts: must drop the room's batches
	if got := pageAll(t, store, room); len(got) != 0 {
		t.Fatalf("%d messages written back after the history ended", len(got))
	}
	if seqs, _ := NewLog(store).journalSeqs(t.Context(), a.current().id); len(seqs) != 1 {
		t.Fatalf("journal left %v, want only its tombstone", seqs)
	}
}

// TestVerifyStoredAcceptsAJournalWithGaps: a journal's batches of a room
// need not follow one another (entries whose batches were all compacted
// are deleted, the room's later batches with them), so recovery checks
// each journaled message against the room's record at its own position.
// A message stored differently, or missing, is still a conflict.
func TestVerifyStoredAcceptsAJournalWithGaps(t *testing.T) {
	s := newService(NewLog(stores(t)["dir"](t)), NewMemory(), Options{}, neverCompact)
	t.Cleanup(s.Close)
	room := "c_gaps/joint"
	msg := func(off int64, id string) Message {
		return Message{Epoch: 1, Offset: off, ID: id, From: "u", Body: []byte("body " + id)}
	}
	stored := &Batch{Room: room, Epoch: 1, First: 1}
	for off := int64(1); off <= 6; off++ {
		stored.Msgs = append(stored.Msgs, msg(off, fmt.Sprint("m", off)))
	}
	if err := s.log.appendSegment(t.Context(), stored, nil); err != nil {
		t.Fatal(err)
	}
	head := Position{Epoch: 1, Offset: 6}
	journal := func(msgs ...Message) []*Batch {
		var out []*Batch
		for _, m := range msgs {
			out = append(out, &Batch{Room: room, Epoch: 1, First: m.Offset, Msgs: []Message{m}})
		}
		return out
	}
	// Offsets 2 and 5 left in the journal, 3 and 4 compacted and gone; 7
	// is past the head (not stored yet: recovery writes it).
	if err := s.verifyStored(t.Context(), room, journal(msg(2, "m2"), msg(5, "m5"), msg(7, "m7")), head); err != nil {
		t.Fatalf("a journal with gaps: %v", err)
	}
	if err := s.verifyStored(t.Context(), room, journal(msg(2, "m2"), msg(5, "other")), head); !errors.Is(err, errConflict) {
		t.Fatalf("another message at 5: %v, want a conflict", err)
	}
	if err := s.verifyStored(t.Context(), room, journal(msg(2, "m2"), msg(6, "m6")), Position{Epoch: 1, Offset: 8}); err != nil {
		t.Fatalf("a head past the journal: %v", err)
	}
	if err := s.verifyStored(t.Context(), room, journal(msg(7, "m7")), Position{Epoch: 1, Offset: 8}); !errors.Is(err, errConflict) {
		t.Fatalf("a journaled message the record lacks below its head: %v, want a conflict", err)
	}
}

// TestTailBudgetCompactsEarly: once the batches a node holds for
// compaction pass its budget, its rooms are compacted without waiting for
// the interval, and the tail held in memory shrinks back under it.
func TestTailBudgetCompactsEarly(t *testing.T) {
	store := stores(t)["dir"](t)
	for _, c := range []struct {
		budget  int
		compact bool
	}{{4 << 10, true}, {1 << 30, false}} {
		s := newService(NewLog(store), NewMemory(), Options{}, timing{probe: time.Second, compact: time.Hour, sweep: time.Hour, tailBytes: c.budget})
		room := fmt.Sprintf("c_budget%d/joint", c.budget)
		publishN(t, s, room, "m", 40) // 40 × (≥ 96 B) > 4 KiB
		held := func() int {
			inc := s.current()
			s.incMu.Lock()
			defer s.incMu.Unlock()
			n := 0
			for _, or := range inc.owned {
				n += or.tailBytes
			}
			return n
		}
		segments := func() int {
			n := 0
			store.List(t.Context(), StoragePrefix(room), func(info objstore.Info) error {
				if strings.Contains(info.Key, "/e") {
					n++
				}
				return nil
			})
			return n
		}
		deadline := time.Now().Add(5 * time.Second)
		for segments() == 0 && c.compact && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !c.compact {
			// One pass of compaction, as the ticker runs it (nothing is
			// due, so the ticker's own passes write nothing either).
			if err := s.compact(t.Context(), s.current(), false); err != nil {
				t.Fatal(err)
			}
		}
		got, h := segments(), held()
		s.Close()
		switch {
		case c.compact && (got == 0 || h > c.budget):
			t.Errorf("budget %d B: %d segments written, %d B still held; want the room compacted under the budget", c.budget, got, h)
		case !c.compact && (got != 0 || h == 0):
			t.Errorf("budget %d B: %d segments written, %d B held; want nothing compacted before the interval", c.budget, got, h)
		}
	}
}
