package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-mediation/parley/objstore"
)

// maxRetries bounds how many times one append (or one checkpoint update)
// retries after losing a conditional write to another node. Each loss means
// another node made progress, so hitting the bound means sustained heavy
// contention, which is reported rather than spun on.
const maxRetries = 100

// Log is a handle on the audit log in a Store. Several Logs — in one process
// or on several nodes — may share one store: the store's create-only write of
// entry N is what decides the order, and every Log catches up with entries
// written by the others before it appends.
//
// A Log is safe for concurrent use, and no lock of it is held across store
// I/O. Everything that writes (Append, AppendBatch, Checkpoint, and Entry
// when it must catch up) is a request to the Log's writer: a goroutine the
// Log starts when a request waits and that ends when none is left. The
// writer takes what is queued, writes it in one round — at most
// roundEntries entries while anyone else waits, a larger batch continuing
// in later rounds behind what queued meanwhile — and publishes one
// checkpoint for the round. mu guards only the in-memory tree, which only
// the writer (or Open) changes; Size, the proofs and Entry take it for as
// long as they read the tree.
type Log struct {
	store    objstore.Store
	lay      layout
	signer   *Signer
	verifier note.Verifier

	mu   sync.Mutex
	tree tree // entries [0, tree.n) as this Log has seen them; changed only by the writer, under mu

	// auth says from which index entries must carry a valid signature
	// (entrysig.go); forgedIdx and forgedAt are when the last forged entry
	// was logged; startPending, that Open could not append the
	// EventEntrySignatures entry to a log written before entries were
	// signed, so the writer appends it before the first entry it writes
	// (else a regular entry would be the first signed one, which the next
	// Open refuses: entrysig.go). The writer (or Open) alone uses them.
	auth         entryAuth
	forgedIdx    int64
	forgedAt     time.Time
	startPending bool

	denials *denials // the refusal limit (denials.go)

	qmu     sync.Mutex // guards queue and writing; held only in enqueue, takeRound, queueEmpty and a failed writer's recovery (write)
	queue   []*request // waiting for the writer, oldest first
	writing bool       // a writer goroutine is running
}

// roundEntries is the most entries the writer writes before publishing a
// checkpoint and answering when anyone else waits: what a request queued
// behind a large batch waits for at most, beyond its own round. A batch
// that no one waits behind is written in one round, with one checkpoint.
const roundEntries = 64

// request is one caller's work for the writer. Between submit and the
// answer on done only the writer touches it, except for indices and
// abandoned, which submit also reads and sets, under mu, when its caller
// gives up.
type request struct {
	ctx        context.Context
	records    [][]byte // to append, in order
	next       int      // records[:next] are written (or their writes failed)
	checkpoint bool     // answer with the latest signed checkpoint
	signed     []byte
	err        error
	answered   bool          // done is closed; writer only
	done       chan struct{} // closed by the writer once answered

	mu        sync.Mutex
	indices   []int64 // where the written records went; under mu
	abandoned bool    // the caller gave up: nothing more of it is written; under mu
}

func (r *request) pending() int { return len(r.records) - r.next }

// answer closes done, once. Only the writer calls it.
func (r *request) answer() {
	if !r.answered {
		r.answered = true
		close(r.done)
	}
}

// mayWrite reports whether the writer may write r's next entry: its caller
// still waits. The writer checks it before every entry write, so a store
// that ignores contexts cannot have a caller's remaining entries written
// after it gave up.
func (r *request) mayWrite() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.abandoned && r.ctx.Err() == nil
}

// wrote records that r's next entry went to idx, unless the caller has
// already given up (and been told what was written before).
func (r *request) wrote(idx int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.abandoned {
		r.indices = append(r.indices, idx)
	}
}

// submit queues r for the writer, starting it if none runs, and waits for
// the answer or for ctx. A caller that gives up is answered at once with
// ctx's error and the indices of its entries written so far (which the
// caller then reads alone: the writer records no more and writes nothing
// more of it). An entry whose write was under way as it gave up may still
// land, unreported, as with any timed-out write; a request that gives up
// while queued is skipped.
func (l *Log) submit(ctx context.Context, r *request) error {
	r.ctx = ctx
	r.done = make(chan struct{})
	l.enqueue(r)
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		select {
		case <-r.done: // answered as it gave up: the answer wins
			return nil
		default:
		}
		r.mu.Lock()
		r.abandoned = true
		r.mu.Unlock()
		return ctx.Err()
	}
}

// enqueue puts requests at the back of the queue and starts a writer if
// none runs.
func (l *Log) enqueue(rs ...*request) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	l.queue = append(l.queue, rs...)
	if !l.writing && len(l.queue) > 0 {
		l.writing = true
		go l.write()
	}
}

// write is the writer goroutine: it runs rounds until the queue is empty.
// qmu is held only in enqueue, takeRound, queueEmpty and the recovery
// below, which unlock with defer and call neither the store nor a
// caller's code, so no failure can leave it held.
//
// A writer that ends any other way — a panic in a round (a store's bug,
// say), which would otherwise take the process down with it, or a
// runtime.Goexit — does not leave requests waiting on a writer that is
// gone: the requests it was serving and had not answered get an error
// (with the indices of the entries already written, if any), a panic is
// logged, and a writer is started again for whatever is queued, whose
// first round catches up with the store as every round does.
func (l *Log) write() {
	var round []*request // taken from the queue and not yet answered or queued again
	ended := false       // the queue was empty: this writer ended normally
	defer func() {
		if ended {
			return
		}
		var err error
		if p := recover(); p != nil {
			slog.Error("audit: log writer panicked; its round's appends failed", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("audit: log writer failed: %v", p)
		} else {
			slog.Error("audit: log writer exited (runtime.Goexit); its round's appends failed", "stack", string(debug.Stack()))
			err = errors.New("audit: log writer exited")
		}
		for _, r := range round {
			if !r.answered {
				r.err = errors.Join(r.err, err)
				r.answer()
			}
		}
		l.qmu.Lock()
		defer l.qmu.Unlock()
		l.writing = len(l.queue) > 0
		if l.writing {
			go l.write()
		}
	}()
	for {
		round = l.takeRound()
		if len(round) == 0 {
			ended = true
			return
		}
		round = l.runRound(round) // what is unfinished is still this writer's
		l.enqueue(round...)       // behind what queued meanwhile
		round = nil
	}
}

// takeRound removes from the queue what the next round serves: every
// request that needs no entries written, and in queue order every request
// whose remaining entries fit in what is left of roundEntries; if the
// oldest request with entries does not fit, the round writes roundEntries
// of it instead. When it takes nothing, the writer that called it is done:
// it clears writing in the same critical section, so a request queued
// after it starts a new writer.
func (l *Log) takeRound() []*request {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	var round, keep []*request
	budget := roundEntries
	for _, r := range l.queue {
		switch p := r.pending(); {
		case p <= budget:
			budget -= p
			round = append(round, r)
		case budget == roundEntries:
			budget = 0
			round = append(round, r)
		default:
			keep = append(keep, r)
		}
	}
	l.queue = keep
	if len(round) == 0 {
		l.writing = false
	}
	return round
}

// runRound serves one round and answers every request of it that is done;
// it returns those with entries still to write.
func (l *Log) runRound(round []*request) (unfinished []*request) {
	// Shared I/O (catching up, publishing) runs while anyone in the round
	// still waits; each request's entries are written with its own context.
	ctx, stop := roundContext(round)
	defer stop()

	live := round[:0:0]
	for _, r := range round {
		if err := r.ctx.Err(); err != nil {
			r.err = err // gave up while queued: write nothing more of it
			r.answer()
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return nil
	}
	if err := l.refresh(ctx); err != nil {
		for _, r := range live {
			r.err = err
			r.answer()
		}
		return nil
	}

	wrote, wantCheckpoint := false, false
	if l.startPending && l.auth.anySigned {
		l.startPending = false // another node wrote a signed entry, caught up above
	}
	if l.startPending && slices.ContainsFunc(live, func(r *request) bool { return r.pending() > 0 }) {
		// Open could not append the entry from which entries are
		// signed: it goes first.
		if err := l.startSigning(ctx); err != nil {
			for _, r := range live {
				r.err = err
				r.answer()
			}
			return nil
		}
		l.startPending = false
		wrote = true
	}
	budget := roundEntries
	wroteNow := make([]bool, len(live)) // entries of live[i] written this round
	for i, r := range live {
		wantCheckpoint = wantCheckpoint || r.checkpoint
		for budget > 0 && r.pending() > 0 {
			if !r.mayWrite() {
				r.err = r.ctx.Err() // gave up: the rest of r is not written
				break
			}
			idx, err := l.appendRecord(r.ctx, r.records[r.next])
			if err != nil {
				r.err = err // the rest of r is not written
				break
			}
			r.wrote(idx)
			r.next++
			budget--
			wrote, wroteNow[i] = true, true
			if budget == 0 && r.pending() > 0 && len(live) == 1 && l.queueEmpty() {
				// A batch alone: no one waits for the round to end, so it
				// goes on, and keeps its one checkpoint.
				budget = roundEntries
			}
		}
	}

	var pubErr error
	if wrote {
		pubErr = l.publish(ctx)
	}
	var signed []byte
	var cpErr error
	if wantCheckpoint {
		if pubErr != nil {
			cpErr = pubErr
		} else {
			signed, cpErr = l.checkpoint(ctx)
		}
	}
	for i, r := range live {
		switch {
		case r.checkpoint:
			r.signed, r.err = signed, cpErr
		case wroteNow[i] && pubErr != nil:
			// Its entries are in the log for good and are reported with the
			// error; the rest of it is not written.
			r.err = errors.Join(r.err, pubErr)
		case r.err == nil && r.pending() > 0:
			unfinished = append(unfinished, r)
			continue
		}
		r.answer()
	}
	return unfinished
}

// queueEmpty reports whether no request waits for the writer.
func (l *Log) queueEmpty() bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.queue) == 0
}

// roundContext returns a context that ends when every request of round
// has given up (or when stop is called), keeping the first one's values.
func roundContext(round []*request) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(round[0].ctx))
	var mu sync.Mutex
	left := len(round)
	stops := make([]func() bool, len(round))
	for i, r := range round {
		stops[i] = context.AfterFunc(r.ctx, func() {
			mu.Lock()
			left--
			if left == 0 {
				cancel()
			}
			mu.Unlock()
		})
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// Open loads the log in store, rebuilding its Merkle tree in memory, and
// checks it against the stored latest checkpoint. A log whose entries do not
// match its own signed checkpoint (tampering, or a checkpoint from another
// key) is refused: appending to it would sign over the damage. So is one
// holding an entry without a valid entry signature where entries are
// signed (a forged entry, see entrysig.go), naming it.
//
// The first Open of a log written before entries were signed (no signed
// entry, and its latest checkpoint has no "entries signed from" line)
// appends a signed EventEntrySignatures entry at its end (once, however
// many nodes start at once) and signs a checkpoint over it and every entry
// before, saying that entries are signed from its index on; if a write
// fails, Open logs a WARN and the next append writes what is missing (that
// entry first, then its own). Where entries are signed from is read from
// the latest checkpoint and from those stored under its size and under the
// largest size, whose roots are checked too.
//
// Opening reads every entry once (16 at a time) and keeps about 64 bytes of
// hashes per entry in memory, so start-up time and memory grow linearly with
// the log: a million entries is a million Gets and ~64 MB.
func Open(ctx context.Context, store objstore.Store, signer *Signer) (*Log, error) {
	return OpenWithPrefix(ctx, store, signer, DefaultPrefix)
}

// OpenWithPrefix is [Open] for a log kept under another prefix of the store
// (e.g. "keydir/log/"): the same Merkle tree, checkpoints and proofs, for
// another kind of record. Give it its own signer name, so its checkpoints
// can never pass for the audit log's.
func OpenWithPrefix(ctx context.Context, store objstore.Store, signer *Signer, prefix string) (*Log, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	if store == nil || signer == nil {
		return nil, errors.New("audit: Open needs a store and a signer")
	}
	v, err := note.NewVerifier(signer.VerifierKey())
	if err != nil {
		return nil, fmt.Errorf("audit: verifier: %w", err)
	}
	l := &Log{store: store, lay: layout(prefix), signer: signer, verifier: v, auth: newEntryAuth(), forgedIdx: -1, denials: newDenials()}
	// Where entries are signed from, so that the load names the first
	// unsigned entry beyond it: the lowest index stated by the latest
	// checkpoint and by the checkpoints stored under its size and the
	// largest size (a latest rolled back to an older checkpoint does not
	// hide what a later one states). Errors reading the latest are
	// readLatest's to report, below.
	latestSize := int64(-1)
	if data, _, err := readObject(ctx, store, l.lay.latest()); err == nil {
		if c, from, err := openCheckpointFrom(data, v); err == nil {
			latestSize = c.Size
			if from >= 0 {
				l.auth.signedFrom = from
			}
		}
	}
	stored, err := l.storedFrom(ctx, latestSize)
	if err != nil {
		return nil, err
	}
	for _, c := range stored {
		if c.from >= 0 {
			l.auth.signedFrom = min(l.auth.signedFrom, c.from)
		}
	}
	n, err := countEntries(ctx, store, l.lay)
	if err != nil {
		return nil, err
	}
	if err := loadEntries(ctx, store, l.lay, v, &l.auth, &l.tree, 0, n); err != nil {
		return nil, err
	}
	// Pick up anything appended since the listing.
	if err := l.refresh(ctx); err != nil {
		return nil, err
	}
	// The stored checkpoints read above were written after the entries
	// they cover, so the tree holds those entries now.
	for _, c := range stored {
		if c.Size > l.tree.n {
			return nil, fmt.Errorf("audit: %s signs %d entries but the store has %d (entries deleted)", c.key, c.Size, l.tree.n)
		}
		if root, err := l.tree.root(c.Size); err != nil || root != c.Hash {
			return nil, fmt.Errorf("audit: %s: signed root at size %d does not match the stored entries (tampered or forked log)", c.key, c.Size)
		}
	}
	_, c, from, found, err := l.readLatest(ctx)
	if err != nil {
		return nil, err
	}
	if from >= 0 {
		if err := l.auth.requireFrom(l.lay, from, l.lay.latest()); err != nil {
			return nil, err
		}
	} else if err := l.auth.requireFrom(l.lay, l.tree.n, "this node"); err != nil {
		// No checkpoint yet, or one signed before entries were: from now
		// on every entry must be signed.
		return nil, err
	}
	switch {
	case l.tree.n == 0 && (!found || from >= 0):
		return l, nil // a new log: its first append is signed, and so says its checkpoint
	case l.auth.anySigned && from >= 0:
		return l, nil
	case l.auth.anySigned:
		// A node of this release has written here, but the latest
		// checkpoint does not say so (its node stopped before it signed
		// one, or the latest was rolled back): sign one now.
		if err := l.publish(ctx); err != nil {
			slog.Warn("audit: could not sign a checkpoint saying from where entries are signed; the next append signs it",
				"log", l.lay.latest(), "entries", l.tree.n, "err", err)
		}
		return l, nil
	}
	// A log written before entries were signed (or one whose latest
	// checkpoint, signed by an earlier build of this release at the log's
	// old size, states where entries are signed but that holds no signed
	// entry yet): append a signed entry at its
	// end, and a checkpoint over it saying that entries are signed from
	// there. A checkpoint of the old size would not do: the old one is
	// stored under that size, and a bucket writer could make it the latest
	// again and write an entry of their own at that index.
	at := l.tree.n
	if err := l.startSigning(ctx); err != nil {
		if errors.Is(err, ErrForgedEntry) {
			return nil, err
		}
		slog.Warn("audit: could not append the signed entry from which entries are signed; the next append writes it first",
			"log", l.lay.latest(), "entries", at, "err", err)
		l.startPending = true
		return l, nil
	}
	if err := l.publish(ctx); err != nil {
		slog.Warn("audit: could not sign a checkpoint saying from where entries are signed; the next append signs it",
			"log", l.lay.latest(), "entries", l.tree.n, "err", err)
		return l, nil
	}
	prev := int64(-1)
	if found {
		prev = c.Size
	}
	slog.Info("audit: appended the first signed entry and signed a checkpoint over it and the entries written before entries were signed; from now on every entry must carry its own signature",
		"log", l.lay.latest(), "signed_from", at, "entries", l.tree.n, "previous_checkpoint_size", prev)
	return l, nil
}

// EventEntrySignatures is the type of the entry the first node of a
// release that signs entries appends to a log written before (by actor
// "system", with attribute "from", its index): the first signed entry.
const EventEntrySignatures = "audit.entry-signatures.enabled"

// startSigning appends the EventEntrySignatures entry at the end of the
// log, unless another node gets there first: losing the race for the
// index, it takes in what that node wrote, which must be signed (Open has
// required signatures from this index on) and so was written by a node of
// this release doing the same. Nodes starting at once thus append it once.
// Only Open calls it, or the writer when Open could not (startPending).
func (l *Log) startSigning(ctx context.Context) error {
	n := l.tree.n
	rec, err := Event{Type: EventEntrySignatures, Actor: "system", Attrs: map[string]string{"from": strconv.FormatInt(n, 10)}, Time: time.Now()}.Encode()
	if err != nil {
		return err
	}
	_, err = putObject(ctx, l.store, l.lay.entry(n), signRecord(l.signer, n, rec), objstore.PutOptions{IfNoneMatch: true, ContentType: "text/plain; charset=utf-8"})
	switch {
	case err == nil:
		if err := l.addLeaf(rec); err != nil {
			return err
		}
		l.auth.anySigned = true
		return nil
	case !errors.Is(err, objstore.ErrPrecondition):
		return fmt.Errorf("audit: write entry %d: %w", n, err)
	}
	if err := l.refresh(ctx); err != nil {
		return err
	}
	if l.tree.n == n {
		return fmt.Errorf("audit: write entry %d: lost the race for it, yet it cannot be read", n)
	}
	return nil
}

// storedFrom reads the checkpoints stored by size that are at least as
// large as the latest (of size latestSize, -1 if none could be read): the
// one of its size and the largest. Normally these are the latest itself
// and, if a node stopped between the two writes of publish, one larger.
// Only Open calls it.
func (l *Log) storedFrom(ctx context.Context, latestSize int64) ([]signedCheckpoint, error) {
	after := ""
	if latestSize > 0 {
		after = l.lay.checkpoint(latestSize - 1)
	}
	var keys []string
	err := objstore.ListAfter(ctx, l.store, l.lay.checkpoints(), after, func(info objstore.Info) error {
		if _, err := parseIndexKey(l.lay.checkpoints(), info.Key); err != nil {
			return err
		}
		if len(keys) < 2 {
			keys = append(keys, info.Key)
		} else {
			keys[1] = info.Key
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list %s: %w", l.lay.checkpoints(), err)
	}
	var out []signedCheckpoint
	for _, key := range keys {
		c, ok, err := readSignedCheckpoint(ctx, l.store, l.verifier, key)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // listed but gone: stores may list stale keys
		}
		if want, _ := parseIndexKey(l.lay.checkpoints(), key); c.Size != want {
			return nil, fmt.Errorf("audit: %s holds a checkpoint of size %d", key, c.Size)
		}
		out = append(out, c)
	}
	return out, nil
}

// Size returns the number of entries this Log has seen. Other nodes may have
// appended more; Append and Checkpoint catch up first.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.n
}

// addLeaf adds data, a checked entry, as the next leaf. Only the writer (or
// Open) calls it: it alone changes the tree, so it may read the tree without
// mu, and takes mu only for the change.
func (l *Log) addLeaf(data []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.add(data)
}

// refresh ingests entries other nodes appended beyond the local size, by
// reading the next index until there is none. Only the writer (or Open)
// calls it.
func (l *Log) refresh(ctx context.Context) error {
	for {
		n := l.tree.n
		key := l.lay.entry(n)
		data, _, err := readObject(ctx, l.store, key)
		if errors.Is(err, objstore.ErrNotFound) {
			return nil
		}
		var f fetched
		switch {
		case errors.Is(err, errTooLarge):
			// Larger than any entry a node writes.
			err = fmt.Errorf("audit: entry %d (%s): %w: %w", n, key, err, ErrForgedEntry)
		case err != nil:
			return fmt.Errorf("audit: entry %d: %w", n, err)
		default:
			f, err = readEntry(l.verifier, key, n, data)
			if err == nil {
				err = l.auth.admit(l.lay, n, f)
			}
		}
		if errors.Is(err, errBadStart) {
			// The error names the entry before, taken in earlier, as
			// forged: entry n is genuine, and the ERROR would say to
			// remove it. (Only while Open loads: afterwards signatures
			// are required from the end of the log Open found.)
			return err
		}
		if err != nil {
			// Not an entry a node of this release wrote (unsigned, badly
			// signed, not even an event): the log is stuck until it is
			// removed, or, if a node of an older release wrote it, until
			// those nodes are stopped and this one started again.
			l.reportForged(ctx, n, data, err)
			return err
		}
		if err := l.addLeaf(f.event); err != nil {
			return err
		}
	}
}

// maxCoverCheck bounds how many entries reportForged reads to learn
// whether a signed checkpoint covers a refused entry.
const maxCoverCheck = 256

// reportForged logs, at most once a minute for the same index, that entry
// n (raw, nil if it could not be read) was refused: the log takes no write
// until it is dealt with, since appending would sign over it
// (docs/operations.md). The ERROR says whether a checkpoint signed with
// the log's key covers it: then a node of an older release (which signs
// checkpoints but not entries) wrote it, it is a genuine record, and
// removing it would fork the log. If not, and the latest checkpoint was
// signed by an older release (or there is none), an older node may have
// written it and not yet signed its checkpoint: the ERROR says to make
// sure none runs and to wait for it to repeat (covered=unknown).
// Otherwise no node signed anything over it. Only the writer (or Open)
// calls it.
func (l *Log) reportForged(ctx context.Context, n int64, raw []byte, err error) {
	if n == l.forgedIdx && time.Since(l.forgedAt) < time.Minute {
		return
	}
	l.forgedIdx, l.forgedAt = n, time.Now()
	if l.coveredBySigned(ctx, n, raw) {
		slog.Error("audit: an entry in the store has no entry signature but a checkpoint signed with the log's key covers it: a node of an older release wrote it; audited writes fail until every node of the older release is stopped and this node started again (do not remove the entry)",
			"index", n, "key", l.lay.entry(n), "covered", true, "err", err)
		return
	}
	if l.latestPredatesSigning(ctx) {
		// A node of an older release may have written it and not yet
		// signed the checkpoint over it: removing it would fork the log.
		slog.Error("audit: an entry in the store has no entry signature and no checkpoint signed with the log's key covers it yet; it may be an older node's entry whose checkpoint has not landed: make sure no older node runs, then wait for this ERROR to repeat before removing anything",
			"index", n, "key", l.lay.entry(n), "covered", "unknown", "err", err)
		return
	}
	slog.Error("audit: an entry in the store was not written by a node; audited writes fail until it is removed",
		"index", n, "key", l.lay.entry(n), "covered", false, "err", err)
}

// latestPredatesSigning reports whether the latest checkpoint is missing
// or says nothing of where entries are signed: a node of this release has
// not signed one yet, so a node of an older release may still be writing.
// Only the writer (or Open) calls it.
func (l *Log) latestPredatesSigning(ctx context.Context) bool {
	if l.auth.anySigned {
		// This log already holds signed entries: no older node can write
		// after them (it cannot read them), whatever the latest says.
		return false
	}
	data, _, err := readObject(ctx, l.store, l.lay.latest())
	if errors.Is(err, objstore.ErrNotFound) {
		return true
	}
	if err != nil {
		return false
	}
	_, from, err := openCheckpointFrom(data, l.verifier)
	return err == nil && from < 0
}

// coveredBySigned reports whether a checkpoint signed with the log's key
// — the latest, or the one stored under size n+1 — covers raw as entry n:
// its root is that of the local tree, raw's event and the entries stored
// after it up to its size (at most maxCoverCheck of them). Only the writer
// (or Open) calls it.
func (l *Log) coveredBySigned(ctx context.Context, n int64, raw []byte) bool {
	if raw == nil {
		return false
	}
	event, _, err := parseRecord(raw)
	if err != nil {
		return false
	}
	for _, key := range []string{l.lay.checkpoint(n + 1), l.lay.latest()} {
		data, _, err := readObject(ctx, l.store, key)
		if err != nil {
			continue
		}
		c, err := openCheckpoint(data, l.verifier)
		if err != nil || c.Size <= n || c.Size-n > maxCoverCheck {
			continue
		}
		leaves := [][]byte{event}
		for i := n + 1; i < c.Size; i++ {
			raw, _, err := readObject(ctx, l.store, l.lay.entry(i))
			if err != nil {
				break
			}
			ev, _, err := parseRecord(raw)
			if err != nil {
				break
			}
			leaves = append(leaves, ev)
		}
		if int64(len(leaves)) != c.Size-n {
			continue
		}
		if root, err := l.tree.rootWith(leaves); err == nil && root == c.Hash {
			return true
		}
	}
	return false
}

// Append adds ev to the log and returns its index, then publishes a new
// signed checkpoint covering it. A zero ev.Time is set to now.
//
// If another node takes the index first, Append reads what it wrote and
// tries again at the new end, up to maxRetries times, and only while ctx
// lasts: once ctx has ended it does not try again but returns ctx's error.
// An error other than a lost race is returned at once and not retried
// here: if the write may have happened (a timeout, say), retrying blindly
// could log the event twice.
//
// If the entry is written but the checkpoint is not — the checkpoint's
// write failed, or ctx ended after the entry was written — Append returns
// the index together with the error; the entry stays in the log (it cannot
// be taken back) and the next successful Append or Checkpoint signs it. An
// index of -1 with an error means the entry was not written, or that ctx
// ended while its write was under way (it may then have landed, as after
// any timed-out write).
func (l *Log) Append(ctx context.Context, ev Event) (int64, error) {
	idx, err := l.AppendBatch(ctx, []Event{ev})
	if len(idx) == 0 {
		return -1, err
	}
	return idx[0], err
}

// AppendBatch appends events in order and publishes a checkpoint covering
// them before it returns — for bulk work such as a retention purge logging
// thousands of disposals, where a checkpoint per event would double the
// writes. While other appends wait, a batch is written roundEntries at a
// time, each round with its checkpoint, so that they wait for one round,
// not for the whole batch; appends queued together share their round's
// checkpoint.
//
// Every event is validated before any is written, so an invalid event
// appends nothing. The returned indices are ascending but need not be
// contiguous: other nodes, and other appends through this Log, may
// interleave their entries. On an error part way, the indices of the events
// already appended are returned with it (they are in the log for good) and a
// checkpoint covering them is still attempted. If ctx ends first, AppendBatch
// returns ctx's error with the indices of the events written by then (a
// prefix of events, possibly empty), and no later event is written; the
// event whose write was under way as ctx ended may still land, unreported,
// as after any timed-out write.
//
// Refusals (access.denied) beyond the Log's [DenialLimit] are not written
// but counted: their events get no index, so the indices returned are
// those of the events written, and Append returns -1 with no error for a
// refusal only counted. The counts of the windows that have ended are
// appended first, as access.denied.suppressed entries.
func (l *Log) AppendBatch(ctx context.Context, events []Event) ([]int64, error) {
	encoded := make([][]byte, len(events))
	for i, ev := range events {
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		b, err := ev.Encode()
		if err != nil {
			return nil, fmt.Errorf("audit: batch event %d: %w", i, err)
		}
		encoded[i] = b
	}
	keep, summaries := l.limitDenials(events)
	if len(summaries) > 0 {
		_ = l.appendSuppressed(ctx, summaries)
	}
	records := encoded[:0:0]
	for i, b := range encoded {
		if keep[i] {
			records = append(records, b)
		}
	}
	return l.appendRecords(ctx, records)
}

// appendRecords writes encoded events in order: AppendBatch without the
// refusal limit.
func (l *Log) appendRecords(ctx context.Context, records [][]byte) ([]int64, error) {
	if len(records) == 0 {
		return nil, nil
	}
	r := &request{records: records}
	if err := l.submit(ctx, r); err != nil {
		// Gave up: r.indices is what was written before, and stays so.
		if len(r.indices) == 0 {
			return nil, err
		}
		return r.indices, err
	}
	if len(r.indices) == 0 {
		return nil, r.err
	}
	return r.indices, r.err
}

// appendRecord writes rec as the next entry, catching up and retrying when
// another node got there first. ctx is the caller's: it is checked before
// every retry, so a caller that gave up while its append lost races gets
// ctx's error and rec is not written after — even on a store that ignores
// contexts. Only the writer calls it, having refreshed and checked ctx.
func (l *Log) appendRecord(ctx context.Context, rec []byte) (int64, error) {
	for attempt := range maxRetries {
		if attempt > 0 {
			if err := ctx.Err(); err != nil {
				return -1, err
			}
		}
		n := l.tree.n
		_, err := putObject(ctx, l.store, l.lay.entry(n), signRecord(l.signer, n, rec), objstore.PutOptions{IfNoneMatch: true, ContentType: "text/plain; charset=utf-8"})
		if err == nil {
			if err := l.addLeaf(rec); err != nil {
				return -1, err
			}
			l.auth.signedFrom = min(l.auth.signedFrom, n)
			l.auth.anySigned = true
			return n, nil
		}
		if !errors.Is(err, objstore.ErrPrecondition) {
			return -1, fmt.Errorf("audit: write entry %d: %w", n, err)
		}
		// Lost the race for index n: learn what the others wrote.
		if err := l.refresh(ctx); err != nil {
			return -1, err
		}
	}
	return -1, fmt.Errorf("audit: append: lost the race for the next index %d times in a row", maxRetries)
}

// publish signs a checkpoint of the local tree and stores it, both under
// its size in audit/checkpoints/ (so every signed size stays provable) and
// as audit/checkpoint, the latest, which only ever moves forward. The
// checkpoint says from which index entries are signed. The latest is
// always a copy of the checkpoint stored under its size: if another node
// stored one of that size first, that one is checked and becomes the
// latest. Only the writer (or Open) calls it, so one Log never publishes
// two checkpoints at once.
func (l *Log) publish(ctx context.Context) error {
	n := l.tree.n
	root, err := l.tree.root(n)
	if err != nil {
		return err
	}
	signed, err := signNote(checkpointText(Checkpoint{Origin: l.signer.Name(), Size: n, Hash: root}, min(l.auth.signedFrom, n)), l.signer)
	if err != nil {
		return err
	}

	// The copy by size first, so the latest is always also kept by size.
	_, err = putObject(ctx, l.store, l.lay.checkpoint(n), signed, objstore.PutOptions{IfNoneMatch: true, ContentType: "text/plain; charset=utf-8"})
	switch {
	case errors.Is(err, objstore.ErrPrecondition):
		// Another node signed this size first: the same key and tree give
		// the same root — unless the histories differ.
		stored, _, err := readObject(ctx, l.store, l.lay.checkpoint(n))
		if err != nil {
			return fmt.Errorf("audit: read %s: %w", l.lay.checkpoint(n), err)
		}
		if _, _, err := l.checkAgainstTree(stored, l.lay.checkpoint(n)); err != nil {
			return err
		}
		signed = stored
	case err != nil:
		return fmt.Errorf("audit: write checkpoint %d: %w", n, err)
	}

	// Then move the latest forward with compare-and-swap, never back: a slow
	// node must not replace a newer checkpoint with its older one.
	for range maxRetries {
		err := l.advanceLatest(ctx, n, signed)
		if !errors.Is(err, objstore.ErrPrecondition) {
			return err
		}
	}
	return fmt.Errorf("audit: update %s: lost the race %d times in a row", l.lay.latest(), maxRetries)
}

// advanceLatest makes one attempt to store signed (a checkpoint of size n)
// as the latest checkpoint. It succeeds without writing when the stored one
// is already at least as large, and returns ErrPrecondition when another
// node changed it between our read and our write. Only the writer (or
// Open) calls it.
func (l *Log) advanceLatest(ctx context.Context, n int64, signed []byte) error {
	opts := objstore.PutOptions{ContentType: "text/plain; charset=utf-8"}
	data, info, err := readObject(ctx, l.store, l.lay.latest())
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		opts.IfNoneMatch = true
	case err != nil:
		return fmt.Errorf("audit: read %s: %w", l.lay.latest(), err)
	default:
		cur, _, err := l.checkAgainstTree(data, l.lay.latest())
		if err != nil {
			return err
		}
		if cur.Size >= n {
			return nil
		}
		opts.IfMatch = info.ETag
	}
	if _, err := putObject(ctx, l.store, l.lay.latest(), signed, opts); err != nil {
		if errors.Is(err, objstore.ErrPrecondition) {
			return err
		}
		return fmt.Errorf("audit: write %s: %w", l.lay.latest(), err)
	}
	return nil
}

// checkAgainstTree opens a signed checkpoint with this log's key and, when
// the local tree is at least as large, checks its root. A mismatch means the
// store holds a history other than the one this Log has read: a fork, or
// entries rewritten after they were signed. from is the index from which
// the checkpoint says entries are signed, -1 if it was signed before they
// were. Only the writer (or Open) calls it, so it reads the tree without
// mu.
func (l *Log) checkAgainstTree(signed []byte, key string) (c Checkpoint, from int64, err error) {
	c, from, err = openCheckpointFrom(signed, l.verifier)
	if err != nil {
		return Checkpoint{}, 0, fmt.Errorf("audit: %s: %w", key, err)
	}
	if c.Size <= l.tree.n {
		root, err := l.tree.root(c.Size)
		if err != nil {
			return Checkpoint{}, 0, err
		}
		if root != c.Hash {
			return Checkpoint{}, 0, fmt.Errorf("audit: %s: signed root at size %d does not match the stored entries (tampered or forked log)", key, c.Size)
		}
	}
	return c, from, nil
}

// readLatest reads and checks the latest signed checkpoint, catching up
// with the entries first if it is ahead of the local tree (entries are always
// written before the checkpoint that covers them). found is false when no
// checkpoint has been written yet; from is the index from which the
// checkpoint says entries are signed (-1: signed before they were). Only
// the writer (or Open) calls it.
func (l *Log) readLatest(ctx context.Context) (signed []byte, c Checkpoint, from int64, found bool, err error) {
	data, _, err := readObject(ctx, l.store, l.lay.latest())
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, Checkpoint{}, -1, false, nil
	}
	if err != nil {
		return nil, Checkpoint{}, -1, false, fmt.Errorf("audit: read %s: %w", l.lay.latest(), err)
	}
	c, from, err = l.checkAgainstTree(data, l.lay.latest())
	if err != nil {
		return nil, Checkpoint{}, -1, false, err
	}
	if c.Size > l.tree.n {
		if err := l.refresh(ctx); err != nil {
			return nil, Checkpoint{}, -1, false, err
		}
		if c.Size > l.tree.n {
			return nil, Checkpoint{}, -1, false, fmt.Errorf("audit: %s signs %d entries but the store has %d (entries deleted)", l.lay.latest(), c.Size, l.tree.n)
		}
		if _, _, err := l.checkAgainstTree(data, l.lay.latest()); err != nil {
			return nil, Checkpoint{}, -1, false, err
		}
	}
	return data, c, from, true, nil
}

// Checkpoint returns the latest signed checkpoint, as a C2SP signed note.
// It catches up with other nodes first and, if the stored checkpoint is
// missing or behind the entries (a node stopped between writing an entry and
// signing), signs and stores a current one — so the result always covers
// every entry written before the call, and the Log can serve inclusion and
// consistency proofs up to its size. It is answered by the Log's writer at
// the end of a round, so it also covers the entries that round wrote; it
// need not cover appends still waiting or in flight when it was called (a
// batch that goes on in later rounds, say): what it guarantees is every
// entry written before the call.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	r := &request{checkpoint: true}
	if err := l.submit(ctx, r); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.signed, nil
}

// checkpoint is Checkpoint's work, after the round's catching up. Only the
// writer calls it.
func (l *Log) checkpoint(ctx context.Context) ([]byte, error) {
	for range 2 {
		signed, c, _, found, err := l.readLatest(ctx)
		if err != nil {
			return nil, err
		}
		if found && c.Size >= l.tree.n {
			return signed, nil
		}
		if err := l.publish(ctx); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("audit: checkpoint: stored checkpoint stays behind the log")
}

// InclusionProof returns the proof that entry index is in the tree of the
// first treeSize entries. A client checks it with
//
//	tlog.CheckRecord(proof, treeSize, checkpoint.Hash, index, tlog.RecordHash(entryBytes))
//
// where entryBytes is the event's canonical encoding ([Event.Encode]) and
// checkpoint a signed checkpoint of that size ([OpenCheckpoint]).
func (l *Log) InclusionProof(index, treeSize int64) (tlog.RecordProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if index < 0 || index >= treeSize || treeSize > l.tree.n {
		return nil, fmt.Errorf("audit: no inclusion proof for entry %d in tree of %d (log has %d)", index, treeSize, l.tree.n)
	}
	return tlog.ProveRecord(treeSize, index, &l.tree)
}

// ConsistencyProof returns the proof that the tree of the first newSize
// entries extends the tree of the first oldSize — that nothing in the older
// checkpoint was changed. A client holding both checkpoints checks it with
//
//	tlog.CheckTree(proof, newSize, newCheckpoint.Hash, oldSize, oldCheckpoint.Hash)
func (l *Log) ConsistencyProof(oldSize, newSize int64) (tlog.TreeProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if oldSize < 1 || oldSize > newSize || newSize > l.tree.n {
		return nil, fmt.Errorf("audit: no consistency proof from size %d to %d (log has %d)", oldSize, newSize, l.tree.n)
	}
	return tlog.ProveTree(newSize, oldSize, &l.tree)
}

// Entry reads entry index from the store and checks it against the hash
// the Log holds for it, so a rewritten entry is reported rather than
// returned as if it were genuine.
func (l *Log) Entry(ctx context.Context, index int64) (Event, error) {
	if index < 0 {
		return Event{}, fmt.Errorf("audit: no entry %d", index)
	}
	raw, _, err := readObject(ctx, l.store, l.lay.entry(index))
	if err != nil {
		return Event{}, fmt.Errorf("audit: entry %d: %w", index, err)
	}
	data, _, err := parseRecord(raw)
	if err != nil {
		return Event{}, fmt.Errorf("audit: entry %d: %w", index, err)
	}
	if index >= l.Size() {
		// Written by another node since this Log last looked: the writer
		// catches up (a request with nothing to write).
		r := &request{}
		if err := l.submit(ctx, r); err != nil {
			return Event{}, err
		}
		if r.err != nil {
			return Event{}, r.err
		}
	}
	l.mu.Lock()
	var want tlog.Hash
	known := index < l.tree.n
	if known {
		want = l.tree.leaf(index)
	}
	l.mu.Unlock()
	if !known {
		return Event{}, fmt.Errorf("audit: entry %d: %w", index, objstore.ErrNotFound)
	}
	if tlog.RecordHash(data) != want {
		return Event{}, fmt.Errorf("audit: entry %d: stored bytes do not match the log's hash for it (rewritten after it was appended)", index)
	}
	ev, err := ParseEvent(data)
	if err != nil {
		return Event{}, fmt.Errorf("audit: entry %d: %w", index, err)
	}
	return ev, nil
}
