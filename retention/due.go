package retention

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/policy"
)

// MaxDueDays bounds how far ahead Due looks.
const MaxDueDays = 366

// DueReport is what falls due from now until Until: every record whose
// due date is on or before it (DueAt before now: due already, not yet
// disposed of), held ones marked with their holds. Nothing is planned or
// changed; it is for records staff to see what is coming.
type DueReport struct {
	Now   time.Time `json:"now"`
	Until time.Time `json:"until"`
	Items []Item    `json:"items"`
}

// Due lists what falls due in the next days days under the schedule in
// force, by case and class; held records are listed with their holds.
func (s *Service) Due(ctx context.Context, actor account.Account, days int) (DueReport, error) {
	if err := s.allow(ctx, actor, policy.RetentionPlan); err != nil {
		return DueReport{}, err
	}
	if days < 1 || days > MaxDueDays {
		return DueReport{}, fault.Invalid("days", fmt.Sprintf("from 1 to %d days ahead", MaxDueDays))
	}
	now := s.now().UTC()
	until := now.Add(time.Duration(days) * 24 * time.Hour)
	var mu sync.Mutex
	items := []Item{}
	err := s.eachDueCase(ctx, until, func(_ *cases.Case, l []Item) {
		mu.Lock()
		items = append(items, l...)
		mu.Unlock()
	})
	if err != nil {
		return DueReport{}, err
	}
	r := DueReport{Now: now, Until: until, Items: items}
	if len(r.Items) > MaxPlanRecords {
		return DueReport{}, fmt.Errorf("%d records fall due, more than a report lists (%d); look fewer days ahead: %w", len(r.Items), MaxPlanRecords, fault.ErrTooLarge)
	}
	slices.SortFunc(r.Items, func(a, b Item) int {
		return cmp.Or(a.DueAt.Compare(b.DueAt), strings.Compare(a.Case, b.Case), strings.Compare(a.Doc, b.Doc), a.Version-b.Version)
	})
	return r, nil
}

// eachDueCase calls fn with each case's records due on or before until
// under the schedule in force, held ones with their holds (none: fn is
// not called), from up to s.parallel workers at once. It decides nothing
// about access: Due asks policy about its reader, and the daily notice
// (notice.go) about each of its recipients. What fn keeps of them is
// fn's: Due keeps every record, the notice a summary of what it can list.
func (s *Service) eachDueCase(ctx context.Context, until time.Time, fn func(c *cases.Case, items []Item)) error {
	sched, err := s.currentSchedule(ctx)
	if err != nil {
		return err
	}
	var all []*cases.Case
	if err := s.cases.All(ctx, func(c *cases.Case) error { all = append(all, c); return nil }); err != nil {
		return err
	}
	inv, err := s.takeInventory(ctx)
	if err != nil {
		return err
	}
	errs := make([]error, len(all))
	workers.Run(len(all), s.parallel, func(i int) {
		items, err := s.dueInCase(ctx, sched.Schedule, all[i], until, inv)
		if err != nil {
			errs[i] = err
			return
		}
		if len(items) > 0 {
			fn(all[i], items)
		}
	})
	return errors.Join(errs...)
}
