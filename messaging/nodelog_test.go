package messaging

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// testJournal opens a local journal in a fresh directory, outside the
// process-wide registry (so that a test can "restart" on the same files).
func testJournal(t *testing.T, dir string) *localJournal {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return &localJournal{root: dir, logs: map[string]*nodeLog{}}
}

// journalEntry writes entry seq of node with one batch of one message.
func testEntry(t *testing.T, node string, seq int64) *journalWrite {
	t.Helper()
	b := &Batch{Room: "c_log/joint", Epoch: 1, First: seq, Msgs: []Message{{ID: fmt.Sprint("m", seq), From: "u", Body: []byte("ciphertext"), Epoch: 1, Offset: seq}}}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return &journalWrite{Node: node, Seq: seq, Batches: []json.RawMessage{data}}
}

func seqsOf(entries []*journalEntry) []int64 {
	out := make([]int64, len(entries))
	for i, e := range entries {
		out[i] = e.Seq
	}
	return out
}

// TestLocalJournalTornLastRecord: a crash during the last write leaves its
// record cut at any byte. Reading the journal after the crash returns every
// earlier (acknowledged) entry and never the torn one, and recovery cuts
// the file back to the last whole record, so that the torn bytes cannot be
// read later as part of anything. This is checked at every byte offset of
// the last record, and with the rest of the record present but garbled.
func TestLocalJournalTornLastRecord(t *testing.T) {
	root := t.TempDir()
	j := testJournal(t, root)
	node := "n-torn"
	j.create(node)
	nl := j.get(node)
	const n = 5
	for seq := int64(1); seq <= n; seq++ {
		if err := nl.append(testEntry(t, node, seq)); err != nil {
			t.Fatal(err)
		}
	}
	files, err := j.files(node)
	if err != nil || len(files) != 1 {
		t.Fatalf("files: %v %v", files, err)
	}
	path := files[0].path
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lastStart := int64(len(whole)) - int64(len(frame(mustJSON(t, testEntry(t, node, n)))))
	want := []int64{1, 2, 3, 4}
	for cut := lastStart; cut < int64(len(whole)); cut++ {
		for _, garble := range []bool{false, true} {
			data := slices.Clone(whole[:cut])
			if garble {
				// The length made it to disk, the rest did not (a
				// preallocated or reordered tail reads as zeros).
				data = slices.Clone(whole)
				for i := max(cut, lastStart+4); i < int64(len(data)); i++ {
					data[i] = 0
				}
				if cut < lastStart+4 {
					continue
				}
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			after := testJournal(t, root) // a new process: nothing in memory
			got, err := after.entries(node, false)
			if err != nil || !slices.Equal(seqsOf(got), want) {
				t.Fatalf("cut at %d (garbled %v): read %v (err %v), want %v", cut, garble, seqsOf(got), err, want)
			}
			if !after.fence(node) {
				t.Fatal("an earlier process's journal is not fenced")
			}
			got, err = after.entries(node, true)
			if err != nil || !slices.Equal(seqsOf(got), want) {
				t.Fatalf("cut at %d (garbled %v): recovered %v (err %v), want %v", cut, garble, seqsOf(got), err, want)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != lastStart {
				t.Fatalf("cut at %d (garbled %v): recovery left %d bytes, want %d (err %v)", cut, garble, fi.Size(), lastStart, err)
			}
		}
	}
	// The whole record is read: written in full, it was (or may have been)
	// acknowledged.
	if err := os.WriteFile(path, whole, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := testJournal(t, root).entries(node, false); err != nil || len(got) != n {
		t.Fatalf("whole journal: %v (err %v)", seqsOf(got), err)
	}
	// A bad record before the end is not a torn write: it is refused, not
	// silently dropped with what follows it.
	bad := slices.Clone(whole)
	bad[recordHeader+2] ^= 0xff
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := testJournal(t, root).entries(node, true); err == nil {
		t.Fatalf("a corrupt first record read as %v", seqsOf(got))
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(len(whole)) {
		t.Fatalf("a corrupt journal was truncated to %d bytes", fi.Size())
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLocalJournalShowsOnlyWhatIsDurable: while its writer lives, a
// journal is read only up to what has been synced, so bytes of a write in
// flight (not acknowledged) are never seen; a fenced journal takes no
// more appends; a segment is deleted once its entries are all spent.
func TestLocalJournalShowsOnlyWhatIsDurable(t *testing.T) {
	j := testJournal(t, t.TempDir())
	node := "n-live"
	j.create(node)
	nl := j.get(node)
	for seq := int64(1); seq <= 3; seq++ {
		if err := nl.append(testEntry(t, node, seq)); err != nil {
			t.Fatal(err)
		}
	}
	// A fourth record reaches the file but is not yet synced.
	f, err := os.OpenFile(nl.segs[0].path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(frame(mustJSON(t, testEntry(t, node, 4)))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got, err := j.entries(node, false); err != nil || !slices.Equal(seqsOf(got), []int64{1, 2, 3}) {
		t.Fatalf("read %v (err %v), want 1..3", seqsOf(got), err)
	}
	nl.segs[0].size += int64(len(frame(mustJSON(t, testEntry(t, node, 4)))))
	nl.segs[0].n++
	nl.last = 4

	// Spent entries free their file; the active one too, and the next
	// append starts a new file.
	if err := nl.release([]int64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if len(nl.segs) != 1 {
		t.Fatalf("a segment with an unspent entry was released")
	}
	if err := nl.release([]int64{4}); err != nil {
		t.Fatal(err)
	}
	if segs := segmentFiles(t, nl.dir); len(segs) != 0 || nl.f != nil {
		t.Fatalf("spent segment files left: %v", segs)
	}
	if err := nl.append(testEntry(t, node, 5)); err != nil {
		t.Fatal(err)
	}
	if got, err := j.entries(node, false); err != nil || !slices.Equal(seqsOf(got), []int64{5}) {
		t.Fatalf("after release read %v (err %v), want 5", seqsOf(got), err)
	}

	if !j.fence(node) {
		t.Fatal("fence found no journal")
	}
	if err := nl.append(testEntry(t, node, 6)); err == nil {
		t.Fatal("a fenced journal took an append")
	}
	if got, _ := j.entries(node, true); !slices.Equal(seqsOf(got), []int64{5}) {
		t.Fatalf("after the fence read %v, want 5", seqsOf(got))
	}
}

// segmentFiles lists the segment files in dir (not spares).
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if filepath.Ext(de.Name()) == segSuffix {
			out = append(out, de.Name())
		}
	}
	return out
}

// bigEntry is entry seq of node with one message of size bytes.
func bigEntry(t *testing.T, node string, seq int64, size int) *journalWrite {
	t.Helper()
	e := testEntry(t, node, seq)
	b := &Batch{Room: "c_log/joint", Epoch: 1, First: seq, Msgs: []Message{{ID: "m", From: "u", Body: make([]byte, size), Epoch: 1, Offset: seq}}}
	e.Batches = []json.RawMessage{mustJSON(t, b)}
	return e
}

// TestLocalJournalPreallocates: in a busy journal, the segments after an
// incarnation's first start as zero-filled files of the segment size,
// prepared while the one before filled; each append overwrites zeros
// within the file. Read as
// after a crash (a new process, the files as they are), every entry comes
// back across the zero-filled ends; a record cut by a crash in a
// preallocated segment is a torn write (zeros follow it), cut off by
// recovery; a bad record with another after it is damage. Closing the
// journal deletes its spare.
func TestLocalJournalPreallocates(t *testing.T) {
	root := t.TempDir()
	j := testJournal(t, root)
	node := "n-pre"
	j.create(node)
	nl := j.get(node)
	seq := int64(0)
	appendOne := func(size int) {
		t.Helper()
		seq++
		if err := nl.append(bigEntry(t, node, seq, size)); err != nil {
			t.Fatal(err)
		}
	}
	spareReady := func() bool {
		nl.mu.Lock()
		defer nl.mu.Unlock()
		return nl.spare != ""
	}
	for len(nl.segs) < 3 {
		if len(nl.segs) > 0 && nl.segs[len(nl.segs)-1].size >= journalSegmentSize && !pollUntil(spareReady) {
			t.Fatal("no spare segment was prepared")
		}
		appendOne(journalSegmentSize / 3)
	}
	appendOne(100) // a small record at the start of the third segment
	for i, seg := range nl.segs {
		fi, err := os.Stat(seg.path)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && fi.Size() < journalSegmentSize {
			t.Fatalf("segment %d is %d bytes: not preallocated", i, fi.Size())
		}
		if i == 0 && fi.Size() != seg.size {
			t.Fatalf("the first segment is %d bytes, %d written", fi.Size(), seg.size)
		}
	}
	want := make([]int64, seq)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if got, err := testJournal(t, root).entries(node, false); err != nil || !slices.Equal(seqsOf(got), want) {
		t.Fatalf("read after a crash %v (err %v), want %v", seqsOf(got), err, want)
	}

	// The last record cut part-way: zeros follow what reached the disk.
	last := nl.segs[len(nl.segs)-1]
	lastLen := int64(len(frame(mustJSON(t, bigEntry(t, node, seq, 100)))))
	whole, err := os.ReadFile(last.path)
	if err != nil {
		t.Fatal(err)
	}
	start := last.size - lastLen
	for _, cut := range []int64{start + 1, start + recordHeader, start + lastLen/2, last.size - 1} {
		data := slices.Clone(whole)
		clear(data[cut:last.size])
		if err := os.WriteFile(last.path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := testJournal(t, root).entries(node, false); err != nil || !slices.Equal(seqsOf(got), want[:seq-1]) {
			t.Fatalf("cut at %d: read %v (err %v), want %v", cut-start, seqsOf(got), err, want[:seq-1])
		}
	}
	// A bad record followed by another is damage, not a torn write.
	data := slices.Clone(whole)
	data[start-5] ^= 0xff // inside the record before the last
	if err := os.WriteFile(last.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := testJournal(t, root).entries(node, false); err == nil {
		t.Fatalf("a damaged segment read as %v", seqsOf(got))
	}
	// Recovery of the cut journal truncates the torn record.
	data = slices.Clone(whole)
	clear(data[start+lastLen/2 : last.size])
	if err := os.WriteFile(last.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	j.close(node)
	after := testJournal(t, root)
	if !after.fence(node) {
		t.Fatal("fence found no journal")
	}
	if got, err := after.entries(node, true); err != nil || !slices.Equal(seqsOf(got), want[:seq-1]) {
		t.Fatalf("recovered %v (err %v)", seqsOf(got), err)
	}
	if fi, err := os.Stat(last.path); err != nil || fi.Size() != start {
		t.Fatalf("recovery left %v bytes, want %d (%v)", fi.Size(), start, err)
	}
	des, err := os.ReadDir(nl.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if filepath.Ext(de.Name()) == spareSuffix {
			t.Fatalf("spare %s left after the journal was closed", de.Name())
		}
	}
}

// TestLocalJournalRolls: a segment past its size is closed and the next
// append starts a new one; the journal reads across them in order.
func TestLocalJournalRolls(t *testing.T) {
	j := testJournal(t, t.TempDir())
	node := "n-roll"
	j.create(node)
	nl := j.get(node)
	for seq := int64(1); seq <= 7; seq++ {
		if err := nl.append(bigEntry(t, node, seq, journalSegmentSize/3)); err != nil {
			t.Fatal(err)
		}
	}
	if len(nl.segs) < 2 {
		t.Fatalf("%d segments, want the log rolled", len(nl.segs))
	}
	got, err := testJournal(t, j.root).entries(node, false)
	if err != nil || !slices.Equal(seqsOf(got), []int64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("read %v (err %v)", seqsOf(got), err)
	}
}

// crashLocal makes a node's local journal look as after its process died:
// it takes no more appends, and is read from its files as they are.
func crashLocal(l *Log, id string) {
	if l.local == nil {
		return
	}
	if nl := l.local.get(id); nl != nil {
		nl.mu.Lock()
		nl.own = false
		nl.closeFile()
		nl.mu.Unlock()
	}
}

// TestLocalJournalKilledOwnerIsTakenOver: with local journals, an owner
// killed with acknowledged messages only in its journal file is fenced and
// recovered by the next node to publish, and its files are gone after.
func TestLocalJournalKilledOwnerIsTakenOver(t *testing.T) {
	base := stores(t)["dir"](t)
	dir := filepath.Join(t.TempDir(), "journal")
	broker := NewMemory()
	aStore := &cutStore{Store: base}
	aLog, err := NewLocalLog(aStore, dir)
	if err != nil {
		t.Fatal(err)
	}
	bLog, err := NewLocalLog(base, dir)
	if err != nil {
		t.Fatal(err)
	}
	a := newService(aLog, broker, Options{}, neverCompact)
	b := NewService(bLog, broker, Options{})
	defer b.Close()
	room := "c_lkill/joint"
	before := publishN(t, a, room, "a", 20)
	fwd := publishN(t, b, room, "f", 5)
	a0 := a.current().id
	if objs := journalObjects(t, base); objs != 0 {
		t.Fatalf("%d journal objects written with a local journal", objs)
	}
	kill(a, aStore)
	if msgs, _, err := b.Page(t.Context(), room, Position{}, 100); err != nil || len(msgs) != 25 {
		t.Fatalf("history before the takeover: %d messages (err %v), want 25", len(msgs), err)
	}
	after := publishN(t, b, room, "b", 5)
	if after[0].Offset != 26 {
		t.Fatalf("first message after the takeover at %d, want 26", after[0].Offset)
	}
	b.Close()
	checkChain(t, pageAll(t, base, room), append(append(ids(before), ids(fwd)...), ids(after)...))
	if _, err := os.Stat(filepath.Join(dir, a0)); !os.IsNotExist(err) {
		t.Fatalf("a's journal files are still there after recovery (%v)", err)
	}
}

// journalObjects counts the journal objects in store.
func journalObjects(t *testing.T, store objstore.Store) int {
	t.Helper()
	n := 0
	if err := store.List(t.Context(), journalRoot, func(objstore.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLocalJournalTornWriteAtRestart: a node killed while writing a commit
// it never acknowledged, at several points of that write; a new process on
// the same directory recovers every acknowledged message and none of the
// torn one, and goes on right after them.
func TestLocalJournalTornWriteAtRestart(t *testing.T) {
	for _, part := range []float64{0.01, 0.2, 0.5, 0.99} {
		t.Run(fmt.Sprint(part), func(t *testing.T) {
			base := stores(t)["dir"](t)
			dir := filepath.Join(t.TempDir(), "journal")
			aStore := &cutStore{Store: base}
			aLog, err := NewLocalLog(aStore, dir)
			if err != nil {
				t.Fatal(err)
			}
			a := newService(aLog, NewMemory(), Options{}, neverCompact)
			room := "c_ltorn/joint"
			before := publishN(t, a, room, "a", 7)
			a0 := a.current().id
			kill(a, aStore)
			// The unacknowledged eighth commit, cut part-way.
			e := testEntry(t, a0, 8)
			b8 := &Batch{Room: room, Epoch: 1, First: 8, Msgs: []Message{{ID: "torn", From: "u", Body: []byte("x"), Epoch: 1, Offset: 8}}}
			e.Batches = []json.RawMessage{mustJSON(t, b8)}
			rec := frame(mustJSON(t, e))
			files, err := aLog.local.files(a0)
			if err != nil || len(files) != 1 {
				t.Fatalf("files %v %v", files, err)
			}
			f, err := os.OpenFile(files[0].path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(rec[:max(1, int(float64(len(rec))*part))]); err != nil {
				t.Fatal(err)
			}
			f.Close()

			bLog, err := NewLocalLog(base, dir)
			if err != nil {
				t.Fatal(err)
			}
			b := NewService(bLog, NewMemory(), Options{})
			defer b.Close()
			var got []Message
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if got = pageAll(t, base, room); len(got) >= len(before) {
					break
				}
			}
			checkChain(t, got, ids(before))
			after := publishN(t, b, room, "b", 1)
			if after[0].Offset != 8 {
				t.Fatalf("after restart the next message went to %d, want 8", after[0].Offset)
			}
			msgs, _, err := b.Page(t.Context(), room, Position{}, 100)
			if err != nil {
				t.Fatal(err)
			}
			checkChain(t, msgs, append(ids(before), "b0"))
		})
	}
}

// BenchmarkJournalCommit: one group commit (a journal entry of 20 rooms'
// batches, 6 messages of 256 bytes each) made durable, as a journal object
// in the local-directory store and as a record of the local journal, on
// the disk under $TMPDIR. Reports p50 and p99 of a commit.
//
//	go test -run '^$' -bench JournalCommit -benchtime 500x ./messaging/
func BenchmarkJournalCommit(b *testing.B) {
	for _, kind := range []string{"objects", "local"} {
		b.Run(kind, func(b *testing.B) {
			dir := b.TempDir()
			store, err := objstore.OpenDir(filepath.Join(dir, "objects"))
			if err != nil {
				b.Fatal(err)
			}
			log := NewLog(store)
			node := newNodeID()
			if kind == "local" {
				if log, err = NewLocalLog(store, filepath.Join(dir, "journal")); err != nil {
					b.Fatal(err)
				}
				log.local.create(node)
			}
			var batches []json.RawMessage
			for r := range 20 {
				bt := &Batch{Room: fmt.Sprintf("c_bench/r%d", r), Epoch: 1, First: 1}
				for i := range 6 {
					bt.Msgs = append(bt.Msgs, Message{ID: fmt.Sprint("m", i), From: "u", Body: make([]byte, 256), Epoch: 1, Offset: int64(i + 1)})
				}
				data, _ := json.Marshal(bt)
				batches = append(batches, data)
			}
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if _, err := log.putJournal(b.Context(), &journalWrite{Node: node, Seq: int64(i + 1), Batches: batches}); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// TestHoldJournalDirExcludesLocalLogs: the journal directory's lock is
// what keeps a command that writes the local-directory store (whose locks
// and caches are one process's) from running beside a serving process,
// and the other way round. HoldJournalDir fails while a Log is open on the
// directory, in this process (a second Log of it shares the lock) or in
// another; NewLocalLog fails while a command holds it, as does a second
// command; once the last Log is closed the lock is free, and a Log opened
// after the command finds what the first one committed.
func TestHoldJournalDirExcludesLocalLogs(t *testing.T) {
	base := stores(t)["dir"](t)
	dir := filepath.Join(t.TempDir(), "journal")
	aLog, err := NewLocalLog(base, dir)
	if err != nil {
		t.Fatal(err)
	}
	a := NewService(aLog, NewMemory(), Options{})
	room := "c_lhold/joint"
	sent := publishN(t, a, room, "a", 3)
	if _, err := HoldJournalDir(dir); !errors.Is(err, ErrJournalInUse) {
		t.Fatalf("a command beside an open Log: %v, want ErrJournalInUse", err)
	}
	bLog, err := NewLocalLog(base, dir)
	if err != nil {
		t.Fatalf("a second Log of the same process: %v", err)
	}
	a.Close()
	aLog.Close()
	if _, err := HoldJournalDir(dir); !errors.Is(err, ErrJournalInUse) {
		t.Fatalf("a command while one Log of two is still open: %v, want ErrJournalInUse", err)
	}
	bLog.Close()
	bLog.Close() // a second Close releases nothing more
	release, err := HoldJournalDir(dir)
	if err != nil {
		t.Fatalf("a command once every Log is closed: %v", err)
	}
	if _, err := NewLocalLog(base, dir); !errors.Is(err, ErrJournalInUse) {
		t.Fatalf("a Log while a command holds the directory: %v, want ErrJournalInUse", err)
	}
	if _, err := HoldJournalDir(dir); !errors.Is(err, ErrJournalInUse) {
		t.Fatalf("a second command beside the first: %v, want ErrJournalInUse", err)
	}
	release()
	release()
	cLog, err := NewLocalLog(base, dir)
	if err != nil {
		t.Fatalf("a Log once the command is done: %v", err)
	}
	defer cLog.Close()
	c := NewService(cLog, NewMemory(), Options{})
	defer c.Close()
	msgs, _, err := c.Page(t.Context(), room, Position{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkChain(t, msgs, ids(sent))
}
