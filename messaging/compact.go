package messaging

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// Limits of one segment written by compaction.
const (
	maxSegmentMessages = 4096
	maxSegmentBytes    = 4 << 20
)

// runCompactor copies the batches this node has journaled into their
// rooms' segments, one object per room however many batches it gathers,
// once a room's oldest has waited the compaction interval or its tail
// grows long, and deletes the journal entries wholly copied.
// Nothing waits on it: messages are acknowledged once journaled.
func (s *Service) runCompactor() {
	defer s.wg.Done()
	ctx, cancel := s.untilStop()
	defer cancel()
	t := time.NewTicker(s.timing.compactEvery())
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if err := s.compact(ctx, s.current(), false); err != nil && ctx.Err() == nil && !errors.Is(err, errFenced) {
			s.logger.Warn("compaction failed; will retry", "error", err.Error())
		}
	}
}

// compactEarly: a room whose journaled tail holds this many messages is
// compacted without waiting for the interval. maxCompactPerTick bounds the
// rooms compacted in one tick (one segment write each).
const (
	compactEarly      = 1024
	maxCompactPerTick = 16
)

// maxTailBytes is the node's budget for journaled batches kept in memory
// until compaction (sizes as Batch.size estimates them): past it, every
// room is compacted without waiting for the interval. At tens of
// thousands of messages a second the interval's 10 s of batches would
// otherwise be hundreds of megabytes, which the garbage collector marks
// on every cycle while the node's goroutines wait on its assists; at a
// few thousand a second (8,000 on two nodes in BENCHMARKS.md) the
// interval comes first, and a quiet node never reaches it, so its rooms
// keep few, large segments.
const maxTailBytes = 48 << 20

func (or *ownedRoom) tailMsgs() int {
	n := 0
	for _, j := range or.tail {
		n += len(j.b.Msgs)
	}
	return n
}

// forgettable reports whether an owned room can be forgotten: nothing of
// it journaled and not yet compacted, no batch in flight, and unused for
// idle (timing.forget: an hour). Forgetting it drops only memory: the room's claim still names
// this incarnation, so its committer owns it again from the claim and the
// segments' head (route, adopt) when it is next used — unless its history
// has ended meanwhile: then adopt refuses it (ErrHistoryEnded) — and a batch started
// meanwhile against the forgotten entry comes back errMoved and is
// committed again that way. Without it a node kept an entry for every
// room it ever owned until restart, and compaction walked them all every
// tick under incMu. Caller holds incMu.
func forgettable(or *ownedRoom, now time.Time, idle time.Duration) bool {
	return len(or.tail) == 0 && !or.pos.Before(or.next) && now.Sub(or.used) >= idle
}

// compactTick is how often compaction looks for rooms to compact.
const compactTick = 200 * time.Millisecond

// compactEvery is how often compaction looks: compactTick, or the
// interval itself when that is shorter (tests).
func (t timing) compactEvery() time.Duration { return min(t.compact, compactTick) }

// Compaction is paced so that a node's rooms are compacted one after
// another through the interval rather than together. Rooms whose traffic
// began together (a node's rooms after a restart or a takeover, a
// benchmark's) would all be due in the same ticks, interval after
// interval, and their segment writes — each an object-store write and two
// history-ended checks — come as a burst that slows the journal writes
// acknowledgements wait on: in the two-node benchmark (BENCHMARKS.md,
// "Compaction paced through the interval") the seconds of those bursts
// held the p99. So each tick the node may take, besides the rooms due,
// tails × tick / (compactReach × interval) rooms early (tails: the rooms
// with journaled batches), the oldest first, of those whose oldest batch
// has waited at least interval / compactMinAge; the allowance a tick
// does not use carries over up to two ticks' worth (at least one room),
// and the rooms due spend it first. Up to maxCompactPerTick rooms a tick
// in all (about 560 rooms with journaled batches at the defaults), every
// room is then reached within about compactReach of the interval, before
// it falls due, and a node writes about as many segments in every second;
// beyond that, rooms fall due as before. The price: a busy room's
// segments come about every 7 s instead of 10 s (10/7 as many segment
// writes and objects), and a quiet room's after about 7 s rather than
// 10 s, never before interval / compactMinAge.
const (
	compactReach  = 0.7
	compactMinAge = 10
)

// tailInfo is what choose needs of an owned room's journaled tail.
type tailInfo struct {
	oldest time.Time // when its oldest batch was journaled
	msgs   int
}

// compactPace is the compactor's allowance of rooms to take early
// (guarded by Service.paceMu; only passes that are not a final
// compaction use it).
type compactPace struct {
	credit float64
}

// choose returns the indices of the tails to compact this tick: those due
// (over the budget, past the interval, or long), then as many as the pace
// allows of the oldest among the rest that have waited interval /
// compactMinAge, maxCompactPerTick in all, the longest-waiting first.
func (p *compactPace) choose(tails []tailInfo, now time.Time, over bool, t timing) []int {
	var due, early []int
	for i, ti := range tails {
		age := now.Sub(ti.oldest)
		switch {
		case over || age >= t.compact || ti.msgs >= compactEarly:
			due = append(due, i)
		case age >= t.compact/compactMinAge:
			early = append(early, i)
		}
	}
	older := func(a, b int) int { return tails[a].oldest.Compare(tails[b].oldest) }
	if len(due) > maxCompactPerTick {
		// Spread the rooms' segment writes over the ticks rather than
		// writing every room at once, which stalls the journal behind them
		// on the disk: the longest-waiting rooms go first.
		slices.SortFunc(due, older)
		due = due[:maxCompactPerTick]
	}
	rate := float64(len(tails)) * float64(t.compactEvery()) / (compactReach * float64(t.compact))
	p.credit = min(p.credit+rate, max(1, 2*rate)) - float64(len(due))
	p.credit = max(p.credit, -maxCompactPerTick)
	n := min(int(p.credit), len(early), maxCompactPerTick-len(due))
	if n <= 0 {
		return due
	}
	slices.SortFunc(early, older)
	p.credit -= float64(n)
	return append(due, early[:n]...)
}

// errFenced: this incarnation's journal has ended.
var errFenced = errors.New("messaging: this node's journal was ended")

// compact writes inc's journaled batches into segments, room by room, then
// deletes spent journal entries. A segment that someone else already
// wrote means another node fenced this incarnation: it is ended.
func (s *Service) compact(ctx context.Context, inc *incarnation, all bool) error {
	type work struct {
		room  string
		batch []journaled
	}
	var todo []work
	now := time.Now()
	s.incMu.Lock()
	held := 0
	for _, or := range inc.owned {
		held += or.tailBytes
	}
	// Past the node's budget every room is due (the longest-waiting
	// first, maxCompactPerTick a tick), however young its tail.
	over := held > s.timing.tailBudget()
	var cands []tailInfo
	var rooms []string
	for room, or := range inc.owned {
		if forgettable(or, now, s.timing.forgetAfter()) {
			delete(inc.owned, room)
			continue
		}
		if len(or.tail) > 0 {
			cands = append(cands, tailInfo{oldest: or.tail[0].at, msgs: or.tailMsgs()})
			rooms = append(rooms, room)
		}
	}
	if all {
		for _, room := range rooms {
			todo = append(todo, work{room, append([]journaled(nil), inc.owned[room].tail...)})
		}
		s.incMu.Unlock()
	} else {
		// Chosen outside incMu (the commit path takes it); only this
		// pass empties a tail, so what was seen is still there to copy.
		s.incMu.Unlock()
		s.paceMu.Lock()
		chosen := s.pace.choose(cands, now, over, s.timing)
		s.paceMu.Unlock()
		s.incMu.Lock()
		for _, i := range chosen {
			if or := inc.owned[rooms[i]]; or != nil && len(or.tail) > 0 {
				todo = append(todo, work{rooms[i], append([]journaled(nil), or.tail...)})
			}
		}
		s.incMu.Unlock()
	}
	var errs []error
	for _, w := range todo {
		batches := make([]*Batch, len(w.batch))
		for i, j := range w.batch {
			batches[i] = j.b
		}
		written, err := s.writeSegments(ctx, merge(batches))
		if errors.Is(err, ErrHistoryEnded) {
			written, err = len(w.batch), nil // disposed of: nothing more to keep
		}
		if errors.Is(err, objstore.ErrPrecondition) {
			if k := s.landedBefore(ctx, inc, w.room, w.batch[written:]); k > 0 {
				written, err = written+k, nil // the rest at the next look
			}
		}
		s.incMu.Lock()
		if or := inc.owned[w.room]; or != nil {
			for _, j := range or.tail[:written] {
				or.tailBytes -= j.size
			}
			// Cleared, not just sliced past: the array behind the tail
			// would keep the compacted batches (ciphertext) reachable.
			clear(or.tail[:written])
			or.tail = or.tail[written:]
			if len(or.tail) == 0 {
				or.tail = nil
			}
		}
		for _, j := range w.batch[:written] {
			if e := inc.live[j.seq]; e != nil {
				e.left--
			}
		}
		s.incMu.Unlock()
		if errors.Is(err, objstore.ErrPrecondition) {
			// Another node fenced this one and recovered the room. This
			// journal ends here, and whoever recovers it checks it
			// against what the segments hold.
			s.logger.Warn("a room's segment was already written: this journal ends; starting a new one", "room", w.room)
			s.reincarnate(inc)
			return errFenced
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.deleteSpent(ctx, inc), s.settleOwed(ctx))
	return errors.Join(errs...)
}

// deleteSpent deletes the journal entries whose every batch is in its
// room's segments, except the newest entry written: that one stays as the
// journal's high-water mark, so that a node fencing this journal puts its
// tombstone after everything this incarnation wrote.
//
// In a local journal (nodelog.go) fencing needs no high-water mark, so the
// newest entry is released too, and a segment file goes once every entry
// in it is spent.
func (s *Service) deleteSpent(ctx context.Context, inc *incarnation) error {
	newest := inc.lastSeq.Load()
	var local *nodeLog
	if s.log.local != nil {
		local = s.log.local.writer(inc.id)
	}
	if local != nil {
		newest++
	}
	var spent []objstore.Info
	var seqs []int64
	s.incMu.Lock()
	for seq, e := range inc.live {
		if e.left <= 0 && seq < newest {
			spent = append(spent, objstore.Info{Key: journalKey(inc.id, seq), VersionID: e.version})
			seqs = append(seqs, seq)
		}
	}
	s.incMu.Unlock()
	if len(spent) == 0 {
		return nil
	}
	if local != nil {
		err := local.release(seqs)
		s.incMu.Lock()
		for _, seq := range seqs {
			delete(inc.live, seq)
		}
		s.incMu.Unlock()
		return err
	}
	errs := s.log.store.DeleteVersions(ctx, spent)
	s.incMu.Lock()
	for i, seq := range seqs {
		if errs[i] == nil {
			delete(inc.live, seq)
		}
	}
	s.incMu.Unlock()
	return errors.Join(errs...)
}

// segment is one object of a room's chain and how many journaled batches
// it gathers.
type segment struct {
	b       *Batch
	batches int
	parts   [][]byte // the msgsJSON of each batch gathered (spliced when none is nil)
}

// merge joins consecutive batches of one epoch into segments (within the
// segment limits); a seal is a segment of its own.
func merge(batches []*Batch) []segment {
	var out []segment
	size := 0
	for _, b := range batches {
		if n := len(out); n > 0 && b.Seal == nil {
			cur := &out[n-1]
			if cur.b.Seal == nil && cur.b.Epoch == b.Epoch && cur.b.First+int64(len(cur.b.Msgs)) == b.First &&
				len(cur.b.Msgs)+len(b.Msgs) <= maxSegmentMessages && size+b.size() <= maxSegmentBytes {
				cur.b.Msgs = append(cur.b.Msgs, b.Msgs...)
				cur.parts = append(cur.parts, b.msgsJSON)
				cur.batches++
				size += b.size()
				continue
			}
		}
		first := *b
		first.Msgs = append([]Message(nil), b.Msgs...)
		first.msgsJSON = nil // the segment's messages are its parts
		out = append(out, segment{b: &first, batches: 1, parts: [][]byte{b.msgsJSON}})
		size = b.size()
	}
	return out
}

// writeSegments appends segs, in order, to their room's chain, and
// returns how many journaled batches the segments written gather.
func (s *Service) writeSegments(ctx context.Context, segs []segment) (int, error) {
	written := 0
	for _, seg := range segs {
		err := s.log.appendSegment(ctx, seg.b, seg.parts)
		var unchecked *uncheckedWrite
		if errors.As(err, &unchecked) {
			// Landed: written, whatever the check after it says later.
			s.owe(unchecked)
			err = nil
		}
		if err != nil {
			return written, err
		}
		written += seg.batches
	}
	return written, nil
}

// landedBefore is called when the segment of batches[0]'s place is already
// written: it returns how many of batches (a room's journaled tail, in
// order) that segment holds, when it is exactly what this node would
// have written of their first ones (an earlier compaction's write that
// landed though its answer was lost, when the tail has grown since), and
// 0 otherwise (another node wrote it: this node was fenced). The check
// after the write that such a segment never had is owed.
//
// The same bytes are also what a node that fenced inc writes when it
// recovers inc's journal (it merges the same batches), so a match counts
// only while inc's journal is not ended: a fenced node must learn it here
// and start a new incarnation, or it would go on serving its rooms'
// history as their owner without the new owner's messages.
func (s *Service) landedBefore(ctx context.Context, inc *incarnation, room string, batches []journaled) int {
	if len(batches) == 0 {
		return 0
	}
	b0 := batches[0].b
	key := batchKey(room, b0.Epoch, b0.First)
	rc, info, err := s.log.store.Get(ctx, key, objstore.GetOptions{})
	if err != nil {
		return 0
	}
	data, err := io.ReadAll(io.LimitReader(rc, s.log.maxObject+1))
	rc.Close()
	if err != nil || int64(len(data)) > s.log.maxObject {
		return 0
	}
	stored, err := DecodeBatch(data)
	if err != nil {
		return 0
	}
	k, n := 0, 0
	for k < len(batches) && n < len(stored.Msgs) {
		n += len(batches[k].b.Msgs)
		k++
	}
	if k == 0 || n != len(stored.Msgs) {
		if stored.Seal == nil || batches[0].b.Seal == nil {
			return 0
		}
		k = 1 // a seal is a segment of its own
	}
	mine := make([]*Batch, k)
	for i := range mine {
		mine[i] = batches[i].b
	}
	segs := merge(mine)
	if len(segs) != 1 {
		return 0
	}
	want, err := segs[0].b.encodeParts(segs[0].parts)
	if err != nil || !bytes.Equal(want, data) {
		return 0
	}
	if s.journalEnded(ctx, inc) {
		return 0
	}
	s.owe(&uncheckedWrite{room: room, key: key, version: info.VersionID, err: errors.New("its write's answer was lost")})
	return k
}

// journalEnded reports whether inc's journal may have been ended by
// another node (or cannot be told): in a local journal, whether it is
// fenced; in the store, whether anything is listed after the last entry
// inc wrote (a tombstone; or an entry of inc's own still being written,
// which this answers as ended too: a new incarnation is the safe side).
func (s *Service) journalEnded(ctx context.Context, inc *incarnation) bool {
	if s.log.local != nil && s.log.local.get(inc.id) != nil {
		return s.log.local.isFenced(inc.id)
	}
	found := false
	err := objstore.ListAfter(ctx, s.log.store, journalPrefix(inc.id), journalKey(inc.id, inc.lastSeq.Load()), func(objstore.Info) error {
		found = true
		return errStopListing
	})
	return found || (err != nil && !errors.Is(err, errStopListing))
}

// errStopListing ends a listing once it has shown what was asked.
var errStopListing = errors.New("listing stopped")
