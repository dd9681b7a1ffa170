package messaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-mediation/parley/objstore"
)

// A group of rooms (the rooms whose ids share a first path element: one
// case's rooms) can have its history ended for good, when retention
// disposes of it. Messages of those rooms may still sit in a node's
// journal, to be compacted or recovered into the rooms' objects after the
// disposal deleted them; so disposal first writes a marker, and every
// write into a room's objects checks for it before and after: either the
// disposal's listing, made after its marker, sees the object, or the
// writer's second check sees the marker and deletes what it wrote.

// ErrHistoryEnded: the room's history was disposed of; nothing more is
// written to it.
var ErrHistoryEnded = errors.New("messaging: this room's history has been disposed of")

const endedRoot = "rooms-ended/"

func endedKey(group string) string { return endedRoot + group }

// roomGroup is the first path element of a room id.
func roomGroup(room string) string {
	g, _, _ := strings.Cut(room, "/")
	return g
}

// EndHistory marks the history of every room whose id starts with
// group + "/" as ended; call it before deleting the rooms' objects.
func EndHistory(ctx context.Context, store objstore.Store, group string) error {
	if group == "" || strings.Contains(group, "/") {
		return fmt.Errorf("messaging: end history: bad room group %q", group)
	}
	_, err := store.Put(ctx, endedKey(group), bytes.NewReader(nil), 0, objstore.PutOptions{IfNoneMatch: true})
	if errors.Is(err, objstore.ErrPrecondition) {
		return nil
	}
	return err
}

func (l *Log) ended(ctx context.Context, room string) (bool, error) {
	_, err := l.store.Stat(ctx, endedKey(roomGroup(room)))
	if errors.Is(err, objstore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// putInRoom writes a create-only object of room's unless its history has
// ended (checked before and after; see above).
func (l *Log) putInRoom(ctx context.Context, room, key string, data []byte) error {
	if ended, err := l.ended(ctx, room); err != nil || ended {
		return errors.Join(err, endedErr(ended))
	}
	info, err := l.store.Put(ctx, key, bytes.NewReader(data), int64(len(data)),
		objstore.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if err != nil {
		return err
	}
	ended, err := l.ended(ctx, room)
	if err != nil {
		return err
	}
	if ended {
		if err := l.store.Delete(ctx, key, info.VersionID); err != nil {
			return err
		}
		return ErrHistoryEnded
	}
	return nil
}

func endedErr(ended bool) error {
	if ended {
		return ErrHistoryEnded
	}
	return nil
}
