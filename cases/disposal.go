package cases

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
)

// Disposal and the outbox. Retention destroys a case record by deleting
// every stored version of it; an event still pending in the record
// (outbox.go) would go with it. Checking "nothing pending" and then
// deleting is not enough: a closed case still takes changes — a
// disclosure or its acknowledgement, a recusal, the outcome, a defined
// room closed, a pending mediator activated by a mere read — and one that
// lands between the check and the delete, with its own append failing,
// is lost with the record although its request was told it was done.
//
// So retention first fences the case (BeginDisposal): one conditional
// write (metastore.Update, If-Match on the record's ETag) sets Disposing,
// and every change (commitChange, which all of them go through) refuses
// a record that has it, with ErrDisposing. A change that raced the fence
// either landed before it — its event is in the record the fence wrote,
// and BeginDisposal appends it — or re-reads the fenced record and is
// refused. After the fence the outbox can only shrink (a request removing
// its own events once appended), so what BeginDisposal appends is all
// there will ever be. It appends the young events too: their requests may
// append them as well, and "an entry may appear twice, never be missing"
// allows that; waiting for them would refuse the disposal for nothing.

// ErrDisposing: retention is disposing of the case (BeginDisposal), which
// takes no more changes.
var ErrDisposing = fmt.Errorf("the case is being disposed of under the retention schedule: %w", fault.ErrGone)

// ErrNothingAdded refuses an addition to a fenced case (a document or
// version, a message): what retention is disposing of takes nothing new,
// which its disposal would lose. Its text is the whole answer (410).
var ErrNothingAdded = fmt.Errorf("this case is being disposed of under its retention schedule, so nothing can be added to it: %w", fault.ErrGone)

// RefuseAdditions is ErrNothingAdded for a case retention has fenced
// (BeginDisposal), else nil. A writer adding to a case checks it before
// it writes and, on the case read again, once what it added is visible:
// retention fences first and then looks for what was added (so either it
// finds the addition and keeps the case, or the writer sees the fence
// and takes its addition back).
func RefuseAdditions(c *Case) error {
	if c != nil && c.Disposing != nil {
		return ErrNothingAdded // the whole answer: no case id in the sentence
	}
	return nil
}

// FenceSeen is what CheckFence saw of a case record: the zero value is
// "not checked yet".
type FenceSeen struct {
	etag string
	// Fenced: the case is fenced for disposal (RefuseAdditions refuses
	// it), or its record is gone.
	Fenced bool
}

// CheckFence reports whether case id is fenced for disposal or gone, at
// little cost: one Stat of its record, and a read only when the record
// changed since seen (what the previous call returned). A store failure
// returns seen unchanged with the error. It is how a node learns of a
// fence whose announcement (OnDisposal) its open connections missed
// (package web checks a case they are to when its fence marker appears,
// changes or goes: fencemarks.go).
func (s *Service) CheckFence(ctx context.Context, id string, seen FenceSeen) (FenceSeen, error) {
	if !ids.Valid("c", id) {
		return FenceSeen{Fenced: true}, nil
	}
	etag, err := s.meta.Stat(ctx, caseKey(id))
	switch {
	case errors.Is(err, metastore.ErrNotFound):
		return FenceSeen{Fenced: true}, nil
	case err != nil:
		return seen, err
	case etag == seen.etag:
		return seen, nil
	}
	var c Case
	etag, err = s.meta.Get(ctx, caseKey(id), &c)
	switch {
	case errors.Is(err, metastore.ErrNotFound):
		return FenceSeen{Fenced: true}, nil
	case err != nil:
		return seen, err
	}
	return FenceSeen{etag: etag, Fenced: RefuseAdditions(&c) != nil}, nil
}

// errFenceUnchanged stops a fence update that has nothing to write.
var errFenceUnchanged = errors.New("fence unchanged")

// ErrDisposalUnderWay refuses BeginDisposal by one plan while another
// plan's disposal holds the case's fence (Case.DisposingPlan): two
// disposals of one case at once would let one lift the fence (a hold
// met, the case kept) while the other deletes. The plan that set the
// fence finishes it (applied again, it takes its own fence over).
var ErrDisposalUnderWay = fmt.Errorf("another disposal of this case is under way; apply that plan again to finish it first: %w", fault.ErrConflict)

// fencedBy reports whether the case's fence (if any) is plan's: set by
// it, or from before fences named their plan.
func (c *Case) fencedBy(plan string) bool {
	return c.DisposingPlan == "" || c.DisposingPlan == plan
}

// BeginDisposal fences case id for retention plan plan against any
// further change (its fence marker written first, fencemarks.go, and a
// fence whose marker cannot be written not set; then Disposing and
// DisposingPlan, in one conditional write;
// a case fenced by this plan already is left as it is, one fenced by
// another plan refused with ErrDisposalUnderWay), then appends every
// audit event pending in it, oldest first, and removes those that
// landed. A pause (DisposalPaused) stays until the disposal completes.
// It returns the case as stored afterwards and the error of an append
// that failed: the caller (retention) deletes the record only when the
// returned case holds no pending event. A case that does not exist is
// fault.ErrNotFound.
func (s *Service) BeginDisposal(ctx context.Context, id, plan string) (*Case, error) {
	if !ids.Valid("c", id) {
		return nil, fmt.Errorf("case: %w", fault.ErrNotFound)
	}
	// The fence marker first (fencemarks.go): a fence is never without
	// one, so a node's watch sees it; a case that is not there gets none.
	if _, err := s.meta.Stat(ctx, caseKey(id)); errors.Is(err, metastore.ErrNotFound) {
		return nil, fmt.Errorf("case %s: %w", id, fault.ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	if err := s.writeFenceMark(ctx, id); err != nil {
		return nil, fmt.Errorf("case %s: fence marker: %w", id, err)
	}
	now := s.now().UTC()
	fenced, err := metastore.Update(ctx, s.meta, caseKey(id), func(c *Case) error {
		switch {
		case c.Disposing != nil && c.DisposingPlan == plan:
			return errFenceUnchanged
		case c.Disposing != nil && !c.fencedBy(plan):
			return fmt.Errorf("case %s (plan %s): %w", id, c.DisposingPlan, ErrDisposalUnderWay)
		case c.Disposing == nil:
			c.Disposing = &now
		}
		c.DisposingPlan = plan
		return nil
	})
	var c *Case
	switch {
	case err == nil:
		c = &fenced
	case errors.Is(err, errFenceUnchanged):
		if c, err = s.reload(ctx, id); err != nil {
			return nil, err
		}
	case errors.Is(err, metastore.ErrNotFound):
		// Gone since the Stat: its marker goes too.
		if derr := s.GoneFenceMark(ctx, id); derr != nil {
			s.logger().WarnContext(ctx, "disposal fence marker of a case gone not written anew", "case", id, "error", derr)
		}
		return nil, fmt.Errorf("case %s: %w", id, fault.ErrNotFound)
	default:
		return nil, err
	}
	// Every node's open connections are told (a rerun tells them again:
	// an announcement is at most once, and a crash may have come between
	// the fence and this call), before the marker is checked: the fence
	// is set, so its announcement must not wait on the marker.
	if s.OnDisposal != nil {
		s.OnDisposal(ctx, id)
	}
	if err := s.keepFenceMark(ctx, id); err != nil {
		return nil, fmt.Errorf("case %s: fence marker: %w", id, err)
	}
	if len(c.Unaudited) == 0 {
		return c, nil
	}
	return s.flushPending(ctx, c, func(PendingEvent) bool { return true })
}

// PauseDisposal replaces the fence of case id by the paused state
// (DisposalPaused), in one conditional write, for a disposal the object
// store stopped part way: a version under a storage (legal) hold could
// not be deleted. What is left of the case is kept and takes changes
// again; records staff see the state (retention audits it, and the
// plan's outcome says held); the next plan (or the next run of this one)
// that reaches the case record fences it again (BeginDisposal), looks
// again for what keeps it, and resumes. The fence marker is deleted
// after (fencemarks.go). It reports whether it
// paused a case plan had fenced; a case not fenced, fenced by another
// plan, or gone, is left as it is.
func (s *Service) PauseDisposal(ctx context.Context, id, plan string) (bool, error) {
	if !ids.Valid("c", id) {
		return false, nil
	}
	now := s.now().UTC()
	mark := s.fenceMarkETag(ctx, id) // before the lift: the marker dropFenceMark may delete
	_, err := metastore.Update(ctx, s.meta, caseKey(id), func(c *Case) error {
		if c.Disposing == nil || !c.fencedBy(plan) {
			return errFenceUnchanged
		}
		c.Disposing, c.DisposingPlan, c.DisposalPaused = nil, "", &now
		return nil
	})
	switch {
	case err == nil:
		s.dropFenceMark(ctx, id, mark) // after the lift (fencemarks.go)
		return true, nil
	case errors.Is(err, errFenceUnchanged) || errors.Is(err, metastore.ErrNotFound):
		return false, nil
	}
	return false, err
}

// EndDisposal lifts plan's fence of case id, for a disposal retention
// gave up (the case is kept after all), and then its fence marker
// (fencemarks.go); a pause (DisposalPaused) stays. A
// case not fenced, fenced by another plan (whose disposal goes on), or
// gone, is left as it is.
func (s *Service) EndDisposal(ctx context.Context, id, plan string) error {
	if !ids.Valid("c", id) {
		return nil
	}
	mark := s.fenceMarkETag(ctx, id) // before the lift: the marker dropFenceMark may delete
	_, err := metastore.Update(ctx, s.meta, caseKey(id), func(c *Case) error {
		if c.Disposing == nil || !c.fencedBy(plan) {
			return errFenceUnchanged
		}
		c.Disposing, c.DisposingPlan = nil, ""
		return nil
	})
	if err == nil {
		s.dropFenceMark(ctx, id, mark) // after the lift (fencemarks.go)
		return nil
	}
	if errors.Is(err, errFenceUnchanged) || errors.Is(err, metastore.ErrNotFound) {
		return nil
	}
	return err
}
