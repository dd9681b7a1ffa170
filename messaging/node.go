package messaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// An incarnation is one run of this node's journal: its id names the
// journal, the claims of the rooms it owns, and the broker topic other
// nodes forward to. It ends when a journal write fails (the write may have
// landed, or another node fenced it); the node then starts a new one and
// its rooms are taken over through the store, by itself or by others.
type incarnation struct {
	id      string
	lastSeq atomic.Int64 // last journal entry written (the writer stores it)

	// Under Service.incMu:
	owned map[string]*ownedRoom
	live  map[int64]*liveEntry // journal entries not yet wholly compacted
	ended bool

	// Its forwarding topic's subscription (subscribed and cancelled
	// outside incMu: with Redis that is network I/O).
	subMu   sync.Mutex
	cancel  func()
	stopped bool
}

// ownedRoom is the state of a room this incarnation owns.
type ownedRoom struct {
	gen int64
	pos Position // end of the last journaled batch
	// next is the end of the last batch handed to the journal, durable
	// or not: a room's committer may have several in flight (pipeline.go),
	// each placed after the one before.
	next Position
	tail []journaled // journaled, not yet in the room's segments, in order
	// tailBytes is the sum of tail's sizes.
	tailBytes int
	// used is when the room was owned or last journaled a batch: a room
	// idle for timing.forget with nothing journaled or in flight is
	// forgotten (compact), and owned again from its claim when next used.
	used time.Time
}

type journaled struct {
	b    *Batch
	seq  int64
	at   time.Time // when it was journaled
	size int       // b.size(), counted in its room's tailBytes
}

// liveEntry is a journal entry some of whose batches are not yet compacted.
type liveEntry struct {
	version string
	left    int
}

func ownerTopic(inc string) string  { return "owner:" + inc }
func replyTopic(proc string) string { return "reply:" + proc }

// newIncarnation returns a fresh incarnation, not yet listening.
func (s *Service) newIncarnation() *incarnation {
	inc := &incarnation{id: newNodeID(), owned: map[string]*ownedRoom{}, live: map[int64]*liveEntry{}}
	if s.log.local != nil {
		s.log.local.create(inc.id)
	}
	return inc
}

// listen subscribes inc to requests forwarded to it as a room's owner.
func (s *Service) listen(inc *incarnation) {
	cancel := s.broker.Subscribe(ownerTopic(inc.id), func(data []byte) { s.onForward(inc, data) })
	inc.subMu.Lock()
	defer inc.subMu.Unlock()
	if inc.stopped {
		cancel()
		return
	}
	inc.cancel = cancel
}

// stopListening ends inc's subscription (idempotent).
func (inc *incarnation) stopListening() {
	inc.subMu.Lock()
	inc.stopped = true
	cancel := inc.cancel
	inc.cancel = nil
	inc.subMu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (s *Service) current() *incarnation {
	s.incMu.Lock()
	defer s.incMu.Unlock()
	return s.inc
}

func (inc *incarnation) owns(s *Service, room string) bool {
	s.incMu.Lock()
	defer s.incMu.Unlock()
	return !inc.ended && inc.owned[room] != nil
}

// reincarnate ends inc (if it is still current) and starts a new one.
func (s *Service) reincarnate(inc *incarnation) {
	s.incMu.Lock()
	if s.inc != inc || inc.ended {
		s.incMu.Unlock()
		return
	}
	inc.ended = true
	next := s.newIncarnation()
	s.inc = next
	s.incMu.Unlock()
	inc.stopListening()
	s.listen(next)
	if s.log.local != nil {
		s.log.local.close(inc.id) // takes no more appends; its files stay
	}
}

// claimRoom makes inc the owner of room at generation gen. The previous
// owner, if any, has been fenced and its journal recovered, so the
// room's segments are complete: their head is where inc goes on. A room
// whose history has ended is not claimed: the claim is written with
// putInRoom, which checks the marker after the head was read (see adopt)
// and refuses with ErrHistoryEnded.
func (s *Service) claimRoom(ctx context.Context, inc *incarnation, room string, gen int64) error {
	head, err := s.log.Head(ctx, room)
	if err != nil {
		return err
	}
	err = s.log.putClaim(ctx, room, claim{Node: inc.id, Gen: gen})
	var unchecked *uncheckedWrite
	if errors.As(err, &unchecked) {
		// Landed, unchecked: owed the check; the claim is adopted when
		// next used (route), which checks the marker itself.
		s.owe(unchecked)
	}
	if errors.Is(err, objstore.ErrPrecondition) {
		return errMoved
	}
	if err != nil {
		return err
	}
	return s.own(inc, room, gen, head)
}

// adopt takes up a claim of inc's whose outcome was not seen (the write
// landed but its answer was lost), or of a room inc forgot while idle
// (compact).
//
// A room whose history has ended is not taken up: ErrHistoryEnded, and
// nothing of the room is journaled or written. Its claim can outlive the
// end (disposal deletes the room's objects after writing the marker, and
// may stop part-way), and its segments may be gone, so without the check
// the room would be owned again at their head, {1,0} for a room emptied,
// as if new. The marker is read after the head: a disposal writes it
// before deleting anything, so a head that missed any of the room's
// segments is always followed by a check that sees it. (A room held in
// memory is not checked on each commit: no store read on that path. What
// it journals after the end, compaction drops.)
func (s *Service) adopt(ctx context.Context, inc *incarnation, room string, gen int64) error {
	head, err := s.log.Head(ctx, room)
	if err != nil {
		return err
	}
	if ended, err := s.log.ended(ctx, room); err != nil || ended {
		return errors.Join(err, endedErr(ended))
	}
	return s.own(inc, room, gen, head)
}

func (s *Service) own(inc *incarnation, room string, gen int64, head Position) error {
	s.incMu.Lock()
	defer s.incMu.Unlock()
	if inc.ended {
		return errMoved
	}
	if inc.owned[room] == nil {
		inc.owned[room] = &ownedRoom{gen: gen, pos: head, used: time.Now()}
	}
	return nil
}

// takeOver fences the owner named in cl, recovers its journal, and claims
// the room for this node at the next generation.
func (s *Service) takeOver(ctx context.Context, room string, cl claim) error {
	if err := s.fence(ctx, cl.Node); err != nil {
		return err
	}
	if err := s.recoverJournal(ctx, cl.Node); err != nil {
		return err
	}
	return s.claimRoom(ctx, s.current(), room, cl.Gen+1)
}

func (s *Service) isDead(node string) bool {
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	return s.dead[node]
}

// fence ends node's journal with a tombstone above everything node wrote.
// Whatever node acknowledged is then in its journal below the tombstone,
// and it can acknowledge nothing more. If node keeps writing past every
// attempt it is alive, and errOwnerAlive is returned.
//
// Why a tombstone at the listed maximum + 1 suffices once nothing above
// it shows: a node never deletes its newest entry, and writes consecutive
// numbers. So if its newest is at or above the tombstone, a listing taken
// after the tombstone landed shows it; if none shows, its newest is the
// one just below, and its next write meets the tombstone. The relisting
// matters: between our listing and our write the node may have written
// on and deleted (compacted) the very number we then took.
//
// A local journal (nodelog.go) is fenced in this process: its writer stops.
func (s *Service) fence(ctx context.Context, node string) error {
	if s.isDead(node) {
		return nil
	}
	if s.log.local != nil && s.log.local.fence(node) {
		s.markDead(node)
		return nil
	}
	for range 64 {
		seqs, err := s.log.journalSeqs(ctx, node)
		if err != nil {
			return err
		}
		next := int64(1)
		if len(seqs) > 0 {
			last := seqs[len(seqs)-1]
			e, err := s.log.readJournal(ctx, node, last)
			if err != nil && !errors.Is(err, errNoBatch) {
				return err
			}
			if err == nil && e.FencedBy != "" {
				s.markDead(node) // the newest entry is a tombstone: ended
				return nil
			}
			next = last + 1
		}
		_, err = s.log.putJournal(ctx, &journalWrite{Node: node, Seq: next, FencedBy: s.current().id})
		if err != nil && !errors.Is(err, objstore.ErrPrecondition) {
			return err
		}
		// Landed or not, list again: the loop ends only when the newest
		// entry is a tombstone.
	}
	return errOwnerAlive
}

func (s *Service) markDead(node string) {
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	s.dead[node] = true
}

// recoverJournal copies every batch in the fenced node's journal into its
// room's segments (skipping what is there already) and deletes the
// journal's entries, keeping the tombstone. Safe to run on several nodes
// at once, and again after a crash halfway.
func (s *Service) recoverJournal(ctx context.Context, node string) error {
	s.deadMu.Lock()
	done := s.recovered[node]
	s.deadMu.Unlock()
	if done {
		return nil
	}
	// Read after the fence is in place, so nothing can be added.
	journal, err := s.log.journalEntries(ctx, node, true)
	if err != nil {
		return err
	}
	byRoom := map[string][]*Batch{}
	var rooms []string
	var entries []int64
	for _, e := range journal {
		entries = append(entries, e.Seq)
		for _, b := range e.Batches {
			if byRoom[b.Room] == nil {
				rooms = append(rooms, b.Room)
			}
			byRoom[b.Room] = append(byRoom[b.Room], b)
		}
	}
	for _, room := range rooms {
		if err := s.writeRecovered(ctx, room, byRoom[room]); err != nil {
			return fmt.Errorf("recovering room %s from journal %s: %w", room, node, err)
		}
	}
	if err := s.log.deleteJournal(ctx, node, entries); err != nil {
		return err
	}
	if len(entries) > 0 && node != s.current().id {
		s.logger.Info("recovered the journal of a node that is gone", "node", node, "entries", len(entries), "rooms", len(rooms))
	}
	s.deadMu.Lock()
	s.recovered[node] = true
	s.deadMu.Unlock()
	return nil
}

// writeRecovered appends to room's segments the part of batches (one
// node's journaled batches of the room, in order) not already there.
func (s *Service) writeRecovered(ctx context.Context, room string, batches []*Batch) error {
	if ended, err := s.log.ended(ctx, room); err != nil || ended {
		return err // disposed of: nothing to keep
	}
	for range maxChainSteps {
		head, err := s.log.Head(ctx, room)
		if err != nil {
			return err
		}
		if err := s.verifyStored(ctx, room, batches, head); err != nil {
			return err
		}
		rest, err := after(batches, head)
		if err != nil || len(rest) == 0 {
			return err
		}
		_, err = s.writeSegments(ctx, merge(rest))
		if errors.Is(err, ErrHistoryEnded) {
			return nil // disposed of while journaled: nothing to keep
		}
		if !errors.Is(err, objstore.ErrPrecondition) {
			return err
		}
		// Another node (or the fenced one, compacting late) wrote the
		// same messages first: read the head again.
	}
	return fmt.Errorf("room %s: recovery kept meeting other writers", room)
}

// verifyStored checks that the messages of batches up to head are the
// ones the room's segments hold there: a journal that disagrees with the
// record is a broken invariant, and it is kept (not deleted) for an
// operator to look at rather than dropped. The journal's messages need not
// follow one another: entries whose batches were all compacted are
// deleted, so a room's batches left in a journal can have the room's
// later ones (in other entries, compacted and gone) between them.
func (s *Service) verifyStored(ctx context.Context, room string, batches []*Batch, head Position) error {
	var want []Message
	for _, b := range batches {
		for _, m := range b.Msgs {
			if !head.Before(m.Pos()) {
				want = append(want, m)
			}
		}
	}
	slices.SortFunc(want, func(a, b Message) int {
		switch {
		case a.Pos().Before(b.Pos()):
			return -1
		case b.Pos().Before(a.Pos()):
			return 1
		}
		return 0
	})
	// One read per run of journaled messages that follow one another.
	for len(want) > 0 {
		n := 1
		for n < len(want) && want[n].Epoch == want[0].Epoch && want[n].Offset == want[n-1].Offset+1 {
			n++
		}
		run := want[:n]
		want = want[n:]
		from := run[0].Pos()
		from.Offset--
		got, _, err := s.log.Page(ctx, room, from, len(run))
		if err != nil {
			return err
		}
		for i, m := range run {
			if i >= len(got) || got[i].Pos() != m.Pos() {
				return fmt.Errorf("%w: room %s lacks e%d/%d, which the journal holds", errConflict, room, m.Epoch, m.Offset)
			}
			if got[i].ID != m.ID || got[i].From != m.From || !bytes.Equal(got[i].Body, m.Body) {
				return fmt.Errorf("%w: room %s at e%d/%d holds another message than the journal", errConflict, room, m.Epoch, m.Offset)
			}
		}
	}
	return nil
}

// errConflict: a journal and a room's segments disagree.
var errConflict = errors.New("messaging: journal conflicts with the room's record")

// after returns the messages and seals of batches that come after head,
// checking that they continue the chain without a gap.
func after(batches []*Batch, head Position) ([]*Batch, error) {
	var out []*Batch
	for _, b := range batches {
		if !head.Before(b.End()) {
			continue
		}
		if b.Seal == nil && b.Epoch == head.Epoch && b.First <= head.Offset {
			trimmed := *b
			trimmed.Msgs = b.Msgs[head.Offset-b.First+1:]
			trimmed.msgsJSON = nil
			trimmed.First = head.Offset + 1
			b = &trimmed
		}
		if len(out) == 0 && (b.Epoch != head.Epoch || b.First != head.Offset+1) {
			return nil, fmt.Errorf("journal continues at e%d/%d but the room's segments end at e%d/%d", b.Epoch, b.First, head.Epoch, head.Offset)
		}
		out = append(out, b)
	}
	return out, nil
}

// runSweeper looks, at start and every the sweep interval, for journals of
// incarnations that are gone (a node killed, or this node before a
// restart), and fences and recovers them, so that their acknowledged
// messages reach the rooms' segments even if nobody writes there again.
func (s *Service) runSweeper() {
	defer s.wg.Done()
	ctx, cancel := s.untilStop()
	defer cancel()
	for {
		s.sweep(ctx)
		select {
		case <-s.stop:
			return
		case <-time.After(s.timing.sweep):
		}
	}
}

func (s *Service) sweep(ctx context.Context) {
	known := s.knownJournals()
	listing, err := s.log.listJournals(ctx)
	if err != nil {
		return
	}
	s.forgetJournals(known, listing)
	for _, node := range listing.nodes {
		s.deadMu.Lock()
		done := s.recovered[node]
		s.deadMu.Unlock()
		if done || node == s.current().id || ctx.Err() != nil {
			continue
		}
		seqs := listing.seqs[node]
		if !s.isDead(node) {
			ended, onlyTombstone := s.ended(ctx, node, seqs)
			if onlyTombstone {
				// Only its tombstone is left (a clean shutdown's, or a
				// journal recovered before this process started): nothing
				// to fence or recover, and no further request for it.
				s.markRecovered(node)
				continue
			}
			if !ended {
				if gone, err := s.gone(ctx, node); err != nil || !gone {
					continue
				}
			}
		}
		if err := s.fence(ctx, node); err != nil {
			continue
		}
		if err := s.recoverJournal(ctx, node); err != nil {
			s.logger.Warn("recovering a fenced journal failed; will retry", "node", node, "error", err.Error())
		}
	}
}

// knownJournals is the incarnations this service remembers as fenced or
// recovered.
func (s *Service) knownJournals() []string {
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	out := make([]string, 0, len(s.dead)+len(s.recovered))
	for node := range s.dead {
		out = append(out, node)
	}
	for node := range s.recovered {
		if !s.dead[node] {
			out = append(out, node)
		}
	}
	return out
}

// forgetJournals drops from the fenced and recovered sets the incarnations
// of known (taken before listing was) that listing no longer shows: their
// journal is gone altogether (a local journal's files are deleted once
// recovered), so nothing is left to fence or recover, and the sets do not
// grow with every incarnation ever ended. One met again (a claim of a
// room names it) is fenced and recovered again: its files' absence is
// read as an empty journal. An incarnation fenced after the listing was
// taken is not in known, so it is kept. (An object journal keeps its
// tombstone, which every listing shows: its entry stays while it does.)
func (s *Service) forgetJournals(known []string, listing journalListing) {
	listed := make(map[string]bool, len(listing.nodes))
	for _, node := range listing.nodes {
		listed[node] = true
	}
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	for _, node := range known {
		if !listed[node] {
			delete(s.dead, node)
			delete(s.recovered, node)
		}
	}
}

func (s *Service) markRecovered(node string) {
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	s.recovered[node] = true
}

// ended reports whether node's journal, whose entries a listing showed at
// seqs, ends in a tombstone (so it needs no asking whether its node is
// still there), and whether that tombstone is all the listing showed.
// Nothing can land below a tombstone once a listing shows it alone: a
// node never deletes its newest entry, so the journal was recovered (or
// never written) below it, and the node's next write meets it; entries
// above a tombstone on a number compaction had freed were written before
// it, and a listing shows them with it.
func (s *Service) ended(ctx context.Context, node string, seqs []int64) (ended, onlyTombstone bool) {
	if s.log.local != nil && s.log.local.isFenced(node) {
		s.markDead(node)
		return true, false
	}
	if len(seqs) == 0 {
		return false, false
	}
	e, err := s.log.readJournal(ctx, node, seqs[len(seqs)-1])
	if err != nil || e.FencedBy == "" {
		return false, false
	}
	s.markDead(node)
	// (A journal with local files as well is recovered as usual.)
	return true, len(seqs) == 1 && (s.log.local == nil || !s.log.local.has(node))
}

// gone reports whether no node listens for inc's forwarding topic, asked
// twice a moment apart (a node reconnecting to Redis resubscribes).
func (s *Service) gone(ctx context.Context, inc string) (bool, error) {
	ping := []byte(`{"op":"ping"}`)
	for try := range 2 {
		n, err := s.broker.Send(ctx, ownerTopic(inc), ping)
		if err != nil || n > 0 {
			return false, err
		}
		if try == 0 {
			select {
			case <-time.After(goneRecheck):
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
	}
	return true, nil
}

// goneRecheck is how long to wait before asking again whether a node is gone.
const goneRecheck = 300 * time.Millisecond

// retire, on Close, compacts what this node owns, then fences its own
// journal and deletes it, so that the next owner of its rooms finds it
// ended and has nothing to recover.
func (s *Service) retire() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	inc := s.current()
	err := s.compact(ctx, inc, true)
	s.incMu.Lock()
	all := []*incarnation{inc, s.inc} // s.inc is new if compaction found inc fenced
	for _, i := range all {
		i.ended = true
	}
	s.incMu.Unlock()
	for _, i := range all {
		i.stopListening() // this process no longer answers for its rooms
		if s.log.local != nil {
			s.log.local.close(i.id)
		}
	}
	if err != nil || inc.lastSeq.Load() == 0 {
		// Leave the journal as it is: whoever next needs one of its rooms,
		// or a sweep, fences and recovers it.
		return
	}
	if err := s.fence(ctx, inc.id); err == nil {
		if err := s.recoverJournal(ctx, inc.id); err != nil {
			s.logger.Warn("ending this node's journal on close failed; another node will recover it", "error", err.Error())
		}
	}
}
