package audit

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// deleteCheckpoints removes the latest checkpoint and every checkpoint
// stored by size of at least min, as a bucket writer could.
func deleteCheckpoints(tb testing.TB, l *Log, minSize int64) {
	tb.Helper()
	ctx := context.Background()
	if minSize == 0 {
		if err := l.store.Delete(ctx, l.lay.latest(), ""); err != nil {
			tb.Fatal(err)
		}
	}
	sizes, err := listIndexed(ctx, l.store, l.lay.checkpoints())
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range sizes {
		if n >= minSize {
			if err := l.store.Delete(ctx, l.lay.checkpoint(n), ""); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// TestNewLogFirstEntryRewrite: a log started by this release holds 3
// signed entries; a bucket writer deletes every checkpoint and replaces
// entry 0 with an unsigned event. The first signed entry (1) is neither
// entry 0 nor the entry that starts signatures, so entry 0 is refused by
// Open and by Verify (review MEDIUM: both took it as an entry from before
// entries were signed, and the next node signed a checkpoint over it).
func TestNewLogFirstEntryRewrite(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 3)

	deleteCheckpoints(t, l, 0)
	forge(t, l, 0, Event{Type: "retention.case.destroyed", Actor: "svc", Case: "case-gone"})
	_, err := Open(ctx, store, s)
	if err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 0") {
		t.Fatalf("Open over the rewritten entry 0: %v", err)
	}
	verifyFails(t, store, s.VerifierKey(), nil, "entry 0")

	// A prefix rewritten: entries 0 and 1.
	forge(t, l, 1, Event{Type: "retention.case.destroyed", Actor: "svc", Case: "case-gone-too"})
	if _, err := Open(ctx, store, s); err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 1") {
		t.Fatalf("Open over the rewritten entries 0 and 1: %v", err)
	}
	verifyFails(t, store, s.VerifierKey(), nil, "entry 1")
}

// TestUpgradedMarkerRewrite: an upgraded log (2 old entries, the signed
// entry that starts signatures at 2, then signed entries); a bucket writer
// copies the old checkpoint of size 2 over the latest, deletes the
// checkpoints since and replaces the signed entry 2 with an unsigned
// event. Open and Verify refuse it, naming entry 2; an unsigned entry
// claiming to start signatures (its signature stripped) is refused too.
func TestUpgradedMarkerRewrite(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	writeOldLog(t, store, s, 2)
	l := openLog(t, store, s)
	appendN(t, l, 2)
	if l.Size() != 5 {
		t.Fatalf("Size = %d, want 5", l.Size())
	}
	marker := getObject(t, store, l.lay.entry(2))

	overwrite(t, store, l.lay.latest(), getObject(t, store, l.lay.checkpoint(2)))
	deleteCheckpoints(t, l, 3)
	forge(t, l, 2, Event{Type: "retention.case.destroyed", Actor: "svc", Case: "case-gone"})
	_, err := Open(ctx, store, s)
	if err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("Open over the rewritten entry 2: %v", err)
	}
	verifyFails(t, store, s.VerifierKey(), nil, "entry 2")

	// The signed entry's signature stripped: still refused.
	event, _, err := parseRecord(marker)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, store, l.lay.entry(2), event)
	if _, err := Open(ctx, store, s); err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("Open over the stripped entry 2: %v", err)
	}
	verifyFails(t, store, s.VerifierKey(), nil, "entry 2")

	// Put back, it opens and verifies again.
	overwrite(t, store, l.lay.entry(2), marker)
	if l2 := openLog(t, store, s); l2.Size() != 5 {
		t.Fatalf("Size = %d, want 5", l2.Size())
	}
	mustVerify(t, store, s.VerifierKey(), nil)
}

// TestStartEntryWrittenByFirstAppend: when Open cannot append the entry
// from which entries are signed (a WARN), the next append writes it before
// its own entry, so the log reopens and verifies; a regular entry as the
// first signed one would be refused by the rule above.
func TestStartEntryWrittenByFirstAppend(t *testing.T) {
	ctx := context.Background()
	base := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	writeOldLog(t, base, s, 2)
	store := newWatchedStore(base)
	store.fail = func(key string, _ []byte) error {
		if key == defaultLayout.entry(2) {
			return errors.New("store down")
		}
		return nil
	}
	logs := captureLogs(t)
	l, err := Open(ctx, store, s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "the next append writes it first") || l.Size() != 2 {
		t.Fatalf("Size = %d, logged %q", l.Size(), logs.String())
	}
	// Still down: the append fails and writes nothing.
	if _, err := l.Append(ctx, ev("doc.view", "user-a")); err == nil {
		t.Fatal("Append succeeded while the entry from which entries are signed could not be written")
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	idx, err := l.Append(ctx, ev("doc.view", "user-b"))
	if err != nil || idx != 3 {
		t.Fatalf("Append = %d, %v; want 3 (after the entry from which entries are signed)", idx, err)
	}
	got, err := l.Entry(ctx, 2)
	if err != nil || got.Type != EventEntrySignatures || got.Attrs["from"] != "2" {
		t.Fatalf("Entry(2) = %+v, %v", got, err)
	}
	if l2 := openLog(t, base, s); l2.Size() != 4 {
		t.Fatalf("reopened: Size = %d, want 4", l2.Size())
	}
	if rep := mustVerify(t, base, s.VerifierKey(), nil); rep.SignedFrom != 2 || rep.Size != 4 {
		t.Fatalf("report %+v", rep)
	}
}
