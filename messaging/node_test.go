package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// neverCompact keeps a node's acknowledged messages in its journal only.
var neverCompact = timing{probe: time.Second, compact: time.Hour, sweep: time.Hour}

// kill cuts a node off the store and closes it: its broker subscriptions
// end (as a killed process's Redis connection does) and nothing it holds
// in memory survives.
func kill(svc *Service, store *cutStore) {
	store.cut.Store(true)
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

// TestFencedOwnerCannotAcknowledge: a live owner that another node
// fenced (it thought the owner gone) fails its next commit rather than
// acknowledge it where nobody will look, starts a new journal, and its
// publishers' retries reach the new owner.
func TestFencedOwnerCannotAcknowledge(t *testing.T) {
	store := stores(t)["dir"](t)
	broker := NewMemory()
	a := newService(NewLog(store), broker, Options{}, neverCompact)
	defer a.Close()
	b := NewService(NewLog(store), broker, Options{})
	defer b.Close()
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
// memory) or on any other node (from the owner's journal).
func TestHistoryIncludesJournaledMessages(t *testing.T) {
	store := stores(t)["dir"](t)
	broker := NewMemory()
	a := newService(NewLog(store), broker, Options{}, neverCompact)
	defer a.Close()
	b := NewService(NewLog(store), broker, Options{})
	defer b.Close()
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
