package audit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// writeOldLog writes k bare (unsigned) entries and a checkpoint over them
// without the "entries signed from" line, as a node of a release from
// before entry signatures left them, and returns the checkpoint.
func writeOldLog(tb testing.TB, store objstore.Store, s *Signer, k int64) []byte {
	tb.Helper()
	var tr tree
	for i := range k {
		e := ev("doc.view", "old")
		e.Time = time.Date(2025, 1, 1, 0, 0, int(i), 0, time.UTC)
		b, err := e.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		overwrite(tb, store, defaultLayout.entry(i), b)
		if err := tr.add(b); err != nil {
			tb.Fatal(err)
		}
	}
	return writeOldCheckpoint(tb, store, s, &tr)
}

// writeOldCheckpoint signs tr as a node of an older release did (no
// "entries signed from" line) and stores it by size and as the latest.
func writeOldCheckpoint(tb testing.TB, store objstore.Store, s *Signer, tr *tree) []byte {
	tb.Helper()
	root, err := tr.root(tr.n)
	if err != nil {
		tb.Fatal(err)
	}
	signed, err := signNote(Checkpoint{Origin: s.Name(), Size: tr.n, Hash: root}.Text(), s)
	if err != nil {
		tb.Fatal(err)
	}
	overwrite(tb, store, defaultLayout.checkpoint(tr.n), signed)
	overwrite(tb, store, defaultLayout.latest(), signed)
	return signed
}

// TestFirstOpenAppendsSignedEntry: the first Open of an old log appends a
// signed entry at its end and signs a checkpoint of one more entry stating
// that entries are signed from it, so that no checkpoint of the old size
// says two different things. A bucket writer who copies the old checkpoint
// of that size over the latest and forges the entry at that index is
// caught by Verify without a saved checkpoint and refused by Open, both
// naming the entry (review MEDIUM 1: before, the first Open signed a
// checkpoint of the old size, only the latest said from where entries are
// signed, and this passed Verify and was taken in by the next node).
func TestFirstOpenAppendsSignedEntry(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	old := writeOldLog(t, store, s, 2)

	l := openLog(t, store, s)
	if l.Size() != 3 {
		t.Fatalf("after the first Open the log has %d entries, want 3 (the old 2 and the signed one saying entries are signed)", l.Size())
	}
	got, err := l.Entry(ctx, 2)
	if err != nil || got.Type != EventEntrySignatures || got.Actor != "system" {
		t.Fatalf("Entry(2) = %+v, %v", got, err)
	}
	if _, sig, err := parseRecord(getObject(t, store, l.lay.entry(2))); err != nil || sig == nil {
		t.Fatalf("entry 2 is not signed: %v", err)
	}
	if rep := mustVerify(t, store, s.VerifierKey(), old); rep.Size != 3 || rep.SignedFrom != 2 || rep.CheckpointSize != 3 {
		t.Fatalf("report %+v", rep)
	}
	for _, key := range []string{l.lay.latest(), l.lay.checkpoint(3)} {
		if b := getObject(t, store, key); !strings.Contains(string(b), "entries signed from 2\n") {
			t.Fatalf("%s does not say from where entries are signed:\n%s", key, b)
		}
	}
	// The latest is a copy of the checkpoint stored under its size.
	if string(getObject(t, store, l.lay.latest())) != string(getObject(t, store, l.lay.checkpoint(3))) {
		t.Fatal("the latest checkpoint is not the one stored under its size")
	}
	// The old checkpoint of size 2 is left as it was.
	if string(getObject(t, store, l.lay.checkpoint(2))) != string(old) {
		t.Fatal("the old checkpoint was rewritten")
	}
	// Opening again appends nothing more.
	if l2 := openLog(t, store, s); l2.Size() != 3 {
		t.Fatalf("second Open: Size = %d, want 3", l2.Size())
	}

	// The attack: the old checkpoint of size 2 becomes the latest again,
	// and an unsigned entry replaces entry 2.
	signed2 := getObject(t, store, l.lay.entry(2))
	overwrite(t, store, l.lay.latest(), getObject(t, store, l.lay.checkpoint(2)))
	forge(t, l, 2, Event{Type: "retention.case.destroyed", Actor: "svc", Case: "case-gone"})
	verifyFails(t, store, s.VerifierKey(), nil, "entry 2")
	_, err = Open(ctx, store, s)
	if err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("Open over the forged entry 2: %v", err)
	}
	// Forging past it (the signed entry 2 left alone) is refused too.
	overwrite(t, store, l.lay.entry(2), signed2)
	forge(t, l, 3, Event{Type: "retention.case.destroyed", Actor: "svc", Case: "case-gone"})
	verifyFails(t, store, s.VerifierKey(), nil, "entry 3")
	if _, err := Open(ctx, store, s); err == nil || !strings.Contains(err.Error(), "entry 3") {
		t.Fatalf("Open over the forged entry 3: %v", err)
	}
}

// TestSameSizeOldCheckpointCannotBeRestored is the review's scratch test
// (TestR312SameSizeOldCheckpoint): an old log of 2, a node of this release
// opens it, the bucket writer copies checkpoints/2 over the latest and
// writes an unsigned entry at index 2. Verify without a saved checkpoint
// fails, and so does Open, naming entry 2.
func TestSameSizeOldCheckpointCannotBeRestored(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	writeOldLog(t, store, s, 2)
	l := openLog(t, store, s)

	overwrite(t, store, l.lay.latest(), getObject(t, store, l.lay.checkpoint(2)))
	forge(t, l, 2, Event{Type: "retention.case.destroyed", Actor: "svc", Case: "case-gone"})

	verifyFails(t, store, s.VerifierKey(), nil, "entry 2")
	if _, err := Open(ctx, store, s); err == nil || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("Open after the same-size rollback and a forged entry 2: %v", err)
	}
}

// TestFirstOpensRaceAppendOnce: nodes of this release starting at once on
// an old log append the signed entry that starts signatures once: the
// ones that lose the race for its index take in the winner's.
func TestFirstOpensRaceAppendOnce(t *testing.T) {
	ctx := context.Background()
	base := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	writeOldLog(t, base, s, 3)
	store := newWatchedStore(base)
	// Hold every node's write of entry 3 until all have tried it.
	const nodes = 4
	store.setHold(func(key string, _ []byte) bool { return key == defaultLayout.entry(3) })
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			_, errs[i] = Open(ctx, store, s)
		})
	}
	waitFor(t, "every node to try entry 3", func() bool { return store.heldPuts() == nodes })
	close(store.release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	if keys, _ := store.puts(entriesPrefix); len(keys) != 1 {
		t.Fatalf("entries written: %v, want one", keys)
	}
	if rep := mustVerify(t, base, s.VerifierKey(), nil); rep.Size != 4 || rep.SignedFrom != 3 || rep.CheckpointSize != 4 {
		t.Fatalf("report %+v", rep)
	}
}

// TestOversizedNextEntryIsForged: an object too large to be an entry at
// the next index is reported like any other entry a node did not write
// (the ERROR naming it, ErrForgedEntry), not as a bare read error.
func TestOversizedNextEntryIsForged(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 2)
	overwrite(t, store, l.lay.entry(2), []byte(strings.Repeat("x", 70<<10)))
	logs := captureLogs(t)

	_, err := l.Append(ctx, ev("doc.view", "user-z"))
	if err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("Append over an oversized entry 2: %v", err)
	}
	if got := logs.String(); !strings.Contains(got, "level=ERROR msg=\"audit: an entry in the store was not written by a node; audited writes fail until it is removed\" index=2") {
		t.Fatalf("logged %q", got)
	}
	if _, err := Open(ctx, store, s); err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("Open over an oversized entry 2: %v", err)
	}
	verifyFails(t, store, s.VerifierKey(), nil, "entry 2")
}

// TestOldNodeEntryIsCoveredNotForged: a node of the older release still
// runs while the first node of this release starts, and writes entry 2 and
// a checkpoint over it just before the new node's signed entry. The new
// node refuses the unsigned entry, and its ERROR says a signed checkpoint
// covers it (an old node wrote it: remove nothing). The remedy the ERROR
// and docs/operations.md give — stop the old node, start the new one again,
// remove nothing — leaves a log that opens and verifies, with the old
// node's entry in it (review MEDIUM 2: removing it, as the docs said, and
// letting a new node write its own entry 2 forked the log for good).
func TestOldNodeEntryIsCoveredNotForged(t *testing.T) {
	ctx := context.Background()
	base := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	writeOldLog(t, base, s, 2)
	store := newWatchedStore(base)

	// The old node's entry 2 and its checkpoints, written as the new node
	// is about to write its own entry 2.
	oldEntry := func() []byte {
		e := ev("doc.view", "old-node")
		e.Time = time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	var once sync.Once
	store.fail = func(key string, _ []byte) error {
		if key == defaultLayout.entry(2) {
			once.Do(func() {
				var tr tree
				for i := range int64(2) {
					ev, _, err := parseRecord(getObject(t, base, defaultLayout.entry(i)))
					if err != nil {
						t.Error(err)
					}
					if err := tr.add(ev); err != nil {
						t.Error(err)
					}
				}
				overwrite(t, base, defaultLayout.entry(2), oldEntry)
				if err := tr.add(oldEntry); err != nil {
					t.Error(err)
				}
				writeOldCheckpoint(t, base, s, &tr)
			})
		}
		return nil
	}
	logs := captureLogs(t)
	_, err := Open(ctx, store, s)
	if err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("Open while an old node wrote entry 2: %v", err)
	}
	const line = `level=ERROR msg="audit: an entry in the store has no entry signature but a checkpoint signed with the log's key covers it: a node of an older release wrote it; audited writes fail until every node of the older release is stopped and this node started again (do not remove the entry)" index=2 key=audit/entries/00000000000000000002 covered=true`
	if got := logs.String(); !strings.Contains(got, line) {
		t.Fatalf("logged %q, want %q", got, line)
	}

	// The remedy: the old node is stopped; the new node starts again.
	store.fail = nil
	l := openLog(t, base, s)
	if l.Size() != 4 {
		t.Fatalf("Size = %d, want 4 (the old node's entry 2, then the signed one)", l.Size())
	}
	if got, err := l.Entry(ctx, 2); err != nil || got.Actor != "old-node" {
		t.Fatalf("Entry(2) = %+v, %v", got, err)
	}
	if _, err := l.Append(ctx, ev("doc.view", "user-z")); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, base, s.VerifierKey(), nil); rep.Size != 5 || rep.SignedFrom != 3 {
		t.Fatalf("report %+v", rep)
	}
}

// TestNewLogGetsNoSignaturesEntry: a log started by this release, even one
// whose first checkpoint was signed while it was empty, is not given the
// entry that starts signatures on an older log.
func TestNewLogGetsNoSignaturesEntry(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if l2 := openLog(t, store, s); l2.Size() != 0 {
		t.Fatalf("reopened an empty log: Size = %d, want 0", l2.Size())
	}
	appendN(t, l, 2)
	if l3 := openLog(t, store, s); l3.Size() != 2 {
		t.Fatalf("reopened: Size = %d, want 2", l3.Size())
	}
	// An old release's empty log (a checkpoint of size 0 without the line)
	// does get it.
	store2 := newStore(t)
	writeOldLog(t, store2, s, 0)
	if l4 := openLog(t, store2, s); l4.Size() != 1 {
		t.Fatalf("opened an old empty log: Size = %d, want 1", l4.Size())
	}
	mustVerify(t, store2, s.VerifierKey(), nil)
}

// TestOldNodeEntryBeforeItsCheckpointIsNotToBeRemoved: an older node
// writes entry 2 just before the new node's signed entry, and its
// checkpoint over it lands only after the new node looked. No signed
// checkpoint covers the entry yet, but the latest was signed by the older
// release, so the ERROR does not say to remove it (covered=unknown):
// removing a genuine entry forks the log once its checkpoint lands (review
// LOW: it said covered=false, "until it is removed"). Started again with
// the older node stopped, the new node takes it in.
func TestOldNodeEntryBeforeItsCheckpointIsNotToBeRemoved(t *testing.T) {
	ctx := context.Background()
	base := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	writeOldLog(t, base, s, 2)
	store := newWatchedStore(base)
	e := ev("doc.view", "old-node")
	e.Time = time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	oldEntry, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	store.fail = func(key string, _ []byte) error {
		if key == defaultLayout.entry(2) {
			once.Do(func() { overwrite(t, base, defaultLayout.entry(2), oldEntry) })
		}
		return nil
	}
	logs := captureLogs(t)
	if _, err := Open(ctx, store, s); err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("Open while an old node wrote entry 2: %v", err)
	}
	const line = `level=ERROR msg="audit: an entry in the store has no entry signature and no checkpoint signed with the log's key covers it yet; it may be an older node's entry whose checkpoint has not landed: make sure no older node runs, then wait for this ERROR to repeat before removing anything" index=2 key=audit/entries/00000000000000000002 covered=unknown`
	got := logs.String()
	if !strings.Contains(got, line) || strings.Contains(got, "until it is removed") {
		t.Fatalf("logged %q, want %q", got, line)
	}

	// The older node's checkpoint lands; it is stopped; the new node
	// starts again and takes its entry in.
	var tr tree
	for i := range int64(3) {
		ev, _, err := parseRecord(getObject(t, base, defaultLayout.entry(i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.add(ev); err != nil {
			t.Fatal(err)
		}
	}
	writeOldCheckpoint(t, base, s, &tr)
	l := openLog(t, base, s)
	if got, err := l.Entry(ctx, 2); err != nil || got.Actor != "old-node" || l.Size() != 4 {
		t.Fatalf("Size %d, Entry(2) = %+v, %v", l.Size(), got, err)
	}
	if rep := mustVerify(t, base, s.VerifierKey(), nil); rep.Size != 4 || rep.SignedFrom != 3 {
		t.Fatalf("report %+v", rep)
	}
}
