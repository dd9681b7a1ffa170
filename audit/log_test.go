package audit

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

func TestAppendVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)

	if rep := mustVerify(t, store, s.VerifierKey(), nil); rep.Size != 0 {
		t.Fatalf("empty log: Size = %d", rep.Size)
	}
	// Even the empty log has a checkpoint a client can pin (RFC 6962's
	// empty-tree hash at size 0).
	cp0, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := OpenCheckpoint(cp0, s.VerifierKey()); err != nil || c.Size != 0 {
		t.Fatalf("empty checkpoint %+v, %v", c, err)
	}

	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	want := []Event{
		{Type: "case.open", Actor: "u-1", Case: "c-1", Attrs: map[string]string{"role": "mediator"}, Time: at},
		{Type: "doc.share", Actor: "u-1", Case: "c-1", Objects: []string{"d-1", "d-2"}, Hashes: []string{"sha256:aa", "sha256:bb"}, Time: at},
	}
	for i, e := range want {
		idx, err := l.Append(ctx, e)
		if err != nil || idx != int64(i) {
			t.Fatalf("Append %d = %d, %v", i, idx, err)
		}
	}
	batch := []Event{ev("retention.purge", "svc"), ev("retention.purge", "svc"), ev("retention.purge", "svc")}
	idx, err := l.AppendBatch(ctx, batch)
	if err != nil || !reflect.DeepEqual(idx, []int64{2, 3, 4}) {
		t.Fatalf("AppendBatch = %v, %v", idx, err)
	}
	if l.Size() != 5 {
		t.Fatalf("Size = %d, want 5", l.Size())
	}

	rep := mustVerify(t, store, s.VerifierKey(), nil)
	if rep.Size != 5 || rep.CheckpointSize != 5 {
		t.Fatalf("report %+v, want size 5 signed", rep)
	}
	// Latest plus one historical checkpoint per publish (sizes 0, 1, 2, 5).
	if rep.CheckpointsChecked != 5 {
		t.Fatalf("CheckpointsChecked = %d, want 5", rep.CheckpointsChecked)
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCheckpoint(cp, s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != 5 || c.Hash != rep.RootHash || c.Origin != testOrigin {
		t.Fatalf("checkpoint %+v does not match report %+v", c, rep)
	}

	for i, e := range want {
		got, err := l.Entry(ctx, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Time.Equal(e.Time) || got.Time.Location() != time.UTC {
			t.Fatalf("entry %d time = %v, want %v in UTC", i, got.Time, e.Time)
		}
		got.Time, e.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("entry %d = %+v, want %+v", i, got, e)
		}
	}
	if got, _ := l.Entry(ctx, 3); got.Time.IsZero() {
		t.Fatal("Append did not stamp a zero Time")
	}
	if _, err := l.Entry(ctx, 5); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Entry past the end: %v, want ErrNotFound", err)
	}

	// A second Log on the same store (a restart, or another node) rebuilds
	// the same tree and continues at the end.
	l2 := openLog(t, store, s)
	if l2.Size() != 5 {
		t.Fatalf("reopened Size = %d", l2.Size())
	}
	if i, err := l2.Append(ctx, ev("auth.login", "u-2")); err != nil || i != 5 {
		t.Fatalf("append after reopen = %d, %v", i, err)
	}
	if rep := mustVerify(t, store, s.VerifierKey(), cp0); rep.Size != 6 {
		t.Fatalf("Size after reopen append = %d", rep.Size)
	}
	if rep := mustVerify(t, store, s.VerifierKey(), cp); rep.Size != 6 {
		t.Fatalf("Size after reopen append = %d", rep.Size)
	}
}

// Two Logs on one store stand for two nodes; several goroutines on each
// append at once. Every event must end up in the log exactly once, at the
// index Append reported, with no gaps.
func TestConcurrentNodes(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	nodes := []*Log{openLog(t, store, s), openLog(t, store, s)}
	const workers, perWorker, batchSize = 3, 6, 4

	type tag struct{ node, worker, seq int }
	var mu sync.Mutex
	placed := map[int64]tag{}
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes)*workers)
	for ni, l := range nodes {
		for w := range workers {
			wg.Go(func() {
				mk := func(seq int) Event {
					return Event{Type: "test.concurrent", Actor: fmt.Sprintf("n%d", ni), Attrs: map[string]string{
						"node": fmt.Sprint(ni), "worker": fmt.Sprint(w), "seq": fmt.Sprint(seq)}}
				}
				record := func(idx int64, tg tag) error {
					mu.Lock()
					defer mu.Unlock()
					if prev, dup := placed[idx]; dup {
						return fmt.Errorf("index %d returned twice: %v and %v", idx, prev, tg)
					}
					placed[idx] = tg
					return nil
				}
				for seq := range perWorker {
					if w == 0 && seq%2 == 1 { // mix batches in
						var evs []Event
						for b := range batchSize {
							evs = append(evs, mk(1000*seq+b))
						}
						idx, err := l.AppendBatch(ctx, evs)
						if err != nil {
							errs <- err
							return
						}
						for b, i := range idx {
							if err := record(i, tag{ni, w, 1000*seq + b}); err != nil {
								errs <- err
								return
							}
						}
						continue
					}
					idx, err := l.Append(ctx, mk(seq))
					if err != nil {
						errs <- err
						return
					}
					if err := record(idx, tag{ni, w, seq}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// worker 0 on each node: 3 singles + 3 batches of batchSize.
	total := len(nodes) * ((workers-1)*perWorker + perWorker/2 + perWorker/2*batchSize)
	if len(placed) != total {
		t.Fatalf("%d events placed, want %d", len(placed), total)
	}
	rep := mustVerify(t, store, s.VerifierKey(), nil)
	if rep.Size != int64(total) || rep.CheckpointSize != int64(total) {
		t.Fatalf("report %+v, want %d entries, all signed", rep, total)
	}
	seen := map[tag]bool{}
	for i := range int64(total) {
		want, ok := placed[i]
		if !ok {
			t.Fatalf("no Append returned index %d", i)
		}
		e, err := nodes[0].Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		var got tag
		fmt.Sscan(e.Attrs["node"], &got.node)
		fmt.Sscan(e.Attrs["worker"], &got.worker)
		fmt.Sscan(e.Attrs["seq"], &got.seq)
		if got != want {
			t.Fatalf("entry %d holds %v, Append said %v", i, got, want)
		}
		if seen[got] {
			t.Fatalf("event %v logged twice", got)
		}
		seen[got] = true
	}
	// Both nodes converge on the same signed checkpoint.
	c0, err0 := nodes[0].Checkpoint(ctx)
	c1, err1 := nodes[1].Checkpoint(ctx)
	if err0 != nil || err1 != nil || string(c0) != string(c1) {
		t.Fatalf("nodes disagree on checkpoint: %v %v\n%s\n%s", err0, err1, c0, c1)
	}
}

// A node that is behind must not move the latest checkpoint backwards.
func TestCheckpointDoesNotRegress(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	slow := openLog(t, store, s)
	appendN(t, slow, 3)
	fast := openLog(t, store, s)
	appendN(t, fast, 3)

	err := slow.publish(ctx) // signs size 3 while the store is at 6 (no writer runs: nothing queued)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCheckpoint(getObject(t, store, latestKey), s.VerifierKey())
	if err != nil || c.Size != 6 {
		t.Fatalf("latest checkpoint size %d (%v), want 6", c.Size, err)
	}
	// The slow node catches up before appending.
	if i, err := slow.Append(ctx, ev("x", "y")); err != nil || i != 6 {
		t.Fatalf("slow Append = %d, %v; want 6", i, err)
	}
}

// If a node stops between writing an entry and signing a checkpoint over
// it, Verify reports the tail beyond the checkpoint (each entry of it
// vouched for by its own signature) and Checkpoint heals it.
func TestCheckpointCoversUnsignedTail(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 2)
	rec, _ := ev("doc.view", "u-9").Encode()
	overwrite(t, store, entryKey(2), signRecord(s, 2, rec)) // entry written, no checkpoint

	if rep := mustVerify(t, store, s.VerifierKey(), nil); rep.Size != 3 || rep.CheckpointSize != 2 {
		t.Fatalf("report %+v, want 3 entries with 2 signed", rep)
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := OpenCheckpoint(cp, s.VerifierKey()); c.Size != 3 {
		t.Fatalf("Checkpoint size %d, want 3", c.Size)
	}
	if rep := mustVerify(t, store, s.VerifierKey(), nil); rep.CheckpointSize != 3 {
		t.Fatalf("after Checkpoint: %+v", rep)
	}
}

func TestOpenRefusesTamperedLog(t *testing.T) {
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	appendN(t, openLog(t, store, s), 4)
	forged, _ := ev("doc.view", "mallory").Encode()
	overwrite(t, store, entryKey(1), forged)
	if _, err := Open(context.Background(), store, s); err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 1") {
		t.Fatalf("Open of a log with a rewritten entry: %v", err)
	}
	// Rewritten by someone holding the key: the checkpoints catch it.
	overwrite(t, store, entryKey(1), signRecord(s, 1, forged))
	if _, err := Open(context.Background(), store, s); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("Open of tampered log: %v", err)
	}
	// Nor can a node configured with another key take over a log.
	store2 := newStore(t)
	appendN(t, openLog(t, store2, s), 2)
	other := newSigner(t, testOrigin, "k2")
	if _, err := Open(context.Background(), store2, other); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("Open with another key: %v", err)
	}
}

func TestEntryDetectsRewrite(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 3)
	forged, _ := ev("doc.view", "mallory").Encode()
	overwrite(t, store, entryKey(1), forged)
	if _, err := l.Entry(ctx, 1); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Fatalf("Entry of rewritten entry: %v", err)
	}
	if _, err := l.Entry(ctx, 0); err != nil {
		t.Fatal(err)
	}
}

func TestAppendRejectsInvalidWithoutWriting(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 1)
	if _, err := l.Append(ctx, Event{Actor: "no-type"}); err == nil {
		t.Fatal("Append of event without type succeeded")
	}
	big := ev("doc.view", "u")
	big.Attrs = map[string]string{"note": strings.Repeat("x", MaxAttrValue+1)}
	if idx, err := l.AppendBatch(ctx, []Event{ev("a", "u"), big, ev("b", "u")}); err == nil || idx != nil {
		t.Fatalf("AppendBatch with an invalid event = %v, %v", idx, err)
	}
	if l.Size() != 1 {
		t.Fatalf("Size = %d after rejected appends, want 1", l.Size())
	}
	var keys []string
	store.List(ctx, entriesPrefix, func(i objstore.Info) error { keys = append(keys, i.Key); return nil })
	sort.Strings(keys)
	if len(keys) != 1 {
		t.Fatalf("store holds entries %v, want just one", keys)
	}
}
