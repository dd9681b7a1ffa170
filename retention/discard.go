package retention

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// NothingDue is MakePlan's answer when no record is due as of asOf (held
// of them were, but are on legal hold): no empty plan is made.
func NothingDue(asOf time.Time, held int) error {
	why := ""
	if held > 0 {
		why = fmt.Sprintf(" (%d would be, but are on legal hold)", held)
	}
	return fault.Invalid("asOf", "nothing is due on "+asOf.UTC().Format(time.DateOnly)+why+", so no plan was made")
}

func errDiscarded(id string) error {
	return fmt.Errorf("plan %s was discarded: %w", id, fault.ErrConflict)
}

// Discard drops a plan that was never carried out (planned or approved,
// not started): audited, marked discarded (so an apply racing it stops
// before its first page), then its pages deleted. The header stays, with
// ids and counts only, and is no longer listed.
func (s *Service) Discard(ctx context.Context, actor account.Account, id string) (Plan, error) {
	if err := s.allow(ctx, actor, policy.RetentionPlan); err != nil {
		return Plan{}, err
	}
	p, _, err := s.loadPlan(ctx, id)
	if err != nil {
		return Plan{}, err
	}
	notStarted := func(p Plan) error {
		switch {
		case p.State == StateDiscarded:
			return errDiscarded(id)
		case p.Started != nil || (p.State != StatePlanned && p.State != StateApproved):
			return fmt.Errorf("plan %s is being or has been carried out, so it cannot be discarded: %w", id, fault.ErrConflict)
		}
		return nil
	}
	if err := notStarted(p); err != nil {
		return Plan{}, err
	}
	if err := s.record(ctx, audit.Event{Type: "retention.discard", Actor: actor.ID, Objects: []string{p.ID},
		Attrs: map[string]string{"state": p.State, "records": strconv.Itoa(p.Records)}}); err != nil {
		return Plan{}, fmt.Errorf("audit: %w", err)
	}
	p, err = metastore.Update(ctx, s.meta, planKey(id), func(r *Plan) error {
		if err := notStarted(*r); err != nil {
			return err
		}
		r.State = StateDiscarded
		return nil
	})
	if err != nil {
		return Plan{}, err
	}
	for n := range p.Pages {
		if err := s.meta.Delete(ctx, pageKey(id, n)); err != nil {
			return Plan{}, err
		}
	}
	return p, nil
}
