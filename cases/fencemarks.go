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
//     that write fails; after the fence it checks the marker is still
//     there (a lift by another plan racing it may have deleted it) and
//     writes it again if not.
//   - EndDisposal and PauseDisposal delete it only after the lift, then
//     read the record again and write it back if the case was fenced
//     again meanwhile (by another plan).
//   - Retention deletes every stored version of it once the case record is
//     destroyed (after the record), and ClearStaleFences, on every plan's
//     apply, deletes markers left without a fence.
//
// A node dying between the marker's write and the fence leaves a marker
// and no fence: every node watching the case checks its record once a
// pass (a Stat; it finds no fence) until the disposal is resumed (which
// fences it) or ClearStaleFences deletes the marker. One dying between a
// lift and the marker's delete leaves the same, and a watch that saw the
// fence does not learn of the lift from the marker (the connections'
// own fallback check does); a fence set again writes a new marker, so it
// is seen.

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

// dropFenceMark deletes case id's marker after its fence was lifted, and
// writes it back if the case was fenced again meanwhile (a fence that
// raced the delete). A failure is logged, not returned: the fence is
// lifted, and a marker left behind costs a check a pass until
// ClearStaleFences deletes it.
func (s *Service) dropFenceMark(ctx context.Context, id string) {
	if err := s.meta.Delete(ctx, FenceMarkKey(id)); err != nil {
		s.logger().WarnContext(ctx, "disposal fence marker not deleted after the fence was lifted", "case", id, "error", err)
		return
	}
	var c Case
	_, err := s.meta.Get(ctx, caseKey(id), &c)
	switch {
	case errors.Is(err, metastore.ErrNotFound):
	case err != nil:
		// Cannot tell: write it back (a marker without a fence is harmless).
		err = s.writeFenceMark(ctx, id)
	case c.Disposing != nil:
		err = s.writeFenceMark(ctx, id)
	}
	if err != nil {
		s.logger().WarnContext(ctx, "disposal fence marker not written back for a case fenced again", "case", id, "error", err)
	}
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

// ClearStaleFences deletes the fence markers left without a fence (a node
// died between a marker's write and its fence, or between a lift and the
// marker's delete) once olderThan old (StaleFenceAge; by the store's
// clock): every stored version of the
// marker of a case that is gone, the marker (its latest version) of one
// not fenced; a case fenced again meanwhile has it written back. It
// reports how many it deleted.
func (s *Service) ClearStaleFences(ctx context.Context, olderThan time.Duration) (int, error) {
	type mark struct {
		id       string
		modified time.Time
	}
	var marks []mark
	if err := s.meta.Objects().List(ctx, fenceMarkPrefix, func(info objstore.Info) error {
		if id := strings.TrimPrefix(info.Key, fenceMarkPrefix); ids.Valid("c", id) {
			marks = append(marks, mark{id, info.Modified})
		}
		return nil
	}); err != nil {
		return 0, err
	}
	cleared := 0
	for _, m := range marks {
		if time.Since(m.modified) < olderThan {
			continue
		}
		var c Case
		_, err := s.meta.Get(ctx, caseKey(m.id), &c)
		switch {
		case errors.Is(err, metastore.ErrNotFound):
			if err := s.DestroyFenceMark(ctx, m.id); err != nil {
				return cleared, err
			}
			cleared++
		case err != nil:
			return cleared, err
		case c.Disposing == nil:
			s.dropFenceMark(ctx, m.id)
			cleared++
		}
	}
	return cleared, nil
}

// DestroyFenceMark deletes every stored version of case id's marker:
// retention, once the case record is destroyed.
func (s *Service) DestroyFenceMark(ctx context.Context, id string) error {
	obj := s.meta.Objects()
	vs, err := obj.Versions(ctx, FenceMarkKey(id))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	infos := make([]objstore.Info, len(vs))
	for i, v := range vs {
		infos[i] = v.Info
	}
	return errors.Join(obj.DeleteVersions(ctx, infos)...)
}
