package messaging

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// TestEndedRoomIsNotTakenUpAgain: a room its owner forgot while idle (its
// ownership entry dropped once everything was compacted: compact,
// forgettable) and whose history then ended is not taken up again when it
// is next used — neither at its segments' head, nor at {1,0} as if new once
// they were deleted and its claim was left (a disposal stopped part-way) —
// on the owner or on a node forwarding to it: the publish is refused with
// ErrHistoryEnded, nothing is journaled, and no object appears under the
// room's prefix. (Found in review: the owner adopted its claim again and
// acknowledged the post from its journal, at {1,1} once the segments were
// gone.)
func TestEndedRoomIsNotTakenUpAgain(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			broker := NewMemory()
			quick := timing{probe: 20 * time.Millisecond, compact: 20 * time.Millisecond, sweep: time.Minute,
				idle: 50 * time.Millisecond, forget: 50 * time.Millisecond}
			owner := newService(NewLog(store), broker, Options{}, quick)
			defer owner.Close()
			other := newService(NewLog(store), broker, Options{}, neverCompact)
			defer other.Close()
			tag := time.Now().UnixNano()
			n := 0
			for _, disposal := range []struct {
				name   string
				delete func(key string) bool // which of the room's objects the disposal deleted
			}{
				{"marker only", func(string) bool { return false }},
				{"segments deleted, claim left", func(key string) bool { return !strings.Contains(key, "/owner/") }},
				{"all deleted", func(string) bool { return true }},
			} {
				for _, via := range []string{"owner", "forwarded"} {
					t.Run(disposal.name+"/"+via, func(t *testing.T) {
						n++
						group := fmt.Sprintf("c_endidle%d_%d", tag, n)
						room := group + "/joint"
						publishN(t, owner, room, "m", 3)
						if !pollUntil(func() bool { return !holds(owner, room) && len(versionsUnder(t, store, room)) > 1 }) {
							t.Fatal("the idle room was never compacted and forgotten")
						}
						if err := EndHistory(t.Context(), store, group); err != nil {
							t.Fatal(err)
						}
						var gone []objstore.Info
						for _, v := range versionsUnder(t, store, room) {
							if disposal.delete(v.Key) {
								gone = append(gone, v.Info)
							}
						}
						if err := errors.Join(store.DeleteVersions(t.Context(), gone)...); err != nil {
							t.Fatal(err)
						}
						before := versionKeys(versionsUnder(t, store, room))
						seqs := []int64{owner.current().lastSeq.Load(), other.current().lastSeq.Load()}

						svc := owner
						if via == "forwarded" {
							svc = other
						}
						ctx, cancel := context.WithTimeout(t.Context(), forwardTimeout+5*time.Second)
						defer cancel()
						m, err := svc.Publish(ctx, room, Message{ID: "late", From: "u", Body: []byte("after the end")})
						if !errors.Is(err, ErrHistoryEnded) {
							t.Errorf("publish to the ended room: %v at e%d/%d, want ErrHistoryEnded", err, m.Epoch, m.Offset)
						}
						for i, s := range []*Service{owner, other} {
							if holds(s, room) {
								t.Errorf("node %d took the ended room up again", i)
							}
							if seq := s.current().lastSeq.Load(); seq != seqs[i] {
								t.Errorf("node %d journaled %d entries for the ended room", i, seq-seqs[i])
							}
						}
						// Whatever the owner journaled (before the fix) is
						// compacted, or dropped, before the room is looked at.
						if !pollUntil(func() bool { return tailOf(owner, room) == 0 }) {
							t.Fatal("the owner's tail of the room was never compacted")
						}
						if after := versionKeys(versionsUnder(t, store, room)); !slices.Equal(after, before) {
							t.Errorf("the ended room's objects went from %v to %v", before, after)
						}
					})
				}
			}
		})
	}
}

// holds reports whether s has an ownership entry for room.
func holds(s *Service, room string) bool {
	s.incMu.Lock()
	defer s.incMu.Unlock()
	return s.inc.owned[room] != nil
}

// tailOf is how many batches of room s holds journaled and not compacted.
func tailOf(s *Service, room string) int {
	s.incMu.Lock()
	defer s.incMu.Unlock()
	if or := s.inc.owned[room]; or != nil {
		return len(or.tail)
	}
	return 0
}

// versionsUnder lists every stored version (and delete marker) under
// room's prefix.
func versionsUnder(t *testing.T, store objstore.Store, room string) []objstore.Version {
	t.Helper()
	var out []objstore.Version
	if err := store.VersionsUnder(t.Context(), StoragePrefix(room+"/"), func(v objstore.Version) error {
		out = append(out, v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func versionKeys(vs []objstore.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%s@%s (marker %v)", v.Key, v.VersionID, v.DeleteMarker)
	}
	return out
}
