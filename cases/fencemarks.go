package cases

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// Fence markers. Each node watches the cases its open connections are to
// for a disposal fence they were not told of (package web,
// fencewatch.go). Checking each case's record is one request per case;
// instead, a fenced case also has a marker, fences/<case> (a sealed empty
// record: no name, nothing of the case but its id), and a node lists that
// one prefix per pass and checks (CheckFence) only the cases whose marker
// appeared, changed or went.
//
// The record's fence stays the authority: every change, upload and post
// is refused by the record, never by the marker. The marker is a hint,
// kept so that it errs towards being there:
//
//   - BeginDisposal writes it (anew: a new ETag, so a watch that saw an
//     earlier one looks again) before the fence, and refuses to fence when
//     that write fails; after the fence (and its announcement) it checks
//     the marker is still there (a lift by another plan racing it may have
//     deleted it) and writes it again if not.
//   - EndDisposal and PauseDisposal delete it only after the lift, and
//     only the marker they read before it (that stored version and the
//     older ones, never one written since: another plan fencing the case
//     meanwhile writes its marker anew first); then they read the record
//     again and make sure the marker is there if the case was fenced
//     again meanwhile.
//   - Retention, once the case record is destroyed (after the record),
//     deletes every stored version of it and writes it anew
//     (GoneFenceMark): a watch that never listed the fence's marker (the
//     case fenced and destroyed between two of its passes) sees a marker
//     appear and finds the case gone. ClearStaleFences, on every plan's
//     apply, deletes that one once GoneFenceAge old, and markers left
//     without a fence once StaleFenceAge old.
//
// A node dying between the marker's write and the fence leaves a marker
// and no fence: every node watching the case checks its record once a
// pass (a Stat; it finds no fence) until the disposal is resumed (which
// fences it) or ClearStaleFences deletes the marker. One dying between a
// lift and the marker's delete leaves the same, as does another plan's
// refused fence (its marker written anew, then the fence refused) racing
// a lift; and a watch that saw the fence does not learn of the lift from
// the marker (the connections' own fallback check does); a fence set
// again writes a new marker, so it is seen.

const fenceMarkPrefix = "fences/"

// FenceMarkKey is where case id's fence marker is stored (retention
// deletes every version of it with the case).
func FenceMarkKey(id string) string { return fenceMarkPrefix + id }

// fenceMark is a marker's content: nothing.
type fenceMark struct{}

// writeFenceMark writes case id's marker anew (a new ETag even when one
// is there: sealed records differ with every write).
func (s *Service) writeFenceMark(ctx context.Context, id string) error {
	key := FenceMarkKey(id)
	for range 3 {
		_, err := s.meta.Create(ctx, key, fenceMark{})
		if !errors.Is(err, metastore.ErrExists) {
			return err
		}
		etag, err := s.meta.Stat(ctx, key)
		if errors.Is(err, metastore.ErrNotFound) {
			continue // deleted meanwhile: create it
		}
		if err != nil {
			return err
		}
		_, err = s.meta.Replace(ctx, key, fenceMark{}, etag)
		if !errors.Is(err, metastore.ErrConflict) && !errors.Is(err, metastore.ErrNotFound) {
			return err
		}
		// Written anew or deleted meanwhile: again.
	}
	return errors.New("fence marker: deleted and written again concurrently; try again")
}

// keepFenceMark makes sure a case fenced has its marker, after the fence:
// a lift by another plan that raced this fence may have deleted it.
func (s *Service) keepFenceMark(ctx context.Context, id string) error {
	_, err := s.meta.Stat(ctx, FenceMarkKey(id))
	if errors.Is(err, metastore.ErrNotFound) {
		return s.writeFenceMark(ctx, id)
	}
	return err
}

// fenceMarkETag is the ETag of case id's marker now, "" when there is
// none or it cannot be read (then dropFenceMark deletes nothing: a marker
// left costs a check a pass until ClearStaleFences deletes it).
func (s *Service) fenceMarkETag(ctx context.Context, id string) string {
	etag, err := s.meta.Stat(ctx, FenceMarkKey(id))
	if err != nil {
		return ""
	}
	return etag
}

// dropFenceMark deletes case id's marker after its fence was lifted, if
// it is still the one read before the lift (seen, its ETag): the stored
// version with that ETag and every older one, never a version written
// since (by another plan fencing the case meanwhile, which writes its
// marker anew before its fence). Then it reads the record again and, if
// the case is fenced again, makes sure its marker is there (written back,
// a few tries). A failure is logged, not returned: the fence is lifted,
// and a marker left behind costs a check a pass until ClearStaleFences
// deletes it; a fence left without its marker (ERROR) is seen by the
// watches only at the connections' fallback check.
func (s *Service) dropFenceMark(ctx context.Context, id, seen string) {
	found, err := dropVersionsThrough(ctx, s.meta.Objects(), FenceMarkKey(id), seen)
	if err != nil {
		s.logger().WarnContext(ctx, "disposal fence marker not deleted after the fence was lifted", "case", id, "error", err)
		return
	}
	if !found {
		return // written anew or deleted since: not the marker of this fence
	}
	for range 3 {
		var c Case
		_, err = s.meta.Get(ctx, caseKey(id), &c)
		switch {
		case errors.Is(err, metastore.ErrNotFound):
			return
		case err != nil:
			// Cannot tell: keep it (a marker without a fence is harmless).
			err = s.keepFenceMark(ctx, id)
		case c.Disposing == nil:
			return
		default:
			err = s.keepFenceMark(ctx, id)
		}
		if err == nil {
			return
		}
	}
	s.logger().ErrorContext(ctx, "disposal fence marker not written back for a case fenced again", "case", id, "error", err)
}

// FenceMarks calls fn with every case that has a fence marker and the
// marker's ETag (it changes with every write): one listing of the
// markers, one store request while fewer than a listing page (1000) are
// stored, whatever the number of cases.
func (s *Service) FenceMarks(ctx context.Context, fn func(caseID, etag string)) error {
	return s.meta.Objects().List(ctx, fenceMarkPrefix, func(info objstore.Info) error {
		if id := strings.TrimPrefix(info.Key, fenceMarkPrefix); ids.Valid("c", id) {
			fn(id, info.ETag)
		}
		return nil
	})
}

// StaleFenceAge is how old a fence marker without a fence must be before
// ClearStaleFences deletes it: a disposal writes its marker just before
// its fence, so a younger one may be of a fence being set.
const StaleFenceAge = 10 * time.Minute

// GoneFenceAge is how old the marker of a case that is gone (written anew
// by GoneFenceMark when the case was destroyed) must be before
// ClearStaleFences deletes it: long enough for every node's watch to have
// listed it (a pass every 2 s, longer while passes are slow), and past
// the connections' own fallback check (at most 66 s) by then anyway.
const GoneFenceAge = 2 * time.Minute

// ClearStaleFences deletes the fence markers left without a fence (a node
// died between a marker's write and its fence, or between a lift and the
// marker's delete) once olderThan old (StaleFenceAge), and the markers of
// cases that are gone once GoneFenceAge old too (if olderThan is less,
// that): every stored version of the marker of a case that is gone, the
// marker (its latest version) of one not fenced; a case fenced again
// meanwhile has it written back. Ages are measured from the store's
// Modified time by this node's clock. A marker whose case cannot be read
// is logged and left to the next call: a hint must not stop the apply
// that calls this. It reports how many it deleted, and the error of a
// listing that failed.
func (s *Service) ClearStaleFences(ctx context.Context, olderThan time.Duration) (int, error) {
	type mark struct {
		id, etag string
		modified time.Time
	}
	var marks []mark
	if err := s.meta.Objects().List(ctx, fenceMarkPrefix, func(info objstore.Info) error {
		if id := strings.TrimPrefix(info.Key, fenceMarkPrefix); ids.Valid("c", id) {
			marks = append(marks, mark{id, info.ETag, info.Modified})
		}
		return nil
	}); err != nil {
		return 0, err
	}
	goneAge := min(olderThan, GoneFenceAge)
	cleared := 0
	for _, m := range marks {
		age := time.Since(m.modified)
		if age < goneAge {
			continue
		}
		var c Case
		_, err := s.meta.Get(ctx, caseKey(m.id), &c)
		switch {
		case errors.Is(err, metastore.ErrNotFound):
			if err := s.deleteFenceMark(ctx, m.id); err != nil {
				s.logger().WarnContext(ctx, "stale disposal fence marker not deleted", "case", m.id, "error", err)
				continue
			}
			cleared++
		case err != nil:
			s.logger().WarnContext(ctx, "stale disposal fence marker not deleted", "case", m.id, "error", err)
		case c.Disposing == nil && age >= olderThan:
			s.dropFenceMark(ctx, m.id, m.etag)
			cleared++
		}
	}
	return cleared, nil
}

// GoneFenceMark replaces case id's marker, once its case record is
// destroyed (retention), by a new one: every stored version deleted, then
// a marker written anew. A watch that never listed the fence's marker (the
// case fenced and destroyed between two of its passes) sees a marker
// appear, checks the record, finds it gone and kicks the case's
// connections; ClearStaleFences deletes it (every version) once
// GoneFenceAge old.
func (s *Service) GoneFenceMark(ctx context.Context, id string) error {
	if err := s.deleteFenceMark(ctx, id); err != nil {
		return err
	}
	return s.writeFenceMark(ctx, id)
}

// deleteFenceMark deletes every stored version of case id's marker.
func (s *Service) deleteFenceMark(ctx context.Context, id string) error {
	return deleteEveryVersion(ctx, s.meta.Objects(), FenceMarkKey(id))
}
