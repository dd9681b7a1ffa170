package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// maxBatchObject bounds what a batch read takes in.
const maxBatchObject = 64 << 20

// maxCommitRetries bounds how many batches of other nodes a commit may
// step over before giving up.
const maxCommitRetries = 100000

// Log is the durable, ordered record of every room: batch objects in the
// object store (see the package doc).
type Log struct {
	store objstore.Store
	now   func() time.Time
}

// NewLog returns the room log on store.
func NewLog(store objstore.Store) *Log { return &Log{store: store, now: time.Now} }

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

// ReadAt returns the batch that starts exactly at (epoch, first).
func (l *Log) ReadAt(ctx context.Context, room string, epoch, first int64) (*Batch, error) {
	rc, _, err := l.store.Get(ctx, batchKey(room, epoch, first), objstore.GetOptions{})
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, errNoBatch
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxBatchObject))
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

// Commit makes msgs durable as the next batch of room after *pos (the
// position of the last message this node knows of, updated in place). It
// assigns epochs, offsets and times to msgs. If other nodes committed
// first, their batches are stepped over; if the epoch was sealed, the
// messages go into the next one.
func (l *Log) Commit(ctx context.Context, room string, pos *Position, msgs []Message) (*Batch, error) {
	if pos.Epoch == 0 {
		*pos = Position{Epoch: 1}
	}
	for range maxCommitRetries {
		b := &Batch{Room: room, Epoch: pos.Epoch, First: pos.Offset + 1, Msgs: msgs}
		at := l.now().UnixMilli()
		for i := range b.Msgs {
			b.Msgs[i].Epoch, b.Msgs[i].Offset, b.Msgs[i].At = b.Epoch, b.First+int64(i), at
		}
		err := l.put(ctx, b)
		if err == nil {
			*pos = b.End()
			return b, nil
		}
		if !errors.Is(err, objstore.ErrPrecondition) {
			return nil, err
		}
		if err := l.stepOver(ctx, room, pos); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("room %s: could not commit after %d attempts", room, maxCommitRetries)
}

// Seal ends the current epoch of room (after *pos) with reason, fencing
// every node, and returns the seal batch; *pos moves to the new epoch.
func (l *Log) Seal(ctx context.Context, room string, pos *Position, reason string) (*Batch, error) {
	if pos.Epoch == 0 {
		*pos = Position{Epoch: 1}
	}
	for range maxCommitRetries {
		b := &Batch{Room: room, Epoch: pos.Epoch, First: pos.Offset + 1, Seal: &Seal{Next: pos.Epoch + 1, Reason: reason}}
		err := l.put(ctx, b)
		if err == nil {
			*pos = b.End()
			return b, nil
		}
		if !errors.Is(err, objstore.ErrPrecondition) {
			return nil, err
		}
		if err := l.stepOver(ctx, room, pos); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("room %s: could not seal after %d attempts", room, maxCommitRetries)
}

func (l *Log) put(ctx context.Context, b *Batch) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	_, err = l.store.Put(ctx, batchKey(b.Room, b.Epoch, b.First), bytes.NewReader(data), int64(len(data)),
		objstore.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	return err
}

// stepOver advances *pos past the batch another node wrote at *pos+1.
func (l *Log) stepOver(ctx context.Context, room string, pos *Position) error {
	other, err := l.ReadAt(ctx, room, pos.Epoch, pos.Offset+1)
	if err != nil {
		return fmt.Errorf("room %s: lost a commit race but cannot read the winner: %w", room, err)
	}
	*pos = other.End()
	return nil
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

// FollowFrom returns the batches after pos, reading forward by name from the
// batch that starts right after pos, across seals, until the end or until
// limit messages. pos must be a batch boundary (the End of a batch, or the
// zero Position).
func (l *Log) FollowFrom(ctx context.Context, room string, pos Position, limit int) ([]*Batch, error) {
	if pos.Epoch == 0 {
		pos = Position{Epoch: 1}
	}
	var out []*Batch
	n := 0
	for n < limit {
		b, err := l.ReadAt(ctx, room, pos.Epoch, pos.Offset+1)
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
	if after.Epoch == 0 {
		after = Position{Epoch: 1}
	}
	start, err := l.batchStartFor(ctx, room, after)
	if err != nil || start < 0 {
		return nil, after, err
	}
	var out []Message
	pos := after
	cursor := Position{Epoch: after.Epoch, Offset: start - 1}
	for len(out) < limit {
		b, err := l.ReadAt(ctx, room, cursor.Epoch, cursor.Offset+1)
		if errors.Is(err, errNoBatch) {
			break
		}
		if err != nil {
			return nil, pos, err
		}
		for _, m := range b.Msgs {
			if pos.Before(m.Pos()) && len(out) < limit {
				out = append(out, m)
				pos = m.Pos()
			}
		}
		if b.Seal != nil {
			pos = b.End() // nothing more in this epoch
		}
		cursor = b.End()
	}
	return out, pos, nil
}

// batchStartFor returns the first offset of the batch that holds the
// message after pos, or -1 if there is none yet.
func (l *Log) batchStartFor(ctx context.Context, room string, pos Position) (int64, error) {
	start := int64(-1)
	err := l.store.List(ctx, epochPrefix(room, pos.Epoch), func(info objstore.Info) error {
		n, err := strconv.ParseInt(info.Key[strings.LastIndexByte(info.Key, '/')+1:], 10, 64)
		if err == nil && n <= pos.Offset+1 && n > start {
			start = n
		}
		return nil
	})
	return start, err
}
