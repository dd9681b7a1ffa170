package messaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// maxBatchObject bounds what a batch read takes in.
const maxBatchObject = 64 << 20

// maxChainSteps bounds any walk along a room's chain of segments.
const maxChainSteps = 100000

// Log is the durable, ordered record of every room in the object store:
// each room's chain of segments, each node's journal, and the claims that
// say which node owns a room (see the package doc).
type Log struct {
	store objstore.Store
	now   func() time.Time
	// maxObject bounds one object read (maxBatchObject; tests lower it).
	maxObject int64
	// local, when set, keeps this process's journals as files (nodelog.go).
	local *localJournal
	// released: Close gave up local's lock (a Log from NewLocalLog).
	released sync.Once
}

// NewLog returns the room log on store.
func NewLog(store objstore.Store) *Log {
	return &Log{store: store, now: time.Now, maxObject: maxBatchObject}
}

// NewLocalLog returns the room log on store with the journals of this
// process's nodes kept as append-only files in journalDir (nodelog.go):
// for the local-directory store, which one process uses. Journals that
// are objects (written before, or by nodes without one) are still read,
// fenced and recovered as objects.
func NewLocalLog(store objstore.Store, journalDir string) (*Log, error) {
	j, err := openLocalJournal(journalDir)
	if err != nil {
		return nil, err
	}
	l := NewLog(store)
	l.local = j
	return l, nil
}

// Close releases what NewLocalLog took: once every Log of this process
// on its journal directory is closed, the directory's lock is let go (a
// later NewLocalLog in this process takes it afresh, as a new process
// would). Close the Services using l first. Without a local journal it
// does nothing.
func (l *Log) Close() {
	if l.local != nil {
		l.released.Do(l.local.release)
	}
}

// errObjectTooLarge: a stored object of the log is larger than any the
// log writes, so it is refused whole rather than read in part.
var errObjectTooLarge = errors.New("stored object is larger than the log's limit")

// StoragePrefix is the object-key prefix under which the batches of every
// room whose id starts with roomIDPrefix are stored: what retention lists,
// holds and deletes to dispose of a case's message history.
func StoragePrefix(roomIDPrefix string) string { return "rooms/" + roomIDPrefix }

func batchKey(room string, epoch, first int64) string {
	return fmt.Sprintf("rooms/%s/e%010d/%020d", room, epoch, first)
}

func epochPrefix(room string, epoch int64) string {
	return fmt.Sprintf("rooms/%s/e%010d/", room, epoch)
}

// errNoBatch: nothing at that position yet.
var errNoBatch = errors.New("no batch at that position")

// readObject reads a whole stored object of the log; errNoBatch when there
// is none, errObjectTooLarge (never a truncated read) when it is over the
// limit.
func (l *Log) readObject(ctx context.Context, key string) ([]byte, error) {
	rc, _, err := l.store.Get(ctx, key, objstore.GetOptions{})
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, errNoBatch
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, l.maxObject+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > l.maxObject {
		return nil, fmt.Errorf("%s: %w (%d bytes)", key, errObjectTooLarge, l.maxObject)
	}
	return data, nil
}

// ReadAt returns the batch that starts exactly at (epoch, first).
func (l *Log) ReadAt(ctx context.Context, room string, epoch, first int64) (*Batch, error) {
	data, err := l.readObject(ctx, batchKey(room, epoch, first))
	if err != nil {
		return nil, err
	}
	b, err := DecodeBatch(data)
	if err != nil {
		return nil, err
	}
	if b.Room != room || b.Epoch != epoch || b.First != first {
		return nil, fmt.Errorf("batch %s: names another place (%s e%d/%d)", batchKey(room, epoch, first), b.Room, b.Epoch, b.First)
	}
	return b, nil
}

// appendSegment writes b as the next segment of its room: a create-only
// write at (b.Epoch, b.First). Only a room's owner (or a node recovering a
// fenced owner's journal) writes segments, so ErrPrecondition means someone
// else already wrote that place.
func (l *Log) appendSegment(ctx context.Context, b *Batch, parts [][]byte) error {
	data, err := b.encodeParts(parts)
	if err != nil {
		return err
	}
	return l.putInRoom(ctx, b.Room, batchKey(b.Room, b.Epoch, b.First), data)
}

// readNext returns the segment holding the message (or seal) right after
// pos. pos need not be a segment boundary: a hub's position is the end of
// the last batch it delivered, and compaction merges batches into larger
// segments, so when no segment starts right after pos the epoch is listed
// once to find the one that holds it. errNoBatch: nothing there yet.
func (l *Log) readNext(ctx context.Context, room string, pos Position) (*Batch, error) {
	if pos.Epoch == 0 {
		pos = Position{Epoch: 1}
	}
	b, err := l.ReadAt(ctx, room, pos.Epoch, pos.Offset+1)
	if !errors.Is(err, errNoBatch) {
		return b, err
	}
	start, err := l.batchStartFor(ctx, room, pos)
	if err != nil {
		return nil, err
	}
	if start < 0 || start == pos.Offset+1 {
		return nil, errNoBatch
	}
	b, err = l.ReadAt(ctx, room, pos.Epoch, start)
	if err != nil {
		return nil, err
	}
	if !pos.Before(b.End()) {
		return nil, errNoBatch // the last segment ends at pos: nothing after it yet
	}
	return b, nil
}

// Head finds the position of the last message of room by listing its
// batches (used when no faster hint is at hand). It follows seals into
// later epochs.
func (l *Log) Head(ctx context.Context, room string) (Position, error) {
	pos := Position{Epoch: 1}
	for {
		last := int64(-1)
		err := l.store.List(ctx, epochPrefix(room, pos.Epoch), func(info objstore.Info) error {
			n, err := strconv.ParseInt(info.Key[strings.LastIndexByte(info.Key, '/')+1:], 10, 64)
			if err == nil && n > last {
				last = n
			}
			return nil
		})
		if err != nil {
			return Position{}, err
		}
		if last < 0 {
			return pos, nil
		}
		b, err := l.ReadAt(ctx, room, pos.Epoch, last)
		if err != nil {
			return Position{}, err
		}
		if b.Seal == nil {
			return b.End(), nil
		}
		pos = b.End()
	}
}

// FollowFrom returns the segments after pos, across seals, until the end
// or until limit messages. The first may begin before pos (when pos falls
// inside a segment); callers skip what they have.
func (l *Log) FollowFrom(ctx context.Context, room string, pos Position, limit int) ([]*Batch, error) {
	if pos.Epoch == 0 {
		pos = Position{Epoch: 1}
	}
	var out []*Batch
	n := 0
	for n < limit {
		b, err := l.readNext(ctx, room, pos)
		if errors.Is(err, errNoBatch) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		n += len(b.Msgs) + 1
		pos = b.End()
	}
	return out, nil
}

// Page returns up to limit messages of room after pos, in order, for
// history paging, and the position of the last one returned. after may be
// anywhere (not only a batch boundary): the batch holding the next message
// is found by listing the epoch once; from there batches are read by name.
func (l *Log) Page(ctx context.Context, room string, after Position, limit int) ([]Message, Position, error) {
	out, pos, _, err := l.page(ctx, room, after, limit, math.MaxInt, false)
	return out, pos, err
}

// page is Page that also stops before a message whose body would take
// those it returns past budget bytes (full is then true), though never
// before the first message of the caller's page (had: the caller has
// some already).
func (l *Log) page(ctx context.Context, room string, after Position, limit, budget int, had bool) (out []Message, pos Position, full bool, err error) {
	if after.Epoch == 0 {
		after = Position{Epoch: 1}
	}
	start, err := l.batchStartFor(ctx, room, after)
	if err != nil || start < 0 {
		return nil, after, false, err
	}
	pos = after
	cursor := Position{Epoch: after.Epoch, Offset: start - 1}
	for len(out) < limit {
		b, err := l.ReadAt(ctx, room, cursor.Epoch, cursor.Offset+1)
		if errors.Is(err, errNoBatch) {
			break
		}
		if err != nil {
			return nil, pos, false, err
		}
		for _, m := range b.Msgs {
			if pos.Before(m.Pos()) && len(out) < limit {
				if (had || len(out) > 0) && len(m.Body) > budget {
					return out, pos, true, nil
				}
				budget -= len(m.Body)
				out = append(out, m)
				pos = m.Pos()
			}
		}
		if b.Seal != nil {
			pos = b.End() // nothing more in this epoch
		}
		cursor = b.End()
	}
	return out, pos, false, nil
}

// batchStartFor returns the first offset of the segment that holds the
// message after pos, or of the last segment before it, or -1 if there is
// none yet.
//
// A segment holds at most maxSegmentMessages messages, so the one that
// holds the message after pos starts less than that many before it: the
// listing begins there (S3's StartAfter) and stops at the first segment
// past pos, whatever the length of the epoch. A room's epoch gathers a
// segment every few seconds it is in use, thousands in a long session,
// and every page of history and every gap a node fills from the store
// lists it. Only when that window holds no segment is the whole epoch
// listed, as before.
func (l *Log) batchStartFor(ctx context.Context, room string, pos Position) (int64, error) {
	target := pos.Offset + 1
	from := ""
	if first := target - maxSegmentMessages; first >= 1 {
		from = batchKey(room, pos.Epoch, first)
	}
	start, err := l.lastStartUpTo(ctx, room, pos.Epoch, from, target)
	if err != nil || start >= 0 || from == "" {
		return start, err
	}
	return l.lastStartUpTo(ctx, room, pos.Epoch, "", target)
}

// errListDone stops a listing that has found what it looked for.
var errListDone = errors.New("listing done")

// lastStartUpTo lists room's segments of epoch after the key from and
// returns the greatest first offset up to target, or -1.
func (l *Log) lastStartUpTo(ctx context.Context, room string, epoch int64, from string, target int64) (int64, error) {
	start := int64(-1)
	err := objstore.ListAfter(ctx, l.store, epochPrefix(room, epoch), from, func(info objstore.Info) error {
		n, err := strconv.ParseInt(info.Key[strings.LastIndexByte(info.Key, '/')+1:], 10, 64)
		switch {
		case err != nil:
			return nil
		case n > target:
			return errListDone // keys list in offset order (zero-padded)
		case n > start:
			start = n
		}
		return nil
	})
	if errors.Is(err, errListDone) {
		err = nil
	}
	return start, err
}
