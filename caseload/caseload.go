// Package caseload builds the caseload view for mediators and records
// staff: the open cases by stage, how long each has been in its stage, its
// next session, who has not acknowledged a disclosure, overdue check-ins
// on agreements — and which cases sit in a stage longer than the program's
// own closed cases of the same type usually do.
//
// Norms: for every case type and stage, the days each closed case spent
// in that stage (each stay from entering it to the next stage change,
// summed per case when it returned to a stage) give a median and a 90th
// percentile (nearest rank: the ⌈0.9·n⌉-th smallest). A type with fewer
// than MinNormCases closed cases uses the norm of all types together; with
// fewer than that overall there is no norm and nothing is flagged. An open
// case is flagged ("stalled") when its days in the current stage exceed
// the 90th percentile.
package caseload

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/schedule"
)

// MinNormCases is the fewest closed cases a norm is computed from.
const MinNormCases = 5

// Method is the view's own account of how it computes norms and flags.
var Method = fmt.Sprintf("Norms come from this program's closed cases: for each case type and stage, the days each closed case spent in that stage give the median and the 90th percentile (nearest rank). A type with fewer than %d closed cases uses all types together; with fewer than %d closed cases overall there is no norm. An open case is flagged when it has been in its current stage longer than the 90th percentile.", MinNormCases, MinNormCases)

// Service builds the view.
type Service struct {
	Cases    *cases.Service
	Schedule *schedule.Service
	Policy   *policy.Engine
	Audit    *audit.Log
	Now      func() time.Time
}

type normKey struct{ typ, stage string }

// Norms computes the program's norms from its closed cases.
func Norms(closed []*cases.Case) map[normKey]api.StageNorm {
	samples := map[normKey][]float64{}
	for _, c := range closed {
		days := stageDays(c, *c.Closed)
		for st, d := range days {
			if st == cases.StageClosure {
				continue
			}
			samples[normKey{c.Type, string(st)}] = append(samples[normKey{c.Type, string(st)}], d)
			samples[normKey{"*", string(st)}] = append(samples[normKey{"*", string(st)}], d)
		}
	}
	out := map[normKey]api.StageNorm{}
	for k, v := range samples {
		if len(v) < MinNormCases {
			continue
		}
		slices.Sort(v)
		out[k] = api.StageNorm{CaseType: k.typ, Stage: k.stage, Cases: len(v), MedianDays: round1(median(v)), P90Days: round1(nearestRank(v, 0.9))}
	}
	return out
}

func stageDays(c *cases.Case, end time.Time) map[cases.Stage]float64 {
	days := map[cases.Stage]float64{}
	for i, h := range c.StageHistory {
		until := end
		if i+1 < len(c.StageHistory) {
			until = c.StageHistory[i+1].At
		}
		days[h.To] += until.Sub(h.At).Hours() / 24
	}
	return days
}

func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func nearestRank(v []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(v)))) - 1
	return v[max(i, 0)]
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// View builds the caseload the actor may see.
func (s *Service) View(ctx context.Context, actor account.Account) (api.Caseload, error) {
	p := actor.Principal()
	if !s.Policy.Decide(p, policy.CaseloadView, nil).Allowed {
		s.Audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Attrs: map[string]string{"action": string(policy.CaseloadView)}})
		return api.Caseload{}, fmt.Errorf("%s: %w", policy.CaseloadView, fault.ErrForbidden)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().UTC()
	var closed, open []*cases.Case
	full := map[string]bool{}
	waiting := map[string]bool{}
	err := s.Cases.All(ctx, func(c *cases.Case) error {
		if c.Closed != nil {
			closed = append(closed, c)
		}
		facts := c.Facts()
		switch {
		case actor.Role == policy.RoleMediator && s.Policy.Decide(p, policy.CaseRead, facts).Allowed:
			full[c.ID] = true
			w, err := s.waiting(ctx, p, c)
			if err != nil {
				return err
			}
			waiting[c.ID] = w
		case s.Policy.Decide(p, policy.CaseReadSummary, facts).Allowed && actor.Role == policy.RoleRecords:
		default:
			return nil
		}
		// A closed case stays listed while a check-in is overdue, for its
		// mediators only: records staff must not learn which cases have
		// follow-ups (it would tell them which export rows carry
		// follow-up counts), nor a co-mediator nobody confirmed yet.
		if c.Closed == nil || (full[c.ID] && !waiting[c.ID] && s.hasOverdue(ctx, c.ID, t)) {
			open = append(open, c)
		}
		return nil
	})
	if err != nil {
		return api.Caseload{}, err
	}
	norms := Norms(closed)
	view := api.Caseload{Cases: []api.CaseloadRow{}, Norms: []api.StageNorm{}, Method: Method}
	for _, n := range norms {
		view.Norms = append(view.Norms, n)
	}
	slices.SortFunc(view.Norms, func(a, b api.StageNorm) int {
		if a.CaseType != b.CaseType {
			return cmpStr(a.CaseType, b.CaseType)
		}
		return slices.Index(cases.Stages, cases.Stage(a.Stage)) - slices.Index(cases.Stages, cases.Stage(b.Stage))
	})
	for _, c := range open {
		row, err := s.row(ctx, c, full[c.ID], waiting[c.ID], norms, t)
		if err != nil {
			return api.Caseload{}, err
		}
		view.Cases = append(view.Cases, row)
	}
	// Stalled first, then the longest in their stage.
	slices.SortStableFunc(view.Cases, func(a, b api.CaseloadRow) int {
		if a.Stalled != b.Stalled {
			if a.Stalled {
				return -1
			}
			return 1
		}
		return b.DaysInStage - a.DaysInStage
	})
	return view, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Service) hasOverdue(ctx context.Context, caseID string, now time.Time) bool {
	if s.Schedule == nil {
		return false
	}
	over, err := s.Schedule.Overdue(ctx, caseID, now)
	return err == nil && len(over) > 0
}

// waiting reports whether the mediator p of case c is one no seated
// mediator has confirmed yet (cases.Service.Admission), whom policy shows
// none of the case's sessions (unconfirmed-mediators-see-no-sessions):
// their row has the case's title and stage, not its next session, its
// overdue check-ins or who (nor how many) have not acknowledged the
// disclosures (which they do not read either). c itself is left as it was.
func (s *Service) waiting(ctx context.Context, p policy.User, c *cases.Case) (bool, error) {
	gate := *c
	if err := s.Cases.Admission(ctx, &gate); err != nil {
		return false, err
	}
	d := s.Policy.Decide(p, policy.SessionRead, gate.Facts())
	return !d.Allowed && slices.Contains(d.Policies, cases.RuleUnconfirmedSessions), nil
}

// row is case c's row: full for its mediators (the title, who has not
// acknowledged the disclosures, overdue check-ins), less for one who is
// waiting to be confirmed (waiting: the title and stage, but no next
// session, and neither who nor how many have not acknowledged).
func (s *Service) row(ctx context.Context, c *cases.Case, full, waiting bool, norms map[normKey]api.StageNorm, now time.Time) (api.CaseloadRow, error) {
	since := c.Created
	if n := len(c.StageHistory); n > 0 {
		since = c.StageHistory[n-1].At
	}
	opened := c.Created
	r := api.CaseloadRow{CaseID: c.ID, Reference: c.Reference, Opened: &opened, Type: c.Type, Stage: string(c.Stage), StageSince: since,
		DaysInStage: int(now.Sub(since).Hours() / 24)}
	if full {
		r.Title = c.Title
	}
	// Who has not acknowledged every disclosure.
	for _, p := range c.Participants {
		if p.Role == cases.RoleObserver {
			continue
		}
		missing := false
		for _, d := range c.Disclosures {
			if !slices.ContainsFunc(d.Acks, func(a cases.Ack) bool { return a.AccountID == p.AccountID }) {
				missing = true
			}
		}
		if missing && !waiting { // they read no disclosure: not even how many have not acknowledged
			r.UnacknowledgedCount++
			if full {
				r.Unacknowledged = append(r.Unacknowledged, p.Name)
			}
		}
	}
	if s.Schedule != nil && !waiting {
		sessions, err := s.Schedule.Sessions(ctx, c.ID)
		if err != nil {
			return r, err
		}
		for _, ss := range sessions {
			if ss.Status == schedule.Scheduled && ss.End().After(now) {
				start := ss.Start
				r.NextSession = &start
				break
			}
		}
	}
	if s.Schedule != nil && full && !waiting { // follow-ups: the case's confirmed mediators only
		over, err := s.Schedule.Overdue(ctx, c.ID, now)
		if err != nil {
			return r, err
		}
		for _, cp := range over {
			r.OverdueFollowUps = append(r.OverdueFollowUps, cp.Days)
		}
	}
	if c.Closed == nil {
		norm, ok := norms[normKey{c.Type, string(c.Stage)}]
		if !ok {
			norm, ok = norms[normKey{"*", string(c.Stage)}]
		}
		if ok {
			r.Norm = &norm
			r.Stalled = now.Sub(since).Hours()/24 > norm.P90Days
		}
	}
	return r, nil
}
