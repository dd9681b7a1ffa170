package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// A change to the schedule that shortens a class's period, or changes
// what starts its clock, can make records due sooner — some at once — and
// what is destroyed cannot be brought back. So one person only proposes
// it; it is in force once a second person of records staff or the
// administrators approves it (retention.cedar's four-eyes forbid, as for
// plans). Lengthening a period takes effect at once. A zero or very short
// period (policy.ShortPeriodDays) is answered with a warning either way.
//
// A proposal is stored at retention/schedule-changes/<id> and audited
// (retention.schedule.propose); its approval is audited
// (retention.schedule.approve) before the new schedule version is
// stored, and the version is audited as every change is
// (retention.schedule.set).

const scheduleChangesPrefix = "retention/schedule-changes/"

func scheduleChangeKey(id string) string { return scheduleChangesPrefix + id }

// Schedule change states.
const (
	ChangePending   = "pending"
	ChangeApproved  = "approved"
	ChangeWithdrawn = "withdrawn"
)

// ScheduleChange is a proposed change that shortens a period.
type ScheduleChange = api.ScheduleChange

// RuleResult is what SetRule did: the schedule in force afterwards and,
// for a shortening, the change pending approval (the schedule in force is
// then unchanged).
type RuleResult struct {
	StoredSchedule
	Pending  *ScheduleChange
	Warnings []string
}

func warnings(r policy.RetentionRule) []string {
	if w := policy.ShortPeriodWarning(r); w != "" {
		return []string{w}
	}
	return nil
}

// proposeRule stores a shortening for a second person to approve.
func (s *Service) proposeRule(ctx context.Context, actor account.Account, cur StoredSchedule, was, r policy.RetentionRule) (RuleResult, error) {
	c := ScheduleChange{ID: ids.New("sc"), Rule: r, Was: was, ProposedBy: actor.ID, Proposed: s.now().UTC(),
		State: ChangePending, Warnings: warnings(r)}
	if err := s.record(ctx, audit.Event{Type: "retention.schedule.propose", Actor: actor.ID, Objects: []string{c.ID},
		Attrs: map[string]string{"class": r.Class, "trigger": string(r.Trigger), "days": strconv.Itoa(r.Days),
			"wasTrigger": string(was.Trigger), "wasDays": strconv.Itoa(was.Days), "base": strconv.Itoa(cur.Version)}}); err != nil {
		return RuleResult{}, fmt.Errorf("audit: %w", err)
	}
	if _, err := s.meta.Create(ctx, scheduleChangeKey(c.ID), c); err != nil {
		return RuleResult{}, err
	}
	return RuleResult{StoredSchedule: cur, Pending: &c, Warnings: c.Warnings}, nil
}

// ScheduleChanges lists the proposed schedule changes, pending first,
// then newest first.
func (s *Service) ScheduleChanges(ctx context.Context, actor account.Account) ([]ScheduleChange, error) {
	if err := s.allow(ctx, actor, policy.RetentionScheduleRead); err != nil {
		return nil, err
	}
	var out []ScheduleChange
	if err := s.meta.List(ctx, scheduleChangesPrefix, func(key string) error {
		var c ScheduleChange
		if _, err := s.meta.Get(ctx, key, &c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	}); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b ScheduleChange) int {
		if (a.State == ChangePending) != (b.State == ChangePending) {
			if a.State == ChangePending {
				return -1
			}
			return 1
		}
		return b.Proposed.Compare(a.Proposed)
	})
	return out, nil
}

// ApproveScheduleChange puts a pending change in force, as a new version
// of the schedule. Policy refuses its own proposer and any account one
// person could hold together with the proposer's (retention.cedar). If the class's rule
// changed since the proposal, the change is withdrawn rather than
// applied over a rule its approver never saw.
func (s *Service) ApproveScheduleChange(ctx context.Context, actor account.Account, id string) (ScheduleChange, StoredSchedule, error) {
	if !ids.Valid("sc", id) {
		return ScheduleChange{}, StoredSchedule{}, fmt.Errorf("schedule change: %w", fault.ErrNotFound)
	}
	var c ScheduleChange
	if _, err := s.meta.Get(ctx, scheduleChangeKey(id), &c); errors.Is(err, metastore.ErrNotFound) {
		return ScheduleChange{}, StoredSchedule{}, fmt.Errorf("schedule change %s: %w", id, fault.ErrNotFound)
	} else if err != nil {
		return ScheduleChange{}, StoredSchedule{}, err
	}
	lineage, err := s.lineages(ctx, c.ProposedBy)
	if err != nil {
		return ScheduleChange{}, StoredSchedule{}, fmt.Errorf("the proposer's account: %w", err)
	}
	principal, err := s.approver(ctx, actor)
	if err != nil {
		return ScheduleChange{}, StoredSchedule{}, err
	}
	if d := s.policy.DecideScheduleChange(principal, policy.RetentionScheduleApprove,
		policy.ScheduleChange{Proposer: c.ProposedBy, ProposerLineage: lineage}); !d.Allowed {
		err = s.refused(ctx, actor, policy.RetentionScheduleApprove, "")
		switch {
		case actor.ID == c.ProposedBy:
			err = fmt.Errorf("a change that shortens a period is approved by someone other than whoever proposed it: %w", fault.ErrForbidden)
		case slices.Contains(d.Policies, "schedule-approver-independent-of-proposer"):
			err = fmt.Errorf("a change that shortens a period is approved by someone independent of whoever proposed it: not an account that created theirs, nor one made by them or by the accounts that made theirs: %w", fault.ErrForbidden)
		case slices.Contains(d.Policies, "unknown-provenance-approves-no-schedule-change"):
			err = fmt.Errorf("your account was made before Parley recorded who creates accounts, so it approves no schedule change: %w", fault.ErrForbidden)
		}
		return ScheduleChange{}, StoredSchedule{}, err
	}
	if c.State != ChangePending {
		return ScheduleChange{}, StoredSchedule{}, fmt.Errorf("schedule change %s is %s, not awaiting approval: %w", id, c.State, fault.ErrConflict)
	}
	for range 10 {
		cur, err := s.currentSchedule(ctx)
		if err != nil {
			return ScheduleChange{}, StoredSchedule{}, err
		}
		now, _ := cur.Rule(c.Rule.Class)
		if now != c.Was && now != c.Rule {
			// Changed by someone else since: the approver approved a
			// change from c.Was, not from what is in force now.
			c, err = metastore.Update(ctx, s.meta, scheduleChangeKey(id), func(r *ScheduleChange) error {
				if r.State == ChangePending {
					r.State = ChangeWithdrawn
				}
				return nil
			})
			if err != nil {
				return ScheduleChange{}, StoredSchedule{}, err
			}
			return c, cur, fmt.Errorf("the %s rule changed after this change was proposed, so it was withdrawn; propose it again: %w", c.Rule.Class, fault.ErrConflict)
		}
		version := cur.Version
		if now != c.Rule { // not already in force (an approval cut short after storing it)
			next := StoredSchedule{Schedule: cur.With(c.Rule), By: c.ProposedBy, At: s.now().UTC()}
			next.Version = cur.Version + 1
			if err := next.Validate(); err != nil {
				return ScheduleChange{}, StoredSchedule{}, fault.Invalid("rule", err.Error())
			}
			if err := s.record(ctx, audit.Event{Type: "retention.schedule.approve", Actor: actor.ID, Objects: []string{c.ID},
				Attrs: map[string]string{"proposer": c.ProposedBy, "class": c.Rule.Class, "days": strconv.Itoa(c.Rule.Days),
					"version": strconv.Itoa(next.Version)}}); err != nil {
				return ScheduleChange{}, StoredSchedule{}, fmt.Errorf("audit: %w", err)
			}
			if err := s.storeVersion(ctx, actor, next, c.Rule); errors.Is(err, metastore.ErrExists) {
				continue
			} else if err != nil {
				return ScheduleChange{}, StoredSchedule{}, err
			}
			cur, version = next, next.Version
		}
		c, err = metastore.Update(ctx, s.meta, scheduleChangeKey(id), func(r *ScheduleChange) error {
			if r.State != ChangePending {
				return fmt.Errorf("schedule change %s is %s, not awaiting approval: %w", id, r.State, fault.ErrConflict)
			}
			r.State, r.Version = ChangeApproved, version
			r.Approved = &api.Approval{By: actor.ID, At: s.now().UTC()}
			return nil
		})
		return c, cur, err
	}
	return ScheduleChange{}, StoredSchedule{}, fmt.Errorf("schedule: changed by others too often; try again: %w", fault.ErrConflict)
}

// storeVersion audits and stores a new schedule version (create-only:
// metastore.ErrExists when another change took the version first).
func (s *Service) storeVersion(ctx context.Context, actor account.Account, next StoredSchedule, r policy.RetentionRule) error {
	attrs := map[string]string{"version": strconv.Itoa(next.Version), "class": r.Class,
		"trigger": string(r.Trigger), "days": strconv.Itoa(r.Days)}
	if next.By != actor.ID {
		attrs["proposedBy"] = next.By
	}
	if r.Days < policy.ShortPeriodDays {
		attrs["short"] = "true"
	}
	if err := s.record(ctx, audit.Event{Type: "retention.schedule.set", Actor: actor.ID, Attrs: attrs}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	_, err := s.meta.Create(ctx, scheduleVersionKey(next.Version), next)
	return err
}
