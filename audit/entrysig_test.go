package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// forge writes a canonical event straight into the store at index i, as
// someone with write access to the bucket but without the audit key could.
func forge(tb testing.TB, l *Log, i int64, e Event) []byte {
	tb.Helper()
	e.Time = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	b, err := e.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	overwrite(tb, l.store, l.lay.entry(i), b)
	return b
}

func latestSize(tb testing.TB, l *Log, vkey string) int64 {
	tb.Helper()
	c, err := OpenCheckpoint(getObject(tb, l.store, l.lay.latest()), vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return c.Size
}

// captureLogs sends the default logger to a buffer until the test ends.
func captureLogs(t *testing.T) *syncBuffer {
	t.Helper()
	var b syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&b, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestForgedTailEntryIsRefused: an entry written into the store at the next
// index by someone without the audit key is not signed over by the next
// append, and Verify names it.
func TestForgedTailEntryIsRefused(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 3)

	forge(t, l, 3, Event{Type: "retention.case.destroyed", Actor: "svc", Case: "case-gone"})
	logs := captureLogs(t)

	verifyFails(t, store, s.VerifierKey(), nil, "entry 3")
	idx, err := l.Append(ctx, ev("doc.view", "user-z"))
	if err == nil || !errors.Is(err, ErrForgedEntry) || !strings.Contains(err.Error(), "entry 3") {
		t.Fatalf("Append after a forged entry = %d, %v; want an error naming entry 3", idx, err)
	}
	if got := latestSize(t, l, s.VerifierKey()); got != 3 {
		t.Fatalf("latest checkpoint signs %d entries, want 3 (not the forged one)", got)
	}
	if _, err := l.Checkpoint(ctx); err == nil {
		t.Fatal("Checkpoint signed over a forged entry")
	}
	if got := latestSize(t, l, s.VerifierKey()); got != 3 {
		t.Fatalf("latest checkpoint signs %d entries after Checkpoint, want 3", got)
	}
	// One ERROR naming the entry, not one per refused write.
	const line = "level=ERROR msg=\"audit: an entry in the store was not written by a node; audited writes fail until it is removed\" index=3 key=audit/entries/00000000000000000003 covered=false"
	if got := logs.String(); strings.Count(got, line) != 1 || strings.Count(got, "level=ERROR") != 1 {
		t.Fatalf("logged %q, want one ERROR line starting %q", got, line)
	}
	// A node starting now refuses the log too, naming the entry.
	if _, err := Open(ctx, store, s); err == nil || !strings.Contains(err.Error(), "entry 3") {
		t.Fatalf("Open over a forged entry: %v", err)
	}
	verifyFails(t, store, s.VerifierKey(), nil, "entry 3")

	// The operator removes the forged object: the log takes writes again.
	if err := store.Delete(ctx, l.lay.entry(3), ""); err != nil {
		t.Fatal(err)
	}
	if idx, err := l.Append(ctx, ev("doc.view", "user-z")); err != nil || idx != 3 {
		t.Fatalf("Append once the forged entry is gone = %d, %v", idx, err)
	}
	if rep := mustVerify(t, store, s.VerifierKey(), nil); rep.Size != 4 || rep.CheckpointSize != 4 {
		t.Fatalf("report %+v", rep)
	}
}

// TestForgedEntrySignatures: an entry with a signature that does not verify
// — made with another key, copied from another index, or with its event
// changed — is refused like an unsigned one.
func TestForgedEntrySignatures(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 2)

	other := newSigner(t, testOrigin, "k2")
	e := ev("retention.case.destroyed", "svc")
	e.Time = time.Now()
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"another key":     signRecord(other, 2, b),
		"another index":   signRecord(s, 7, b),
		"copy of entry 1": getObject(t, store, l.lay.entry(1)),
		"garbage":         append(append([]byte{}, b...), "\n— parley.example/audit AAAA\n"...),
	}
	for name, rec := range cases {
		t.Run(name, func(t *testing.T) {
			overwrite(t, store, l.lay.entry(2), rec)
			verifyFails(t, store, s.VerifierKey(), nil, "entry 2")
			if _, err := l.Append(ctx, ev("doc.view", "user-z")); err == nil || !strings.Contains(err.Error(), "entry 2") {
				t.Fatalf("Append over %s: %v", name, err)
			}
			if err := store.Delete(ctx, l.lay.entry(2), ""); err != nil {
				t.Fatal(err)
			}
		})
	}
	if idx, err := l.Append(ctx, ev("doc.view", "user-z")); err != nil || idx != 2 {
		t.Fatalf("Append = %d, %v", idx, err)
	}
	mustVerify(t, store, s.VerifierKey(), nil)
}

// TestSignedEntriesVerifyAcrossReopen: what the writer writes carries a
// signature, and a second Log (another node, or this one restarted) and
// Verify accept it, unsigned tail included.
func TestSignedEntriesVerifyAcrossReopen(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	a := openLog(t, store, s)
	appendN(t, a, 3)
	if _, err := a.AppendBatch(ctx, []Event{ev("retention.purge", "svc"), ev("retention.purge", "svc")}); err != nil {
		t.Fatal(err)
	}
	for i := range int64(5) {
		raw := getObject(t, store, a.lay.entry(i))
		ev, sig, err := parseRecord(raw)
		if err != nil || sig == nil {
			t.Fatalf("entry %d is stored without a signature: %q", i, raw)
		}
		if _, err := ParseEvent(ev); err != nil {
			t.Fatal(err)
		}
	}
	b := openLog(t, store, s)
	if _, err := b.Append(ctx, ev("doc.view", "user-b")); err != nil {
		t.Fatal(err)
	}
	// a catches up with b's entry, and appends after it.
	if idx, err := a.Append(ctx, ev("doc.view", "user-a")); err != nil || idx != 6 {
		t.Fatalf("Append = %d, %v", idx, err)
	}
	// An entry written but not yet signed by a checkpoint (a node stopped
	// between the two writes) verifies: its own signature vouches for it.
	e := ev("doc.view", "user-c")
	e.Time = time.Now()
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, store, a.lay.entry(7), signRecord(s, 7, data))
	rep := mustVerify(t, store, s.VerifierKey(), nil)
	if rep.Size != 8 || rep.CheckpointSize != 7 || rep.SignedFrom != 0 {
		t.Fatalf("report %+v", rep)
	}
	c := openLog(t, store, s)
	if c.Size() != 8 {
		t.Fatalf("reopened Size = %d", c.Size())
	}
	got, err := c.Entry(ctx, 7)
	if err != nil || got.Actor != "user-c" {
		t.Fatalf("Entry(7) = %+v, %v", got, err)
	}
	if _, err := c.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, store, s.VerifierKey(), nil)
}

// TestOldFormatLogStillVerifies: a log written before entries were signed
// (bare events, covered by a checkpoint, plus an unsigned tail a node left
// when it stopped between an entry and its checkpoint) verifies and opens;
// the first node to open it signs a checkpoint over all of it, and from
// then on an unsigned entry is refused.
func TestOldFormatLogStillVerifies(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	lay := defaultLayout
	var tr tree
	for i := range int64(4) {
		e := ev("doc.view", "old")
		e.Time = time.Date(2025, 1, 1, 0, 0, int(i), 0, time.UTC)
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		overwrite(t, store, lay.entry(i), b)
		if err := tr.add(b); err != nil {
			t.Fatal(err)
		}
		if i == 2 { // an old node signed 3 entries, then stopped after writing the 4th
			root, err := tr.root(3)
			if err != nil {
				t.Fatal(err)
			}
			text := Checkpoint{Origin: testOrigin, Size: 3, Hash: root}.Text()
			signed, err := signNote(text, s)
			if err != nil {
				t.Fatal(err)
			}
			overwrite(t, store, lay.checkpoint(3), signed)
			overwrite(t, store, lay.latest(), signed)
		}
	}
	oldRoot3, _ := tr.root(3)
	old := getObject(t, store, lay.latest())
	rep := mustVerify(t, store, s.VerifierKey(), old)
	if rep.Size != 4 || rep.CheckpointSize != 3 || rep.SignedFrom != 4 {
		t.Fatalf("old log: report %+v", rep)
	}

	// The first node of this release appends a signed entry and signs a
	// checkpoint over all five.
	l := openLog(t, store, s)
	if got := latestSize(t, l, s.VerifierKey()); got != 5 {
		t.Fatalf("after the first Open the latest checkpoint signs %d entries, want 5", got)
	}
	if _, err := l.Append(ctx, ev("doc.view", "new")); err != nil {
		t.Fatal(err)
	}
	rep = mustVerify(t, store, s.VerifierKey(), old)
	if rep.Size != 6 || rep.SignedFrom != 4 {
		t.Fatalf("upgraded log: report %+v", rep)
	}
	if r, _ := tr.root(3); r != oldRoot3 {
		t.Fatal("old root changed")
	}
	// An unsigned entry now is forged.
	forge(t, l, 6, ev("doc.view", "forger"))
	verifyFails(t, store, s.VerifierKey(), nil, "entry 6")
	if _, err := Open(ctx, store, s); err == nil || !strings.Contains(err.Error(), "entry 6") {
		t.Fatalf("Open: %v", err)
	}
	// Stripping the signatures of every signed entry does not make the
	// forged one pass as old: the checkpoints this release signs say from
	// where entries are signed.
	for i := int64(4); i < 6; i++ {
		bare, _, _ := parseRecord(getObject(t, store, lay.entry(i)))
		overwrite(t, store, lay.entry(i), bare)
	}
	verifyFails(t, store, s.VerifierKey(), nil, "entry 4")
	if _, err := Open(ctx, store, s); err == nil || !strings.Contains(err.Error(), "entry 4") {
		t.Fatalf("Open with stripped signatures: %v", err)
	}
	if !bytes.Equal(old, getObject(t, store, lay.checkpoint(3))) {
		t.Fatal("the old checkpoint was rewritten")
	}
}

// BenchmarkEntrySignature is what an entry's signature costs: one Sign per
// entry written, one Verify per entry read (Open, Verify, catching up).
func BenchmarkEntrySignature(b *testing.B) {
	s := newSigner(b, testOrigin, "k1")
	e := ev("doc.view", "u-1")
	e.Time = time.Now()
	data, err := e.Encode()
	if err != nil {
		b.Fatal(err)
	}
	v, err := note.NewVerifier(s.VerifierKey())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			signRecord(s, 12345, data)
		}
	})
	rec := signRecord(s, 12345, data)
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			if _, err := readEntry(v, "k", 12345, rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOpen opens a log of 2000 signed entries: every entry read and
// its signature checked.
func BenchmarkOpen(b *testing.B) {
	store := newStore(b)
	s := newSigner(b, testOrigin, "k1")
	l := openLog(b, store, s)
	batch := make([]Event, 2000)
	for i := range batch {
		batch[i] = ev("retention.purge", "svc")
	}
	if _, err := l.AppendBatch(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		openLog(b, store, s)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/entry")
}

// TestStrippedAndRolledBackCaughtBySavedCheckpoint: someone with write
// access to the bucket rolls the latest checkpoint back to one signed
// before entries were, deletes every checkpoint since, strips the
// signature lines, replaces the entry from which entries are signed (which
// a node refuses unsigned) and adds an unsigned entry. The store alone no longer
// says from where entries are signed (the residual docs/security.md
// names), but a checkpoint saved earlier does, so Verify with it names
// the first unsigned entry it says must be signed.
func TestStrippedAndRolledBackCaughtBySavedCheckpoint(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	lay := defaultLayout
	// An old log of 2 entries and its checkpoint.
	var tr tree
	for i := range int64(2) {
		e := ev("doc.view", "old")
		e.Time = time.Date(2025, 1, 1, 0, 0, int(i), 0, time.UTC)
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		overwrite(t, store, lay.entry(i), b)
		if err := tr.add(b); err != nil {
			t.Fatal(err)
		}
	}
	root, _ := tr.root(2)
	old, err := signNote(Checkpoint{Origin: testOrigin, Size: 2, Hash: root}.Text(), s)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, store, lay.checkpoint(2), old)
	overwrite(t, store, lay.latest(), old)

	l := openLog(t, store, s) // appends signed entry 2, signs "entries signed from 2"
	appendN(t, l, 3)
	saved, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	overwrite(t, store, lay.latest(), old)
	sizes, err := listIndexed(ctx, store, lay.checkpoints())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range sizes {
		if n > 2 {
			if err := store.Delete(ctx, lay.checkpoint(n), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := int64(2); i < 6; i++ {
		bare, _, err := parseRecord(getObject(t, store, lay.entry(i)))
		if err != nil {
			t.Fatal(err)
		}
		overwrite(t, store, lay.entry(i), bare)
	}
	forge(t, l, 6, ev("retention.case.destroyed", "svc"))
	// The entry from which entries are signed, stripped, gives it away.
	verifyFails(t, store, s.VerifierKey(), nil, "entry 2 (audit/entries/00000000000000000002): the entry from which entries are signed, without its signature")
	// Replaced by another event, it does not.
	forge(t, l, 2, ev("doc.view", "svc"))

	mustVerify(t, store, s.VerifierKey(), nil) // the residual
	verifyFails(t, store, s.VerifierKey(), saved, "entry 2 (audit/entries/00000000000000000002): no entry signature")
	// A node that ran through it still knows, and signs nothing over it.
	if _, err := l.Append(ctx, ev("doc.view", "user-z")); err == nil || !strings.Contains(err.Error(), "entry 6") {
		t.Fatalf("Append after the rollback: %v", err)
	}
}

// TestForgedTailWithTheLatestDeletedIsStillForged: a bucket writer who
// also deletes the latest checkpoint does not get the forged entry called
// a possible older node's (covered=unknown, "wait before removing
// anything"): a log that already holds signed entries can have no older
// node writing after them (it cannot read them), so the ERROR says what it
// is (covered=false).
func TestForgedTailWithTheLatestDeletedIsStillForged(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 3)
	if err := store.Delete(ctx, l.lay.latest(), ""); err != nil {
		t.Fatal(err)
	}
	forge(t, l, 3, Event{Type: "hold.released", Actor: "svc", Case: "case-held"})
	logs := captureLogs(t)
	if _, err := l.Append(ctx, ev("doc.view", "user-z")); err == nil || !errors.Is(err, ErrForgedEntry) {
		t.Fatalf("Append after a forged entry: %v; want ErrForgedEntry", err)
	}
	if got := logs.String(); !strings.Contains(got, "index=3") || !strings.Contains(got, "covered=false") || strings.Contains(got, "covered=unknown") {
		t.Fatalf("logged %q; want the ERROR naming entry 3 with covered=false", got)
	}
}
