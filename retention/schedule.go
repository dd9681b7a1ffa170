package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// Every version of the schedule ever set is kept at
// retention/schedules/<version, 10 digits>, written create-only; the one
// in force is the highest. Version 0, policy.DefaultSchedule, is not
// stored. Keeping every version lets a certificate's schedule always be
// looked up, and the create-only write makes two staff changing the
// schedule at once unable to lose either change.
const schedulesPrefix = "retention/schedules/"

func scheduleVersionKey(v int) string { return fmt.Sprintf("%s%010d", schedulesPrefix, v) }

// StoredSchedule is one version of the schedule and who set it.
type StoredSchedule struct {
	policy.Schedule
	By string    `json:"by,omitempty"` // empty for the default (version 0)
	At time.Time `json:"at,omitzero"`
}

// currentSchedule reads the schedule in force.
func (s *Service) currentSchedule(ctx context.Context) (StoredSchedule, error) {
	last := ""
	if err := s.meta.List(ctx, schedulesPrefix, func(key string) error { last = key; return nil }); err != nil {
		return StoredSchedule{}, err
	}
	if last == "" {
		return StoredSchedule{Schedule: policy.DefaultSchedule()}, nil
	}
	var st StoredSchedule
	_, err := s.meta.Get(ctx, last, &st)
	// A version stored before a class existed gets that class's default.
	st.Schedule = st.Schedule.WithDefaults()
	return st, err
}

// Schedule returns the schedule in force.
func (s *Service) Schedule(ctx context.Context, actor account.Account) (StoredSchedule, error) {
	if err := s.allow(ctx, actor, policy.RetentionScheduleRead); err != nil {
		return StoredSchedule{}, err
	}
	return s.currentSchedule(ctx)
}

// SetRule changes one class's rule. Lengthening a period (same trigger,
// more days) makes a new version of the schedule at once, audited
// (class, trigger, days, new version) before it is stored. A change that
// shortens a period or changes the trigger is only proposed: it waits in
// RuleResult.Pending for a second person (ApproveScheduleChange), and the
// schedule in force is unchanged. A zero or very short period is
// answered with RuleResult.Warnings.
func (s *Service) SetRule(ctx context.Context, actor account.Account, r policy.RetentionRule) (RuleResult, error) {
	if err := s.allow(ctx, actor, policy.RetentionScheduleSet); err != nil {
		return RuleResult{}, err
	}
	for range 10 {
		cur, err := s.currentSchedule(ctx)
		if err != nil {
			return RuleResult{}, err
		}
		next := StoredSchedule{Schedule: cur.With(r), By: actor.ID, At: s.now().UTC()}
		next.Version = cur.Version + 1
		if err := next.Validate(); err != nil {
			return RuleResult{}, fault.Invalid("rule", err.Error())
		}
		if was, ok := cur.Rule(r.Class); ok && policy.Shortens(was, r) {
			return s.proposeRule(ctx, actor, cur, was, r)
		}
		err = s.storeVersion(ctx, actor, next, r)
		if errors.Is(err, metastore.ErrExists) {
			continue // someone else set this version first: apply ours on top of theirs
		}
		if err != nil {
			return RuleResult{}, err
		}
		return RuleResult{StoredSchedule: next, Warnings: warnings(r)}, nil
	}
	return RuleResult{}, fmt.Errorf("schedule: changed by others too often; try again: %w", fault.ErrConflict)
}

// ScheduleHistory returns every version of the schedule ever set, oldest
// first.
func (s *Service) ScheduleHistory(ctx context.Context, actor account.Account) ([]StoredSchedule, error) {
	if err := s.allow(ctx, actor, policy.RetentionScheduleRead); err != nil {
		return nil, err
	}
	var out []StoredSchedule
	err := s.meta.List(ctx, schedulesPrefix, func(key string) error {
		var st StoredSchedule
		if _, err := s.meta.Get(ctx, key, &st); err != nil {
			return err
		}
		out = append(out, st)
		return nil
	})
	return out, err
}
