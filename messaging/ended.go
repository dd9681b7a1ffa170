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
//
// A write that landed is never reported as failed: when the check after
// it (or the deletion it calls for) fails, putInRoom returns an
// *uncheckedWrite, which names what landed; the caller counts the object
// as written and owes the check (Service.owe). Reporting it failed made
// compaction write the same place again, meet its own object, and take it
// for a fence.
func (l *Log) putInRoom(ctx context.Context, room, key string, data []byte) error {
	if ended, err := l.ended(ctx, room); err != nil || ended {
		return errors.Join(err, endedErr(ended))
	}
	info, err := l.store.Put(ctx, key, bytes.NewReader(data), int64(len(data)),
		objstore.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if err != nil {
		return err
	}
	if err := l.checkEnded(ctx, room, key, info.VersionID); err != nil {
		if errors.Is(err, ErrHistoryEnded) {
			return err
		}
		return &uncheckedWrite{room: room, key: key, version: info.VersionID, err: err}
	}
	return nil
}

// checkEnded is the check after a write of key (version) into room: if
// the room's history has ended, the object is deleted and ErrHistoryEnded
// returned. Any other error: the check is still owed.
func (l *Log) checkEnded(ctx context.Context, room, key, version string) error {
	ended, err := l.ended(ctx, room)
	if err != nil || !ended {
		return err
	}
	if err := l.store.Delete(ctx, key, version); err != nil {
		return err
	}
	return ErrHistoryEnded
}

// uncheckedWrite: an object of a room landed, but the check after it
// (whether the room's history ended meanwhile) could not be made.
type uncheckedWrite struct {
	room, key, version string
	err                error
}

func (e *uncheckedWrite) Error() string {
	return fmt.Sprintf("messaging: %s was written, but whether its history has ended could not be read: %v", e.key, e.err)
}

func (e *uncheckedWrite) Unwrap() error { return e.err }

// owe records the check after a write that landed unchecked; compaction
// makes it (settleOwed) until it is answered.
func (s *Service) owe(w *uncheckedWrite) {
	s.owedMu.Lock()
	defer s.owedMu.Unlock()
	if s.owed == nil {
		s.owed = map[string]*uncheckedWrite{}
	}
	s.owed[w.key] = w
}

// settleOwed makes the checks owed after writes that landed unchecked: a
// write into a room whose history has ended meanwhile (a disposal's marker
// that came between the check before the write and the write, whose
// listing may have missed the object) is deleted. An entry goes once its
// check is answered, so the map holds only the writes of a store outage.
// (A process that stops first leaves its owed checks unmade, as one killed
// between a write and its check does.)
func (s *Service) settleOwed(ctx context.Context) error {
	s.owedMu.Lock()
	owed := make([]*uncheckedWrite, 0, len(s.owed))
	for _, w := range s.owed {
		owed = append(owed, w)
	}
	s.owedMu.Unlock()
	var errs []error
	for _, w := range owed {
		err := s.log.checkEnded(ctx, w.room, w.key, w.version)
		if err != nil && !errors.Is(err, ErrHistoryEnded) {
			errs = append(errs, fmt.Errorf("%s: the check whether its history ended: %w", w.key, err))
			continue
		}
		s.owedMu.Lock()
		if s.owed[w.key] == w {
			delete(s.owed, w.key)
		}
		s.owedMu.Unlock()
	}
	return errors.Join(errs...)
}

func endedErr(ended bool) error {
	if ended {
		return ErrHistoryEnded
	}
	return nil
}
