package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
)

// watchedStore is a real store that records every Put that succeeded (key
// and body, in order) and can hold Puts the test picks until it releases
// them, or fail them: the log's I/O, stopped at a known point.
type watchedStore struct {
	objstore.Store
	mu      sync.Mutex
	hold    func(key string, body []byte) bool  // true: wait for release
	fail    func(key string, body []byte) error // non-nil: answer it, write nothing
	release chan struct{}
	held    int
	// ignoreCtx makes the store behave as one that ignores contexts: a
	// held Put waits for release alone, and every Put completes.
	ignoreCtx bool
	keys      []string
	bodies    [][]byte
}

func newWatchedStore(base objstore.Store) *watchedStore {
	return &watchedStore{Store: base, release: make(chan struct{})}
}

func (s *watchedStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return objstore.Info{}, err
	}
	s.mu.Lock()
	hold, fail := s.hold != nil && s.hold(key, body), s.fail
	if hold {
		s.held++
	}
	s.mu.Unlock()
	if s.ignoreCtx {
		ctx = context.WithoutCancel(ctx)
	}
	if hold {
		select {
		case <-s.release:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.held--
		s.mu.Unlock()
	}
	if fail != nil {
		if err := fail(key, body); err != nil {
			return objstore.Info{}, err
		}
	}
	info, err := s.Store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), opts)
	if err == nil {
		s.mu.Lock()
		s.keys = append(s.keys, key)
		s.bodies = append(s.bodies, body)
		s.mu.Unlock()
	}
	return info, err
}

func (s *watchedStore) setHold(f func(key string, body []byte) bool) {
	s.mu.Lock()
	s.hold = f
	s.mu.Unlock()
}

func (s *watchedStore) heldPuts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// puts returns the keys and bodies of the successful Puts under prefix.
func (s *watchedStore) puts(prefix string) (keys []string, bodies [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
			bodies = append(bodies, s.bodies[i])
		}
	}
	return keys, bodies
}

// holdFirstEntryPut makes the next entry Put wait for release, and no other.
func holdFirstEntryPut(s *watchedStore) {
	first := true
	s.setHold(func(key string, _ []byte) bool {
		if strings.HasPrefix(key, entriesPrefix) && first {
			first = false
			return true
		}
		return false
	})
}

// waitFor polls cond for up to 10 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// queued reports how many requests wait in l's queue for the writer (not
// counting those of the round it is writing).
func queued(l *Log) int {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.queue)
}

// writerIdle reports whether l has no writer running.
func writerIdle(l *Log) bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return !l.writing
}

// awaitDone waits up to 10 s for done, failing the test (after running
// cleanup, so nothing stays blocked) if it does not come.
func awaitDone(tb testing.TB, what string, done <-chan struct{}, cleanup func()) {
	tb.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cleanup()
		tb.Fatalf("%s did not answer while an append's write was held", what)
	}
}

// Proofs, Size and reading a known entry need only the in-memory tree:
// they must answer while an append waits on the store.
func TestReadersDoNotWaitForAppendIO(t *testing.T) {
	testenv.OnEachStore(t, testReadersDoNotWaitForAppendIO)
}

func testReadersDoNotWaitForAppendIO(t *testing.T, base objstore.Store) {
	ctx := context.Background()
	store := newWatchedStore(base)
	l := openLog(t, store, newSigner(t, testOrigin, "k1"))
	appendN(t, l, 3)

	holdFirstEntryPut(store)
	released := sync.OnceFunc(func() { close(store.release) })
	defer released()
	appended := make(chan error, 1)
	go func() {
		i, err := l.Append(ctx, ev("doc.view", "u-slow"))
		if err == nil && i != 3 {
			err = fmt.Errorf("index %d, want 3", i)
		}
		appended <- err
	}()
	waitFor(t, "the append's entry write to be held", func() bool { return store.heldPuts() == 1 })

	done := make(chan struct{})
	var size int64
	var proofErr, consErr, entryErr error
	go func() {
		defer close(done)
		size = l.Size()
		_, proofErr = l.InclusionProof(1, 3)
		_, consErr = l.ConsistencyProof(1, 3)
		_, entryErr = l.Entry(ctx, 0)
	}()
	awaitDone(t, "Size, InclusionProof, ConsistencyProof and Entry", done, released)
	if size != 3 || proofErr != nil || consErr != nil || entryErr != nil {
		t.Fatalf("while appending: Size %d, proofs %v / %v, entry %v", size, proofErr, consErr, entryErr)
	}
	released()
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
}

// A single event appended while a 500-event batch is being written waits
// for at most one round of the batch (64 entries), not the whole batch.
// Counted in writes, not time: the single's entry must be among the first
// 65 entry writes.
func TestSingleAppendNotHeldBehindBatch(t *testing.T) {
	testenv.OnEachStore(t, testSingleAppendNotHeldBehindBatch)
}

func testSingleAppendNotHeldBehindBatch(t *testing.T, base objstore.Store) {
	const chunk, batchLen = 64, 500
	ctx := context.Background()
	store := newWatchedStore(base)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)

	holdFirstEntryPut(store)
	released := sync.OnceFunc(func() { close(store.release) })
	defer released()
	batch := make([]Event, batchLen)
	for i := range batch {
		batch[i] = Event{Type: "retention.purge", Actor: "svc", Attrs: map[string]string{"n": fmt.Sprint(i)}}
	}
	var batchIdx []int64
	var batchErr error
	batchDone := make(chan struct{})
	go func() {
		defer close(batchDone)
		batchIdx, batchErr = l.AppendBatch(ctx, batch)
	}()
	waitFor(t, "the batch's first write to be held", func() bool { return store.heldPuts() == 1 })

	var loneIdx int64
	var loneErr error
	loneDone := make(chan struct{})
	go func() {
		defer close(loneDone)
		loneIdx, loneErr = l.Append(ctx, ev("doc.view", "u-lone"))
	}()
	waitFor(t, "the single append to queue", func() bool { return queued(l) == 1 })
	released()

	<-loneDone
	if loneErr != nil {
		t.Fatal(loneErr)
	}
	keys, bodies := store.puts(entriesPrefix)
	pos := -1
	for i, b := range bodies {
		if bytes.Contains(b, []byte(`"u-lone"`)) {
			pos = i
		}
	}
	if pos < 0 {
		t.Fatal("the single event's entry was never written")
	}
	if keys[pos] != entryKey(loneIdx) {
		t.Fatalf("single event written at %s, Append said %d", keys[pos], loneIdx)
	}
	if pos > chunk {
		t.Fatalf("single event was entry write %d: it waited for %d of the batch's writes, want at most %d", pos+1, pos, chunk)
	}

	<-batchDone
	if batchErr != nil || len(batchIdx) != batchLen {
		t.Fatalf("batch: %d indices, %v", len(batchIdx), batchErr)
	}
	for i := 1; i < len(batchIdx); i++ {
		if batchIdx[i] <= batchIdx[i-1] || batchIdx[i] == loneIdx {
			t.Fatalf("batch indices not ascending or reuse the single's: %v", batchIdx[i-1:i+1])
		}
	}
	for i, idx := range []int64{batchIdx[0], batchIdx[chunk], batchIdx[batchLen-1]} {
		e, err := l.Entry(ctx, idx)
		want := []int{0, chunk, batchLen - 1}[i]
		if err != nil || e.Attrs["n"] != fmt.Sprint(want) {
			t.Fatalf("entry %d = %+v, %v; want batch event %d", idx, e, err, want)
		}
	}
	if rep := mustVerify(t, store, s.VerifierKey(), nil); rep.Size != batchLen+1 || rep.CheckpointSize != batchLen+1 {
		t.Fatalf("report %+v, want %d entries, all signed", rep, batchLen+1)
	}
}

// Appends that queue while another is being written are written together
// and share one checkpoint; each still gets its own index, holding its own
// event, covered by the latest checkpoint. With the first append's write
// held until the other n-1 have queued, that is exactly two checkpoints:
// the first append's round and the others' round.
func TestConcurrentAppendsShareCheckpoint(t *testing.T) {
	testenv.OnEachStore(t, testConcurrentAppendsShareCheckpoint)
}

func testConcurrentAppendsShareCheckpoint(t *testing.T, base objstore.Store) {
	const n = 8
	ctx := context.Background()
	store := newWatchedStore(base)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 2)
	cpBefore, _ := store.puts(DefaultPrefix + "checkpoints/")

	holdFirstEntryPut(store)
	released := sync.OnceFunc(func() { close(store.release) })
	defer released()
	idx := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := func(w int) {
		wg.Go(func() { idx[w], errs[w] = l.Append(ctx, ev("doc.view", fmt.Sprintf("u-%d", w))) })
	}
	start(0)
	waitFor(t, "the first append's write to be held", func() bool { return store.heldPuts() == 1 })
	for w := 1; w < n; w++ {
		start(w)
	}
	waitFor(t, "every other append to queue", func() bool { return queued(l) == n-1 })
	released()
	wg.Wait()

	cpAfter, _ := store.puts(DefaultPrefix + "checkpoints/")
	if published := len(cpAfter) - len(cpBefore); published != 2 {
		t.Fatalf("%d concurrent appends published %d checkpoints, want 2 (one per round): %v", n, published, cpAfter[len(cpBefore):])
	}
	latest, err := OpenCheckpoint(getObject(t, store, latestKey), s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for w := range n {
		if errs[w] != nil {
			t.Fatalf("append %d: %v", w, errs[w])
		}
		if seen[idx[w]] {
			t.Fatalf("index %d returned twice", idx[w])
		}
		seen[idx[w]] = true
		if idx[w] >= latest.Size {
			t.Fatalf("append %d at %d not covered by the latest checkpoint (size %d)", w, idx[w], latest.Size)
		}
		e, err := l.Entry(ctx, idx[w])
		if err != nil || e.Actor != fmt.Sprintf("u-%d", w) {
			t.Fatalf("entry %d = %+v, %v; want append %d's event", idx[w], e, err, w)
		}
		rec, _ := e.Encode()
		proof, err := l.InclusionProof(idx[w], latest.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(proof, latest.Size, latest.Hash, idx[w], tlog.RecordHash(rec)); err != nil {
			t.Fatalf("entry %d not in the latest checkpoint: %v", idx[w], err)
		}
	}
}

// An append whose write fails gets the error and no index, while the
// appends written in the same round succeed; nothing is reported written
// that is not in the log.
func TestFailedWriteReportedOnlyToItsAppend(t *testing.T) {
	testenv.OnEachStore(t, testFailedWriteReportedOnlyToItsAppend)
}

func testFailedWriteReportedOnlyToItsAppend(t *testing.T, base objstore.Store) {
	const n = 4
	ctx := context.Background()
	store := newWatchedStore(base)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 1)

	boom := errors.New("disk on fire")
	store.fail = func(key string, body []byte) error {
		if strings.HasPrefix(key, entriesPrefix) && bytes.Contains(body, []byte(`"u-doomed"`)) {
			return boom
		}
		return nil
	}
	holdFirstEntryPut(store)
	released := sync.OnceFunc(func() { close(store.release) })
	defer released()
	idx := make([]int64, n)
	errs := make([]error, n)
	actor := func(w int) string {
		if w == 2 {
			return "u-doomed"
		}
		return fmt.Sprintf("u-%d", w)
	}
	var wg sync.WaitGroup
	start := func(w int) {
		wg.Go(func() { idx[w], errs[w] = l.Append(ctx, ev("doc.view", actor(w))) })
	}
	start(0)
	waitFor(t, "the first append's write to be held", func() bool { return store.heldPuts() == 1 })
	for w := 1; w < n; w++ {
		start(w)
	}
	waitFor(t, "every other append to queue", func() bool { return queued(l) == n-1 })
	released()
	wg.Wait()

	if !errors.Is(errs[2], boom) || idx[2] != -1 {
		t.Fatalf("doomed append = %d, %v; want -1 and its write's error", idx[2], errs[2])
	}
	for w := range n {
		if w == 2 {
			continue
		}
		if errs[w] != nil {
			t.Fatalf("append %d failed with another's error: %v", w, errs[w])
		}
		if e, err := l.Entry(ctx, idx[w]); err != nil || e.Actor != actor(w) {
			t.Fatalf("entry %d = %+v, %v; want append %d's event", idx[w], e, err, w)
		}
	}
	if rep := mustVerify(t, store, s.VerifierKey(), nil); rep.Size != n || rep.CheckpointSize != n {
		t.Fatalf("report %+v, want %d entries, all signed", rep, n)
	}
}

// An append whose caller gives up while it waits its turn is answered with
// the context's error and not written.
func TestCancelledQueuedAppendNotWritten(t *testing.T) {
	testenv.OnEachStore(t, testCancelledQueuedAppendNotWritten)
}

func testCancelledQueuedAppendNotWritten(t *testing.T, base objstore.Store) {
	ctx := context.Background()
	store := newWatchedStore(base)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)

	holdFirstEntryPut(store)
	released := sync.OnceFunc(func() { close(store.release) })
	defer released()
	firstDone := make(chan error, 1)
	go func() {
		_, err := l.Append(ctx, ev("doc.view", "u-first"))
		firstDone <- err
	}()
	waitFor(t, "the first append's write to be held", func() bool { return store.heldPuts() == 1 })

	cctx, cancel := context.WithCancel(ctx)
	quitDone := make(chan struct{})
	var quitIdx int64
	var quitErr error
	go func() {
		defer close(quitDone)
		quitIdx, quitErr = l.Append(cctx, ev("doc.view", "u-quitter"))
	}()
	waitFor(t, "the second append to queue", func() bool { return queued(l) == 1 })
	cancel()
	awaitDone(t, "the cancelled append", quitDone, released)
	if !errors.Is(quitErr, context.Canceled) || quitIdx != -1 {
		t.Fatalf("cancelled append = %d, %v", quitIdx, quitErr)
	}
	released()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if i, err := l.Append(ctx, ev("doc.view", "u-after")); err != nil || i != 1 {
		t.Fatalf("next append = %d, %v; want 1 (the cancelled event not written)", i, err)
	}
	_, bodies := store.puts(entriesPrefix)
	for _, b := range bodies {
		if bytes.Contains(b, []byte(`"u-quitter"`)) {
			t.Fatal("the cancelled append's event was written")
		}
	}
}

// A batch no other append waits behind is written in one round and signed
// once, as a batch always was: rounds end early only for someone waiting.
func TestLoneBatchPublishesOneCheckpoint(t *testing.T) {
	testenv.OnEachStore(t, testLoneBatchPublishesOneCheckpoint)
}

func testLoneBatchPublishesOneCheckpoint(t *testing.T, base objstore.Store) {
	ctx := context.Background()
	store := newWatchedStore(base)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	batch := make([]Event, 200)
	for i := range batch {
		batch[i] = ev("retention.purge", "svc")
	}
	idx, err := l.AppendBatch(ctx, batch)
	if err != nil || len(idx) != len(batch) || idx[0] != 0 || idx[len(idx)-1] != int64(len(batch)-1) {
		t.Fatalf("AppendBatch = %d indices, %v", len(idx), err)
	}
	if cps, _ := store.puts(DefaultPrefix + "checkpoints/"); len(cps) != 1 {
		t.Fatalf("a lone batch published %d checkpoints, want 1: %v", len(cps), cps)
	}
}

// An append whose caller gives up after its entry was written — here while
// the round's checkpoint is being written — gets the entry's index with the
// context's error, as Append's doc promises: callers take idx >= 0 as
// "landed" and do not append the event again.
func TestCancelledAfterWriteGetsIndex(t *testing.T) {
	testenv.OnEachStore(t, testCancelledAfterWriteGetsIndex)
}

func testCancelledAfterWriteGetsIndex(t *testing.T, base objstore.Store) {
	ctx := context.Background()
	store := newWatchedStore(base)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 1)

	first := true
	store.setHold(func(key string, _ []byte) bool {
		if strings.HasPrefix(key, DefaultPrefix+"checkpoints/") && first {
			first = false
			return true
		}
		return false
	})
	released := sync.OnceFunc(func() { close(store.release) })
	defer released()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	var idx int64
	var err error
	go func() {
		defer close(done)
		idx, err = l.Append(cctx, ev("doc.view", "u-quitter"))
	}()
	waitFor(t, "the round's checkpoint write to be held", func() bool { return store.heldPuts() == 1 })
	cancel()
	awaitDone(t, "the cancelled append", done, released)
	if !errors.Is(err, context.Canceled) || idx != 1 {
		t.Fatalf("append cancelled after its entry was written = %d, %v; want 1 and the context's error", idx, err)
	}
	if e, err := l.Entry(ctx, idx); err != nil || e.Actor != "u-quitter" {
		t.Fatalf("entry %d = %+v, %v; want the cancelled append's event", idx, e, err)
	}
	released()
	if i, err := l.Append(ctx, ev("doc.view", "u-after")); err != nil || i != 2 {
		t.Fatalf("next append = %d, %v; want 2", i, err)
	}
	if rep := mustVerify(t, store, s.VerifierKey(), nil); rep.Size != 3 || rep.CheckpointSize != 3 {
		t.Fatalf("report %+v, want 3 entries, all signed", rep)
	}
}

// A batch whose caller gives up part way gets the indices written before,
// with the context's error, and nothing more of it is written afterwards —
// even on a store that ignores contexts and completes the write that was
// under way.
func TestCancelledBatchStopsAndReportsWritten(t *testing.T) {
	testenv.OnEachStore(t, testCancelledBatchStopsAndReportsWritten)
}

func testCancelledBatchStopsAndReportsWritten(t *testing.T, base objstore.Store) {
	ctx := context.Background()
	store := newWatchedStore(base)
	store.ignoreCtx = true
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)

	entryPuts := 0
	store.setHold(func(key string, _ []byte) bool {
		if !strings.HasPrefix(key, entriesPrefix) {
			return false
		}
		entryPuts++
		return entryPuts == 2 // the batch's second event
	})
	released := sync.OnceFunc(func() { close(store.release) })
	defer released()
	batch := make([]Event, 3)
	for i := range batch {
		batch[i] = Event{Type: "retention.purge", Actor: "svc", Attrs: map[string]string{"n": fmt.Sprint(i)}}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	var idx []int64
	var err error
	go func() {
		defer close(done)
		idx, err = l.AppendBatch(cctx, batch)
	}()
	waitFor(t, "the batch's second write to be held", func() bool { return store.heldPuts() == 1 })
	cancel()
	awaitDone(t, "the cancelled batch", done, released)
	if !errors.Is(err, context.Canceled) || len(idx) != 1 || idx[0] != 0 {
		t.Fatalf("batch cancelled after its first event = %v, %v; want [0] and the context's error", idx, err)
	}
	released()
	waitFor(t, "the writer to finish", func() bool { return writerIdle(l) })
	_, bodies := store.puts(entriesPrefix)
	for _, b := range bodies {
		if bytes.Contains(b, []byte(`"n":"2"`)) {
			t.Fatal("the batch's third event was written after its caller gave up")
		}
	}
	if len(bodies) != 2 {
		t.Fatalf("%d entries written, want 2 (the first, and the second whose write was under way)", len(bodies))
	}
}

// A panic in the writer (here, from the store) fails the round's append
// with an error instead of crashing the process, and the next request —
// one already queued, and one after — gets a writer again.
func TestWriterPanicFailsItsRound(t *testing.T) {
	testenv.OnEachStore(t, testWriterPanicFailsItsRound)
}

func testWriterPanicFailsItsRound(t *testing.T, base objstore.Store) {
	ctx := context.Background()
	store := newWatchedStore(base)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	store.fail = func(key string, body []byte) error {
		if strings.HasPrefix(key, entriesPrefix) && bytes.Contains(body, []byte(`"u-boom"`)) {
			panic("store bug")
		}
		return nil
	}
	holdFirstEntryPut(store)
	released := sync.OnceFunc(func() { close(store.release) })
	defer released()
	boomDone := make(chan struct{})
	var boomIdx int64
	var boomErr error
	go func() {
		defer close(boomDone)
		boomIdx, boomErr = l.Append(ctx, ev("doc.view", "u-boom"))
	}()
	waitFor(t, "the panicking append's write to be held", func() bool { return store.heldPuts() == 1 })
	okDone := make(chan struct{})
	var okIdx int64
	var okErr error
	go func() {
		defer close(okDone)
		okIdx, okErr = l.Append(ctx, ev("doc.view", "u-ok"))
	}()
	waitFor(t, "the next append to queue", func() bool { return queued(l) == 1 })
	released()
	awaitDone(t, "the panicking append", boomDone, func() {})
	if boomErr == nil || boomIdx != -1 {
		t.Fatalf("append whose write panicked = %d, %v; want -1 and an error", boomIdx, boomErr)
	}
	awaitDone(t, "the append queued behind the panic", okDone, func() {})
	if okErr != nil || okIdx != 0 {
		t.Fatalf("append queued behind the panic = %d, %v; want 0", okIdx, okErr)
	}
	if i, err := l.Append(ctx, ev("doc.view", "u-after")); err != nil || i != 1 {
		t.Fatalf("append after the panic = %d, %v; want 1", i, err)
	}
	if rep := mustVerify(t, store, s.VerifierKey(), nil); rep.Size != 2 || rep.CheckpointSize != 2 {
		t.Fatalf("report %+v, want 2 entries, all signed", rep)
	}
}

// A writer that ends by runtime.Goexit (here, called by the store, as
// t.FailNow in a test store would) fails the append it was writing with an
// error instead of leaving it, and every later append, waiting on a writer
// that is gone: the append queued behind it and one after are written.
func TestWriterGoexitFailsItsRound(t *testing.T) {
	testenv.OnEachStore(t, testWriterGoexitFailsItsRound)
}

func testWriterGoexitFailsItsRound(t *testing.T, base objstore.Store) {
	// Cancelled if an append does not answer, so that nothing stays blocked.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := newWatchedStore(base)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	store.fail = func(key string, body []byte) error {
		if strings.HasPrefix(key, entriesPrefix) && bytes.Contains(body, []byte(`"u-exit"`)) {
			runtime.Goexit()
		}
		return nil
	}
	holdFirstEntryPut(store)
	released := sync.OnceFunc(func() { close(store.release) })
	defer released()
	exitDone := make(chan struct{})
	var exitIdx int64
	var exitErr error
	go func() {
		defer close(exitDone)
		exitIdx, exitErr = l.Append(ctx, ev("doc.view", "u-exit"))
	}()
	waitFor(t, "the exiting append's write to be held", func() bool { return store.heldPuts() == 1 })
	okDone := make(chan struct{})
	var okIdx int64
	var okErr error
	go func() {
		defer close(okDone)
		okIdx, okErr = l.Append(ctx, ev("doc.view", "u-ok"))
	}()
	waitFor(t, "the next append to queue", func() bool { return queued(l) == 1 })
	released()
	awaitDone(t, "the append whose writer exited", exitDone, cancel)
	if exitErr == nil || errors.Is(exitErr, context.Canceled) || exitIdx != -1 {
		t.Fatalf("append whose writer exited = %d, %v; want -1 and the writer's error", exitIdx, exitErr)
	}
	awaitDone(t, "the append queued behind the exit", okDone, cancel)
	if okErr != nil || okIdx != 0 {
		t.Fatalf("append queued behind the exit = %d, %v; want 0", okIdx, okErr)
	}
	waitFor(t, "the writer to finish", func() bool { return writerIdle(l) })
	afterDone := make(chan struct{})
	var afterIdx int64
	var afterErr error
	go func() {
		defer close(afterDone)
		afterIdx, afterErr = l.Append(ctx, ev("doc.view", "u-after"))
	}()
	awaitDone(t, "the append after the exit", afterDone, cancel)
	if afterErr != nil || afterIdx != 1 {
		t.Fatalf("append after the exit = %d, %v; want 1", afterIdx, afterErr)
	}
	if rep := mustVerify(t, store, s.VerifierKey(), nil); rep.Size != 2 || rep.CheckpointSize != 2 {
		t.Fatalf("report %+v, want 2 entries, all signed", rep)
	}
}

// ctxBlindStore reads as a store that ignores contexts does (watchedStore's
// ignoreCtx does the same for writes): a Get completes after its caller
// gave up.
type ctxBlindStore struct{ objstore.Store }

func (s ctxBlindStore) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	return s.Store.Get(context.WithoutCancel(ctx), key, opts)
}

// An append that loses the race for its index to another node, again and
// again, stops retrying once its caller gives up: it gets the context's
// error at once and its event is not written after — even on a store that
// ignores contexts, where only the writer's own check can stop it.
func TestRetryStopsWhenCallerGivesUp(t *testing.T) {
	testenv.OnEachStore(t, testRetryStopsWhenCallerGivesUp)
}

func testRetryStopsWhenCallerGivesUp(t *testing.T, base objstore.Store) {
	ctx := context.Background()
	store := newWatchedStore(ctxBlindStore{base})
	store.ignoreCtx = true
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	rival, err := Event{Type: "doc.view", Actor: "u-rival", Time: time.Now()}.Encode()
	if err != nil {
		t.Fatal(err)
	}

	const losses = 3
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var attempts, lost atomic.Int32
	store.fail = func(key string, body []byte) error {
		if !strings.HasPrefix(key, entriesPrefix) || !bytes.Contains(body, []byte(`"u-quitter"`)) {
			return nil
		}
		attempts.Add(1)
		if lost.Load() < losses {
			// Another node takes the index just before this write of it.
			i, err := parseIndexKey(entriesPrefix, key)
			if err != nil {
				return err
			}
			rec := signRecord(s, i, rival)
			if _, err := base.Put(ctx, key, bytes.NewReader(rec), int64(len(rec)), objstore.PutOptions{IfNoneMatch: true, ContentType: "text/plain; charset=utf-8"}); err != nil {
				return fmt.Errorf("the rival's write: %w", err)
			}
			if lost.Add(1) == losses {
				cancel() // the caller gives up while its append loses races
			}
		}
		return nil
	}
	done := make(chan struct{})
	var idx int64
	var aerr error
	go func() {
		defer close(done)
		idx, aerr = l.Append(cctx, ev("doc.view", "u-quitter"))
	}()
	awaitDone(t, "the append whose caller gave up while it lost races", done, func() {})
	if !errors.Is(aerr, context.Canceled) || idx != -1 {
		t.Fatalf("append cancelled while losing races = %d, %v; want -1 and the context's error", idx, aerr)
	}
	waitFor(t, "the writer to finish", func() bool { return writerIdle(l) })
	if n := attempts.Load(); n != losses {
		t.Fatalf("the event's entry was written %d times, want %d: it was tried again after its caller gave up", n, losses)
	}
	_, bodies := store.puts(entriesPrefix)
	for _, b := range bodies {
		if bytes.Contains(b, []byte(`"u-quitter"`)) {
			t.Fatal("the event was written after its caller gave up")
		}
	}
	if i, err := l.Append(ctx, ev("doc.view", "u-after")); err != nil || i != losses {
		t.Fatalf("next append = %d, %v; want %d, after the rival's entries", i, err, losses)
	}
	if rep := mustVerify(t, store, s.VerifierKey(), nil); rep.Size != losses+1 || rep.CheckpointSize != losses+1 {
		t.Fatalf("report %+v, want %d entries, all signed", rep, losses+1)
	}
}
