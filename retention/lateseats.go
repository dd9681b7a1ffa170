package retention

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// A case's entries in the index of seats by address (package cases,
// seatindex.go) go with its record, after it (disposeCaseRecord, step 6),
// as the plan's inventory found them. An entry written after the
// inventory was taken — by a join that read the case before its fence
// and was then refused, or by `parley admin seat-index` backfilling a
// case it read before its record went — is not among them. So once every
// page is applied, before the certificate, the index is listed again
// (lateSeats): whatever entry names a case this plan destroyed is
// journaled, audited and deleted, every stored version, and counted on
// the case record's line of the certificate; the first listing is
// journaled even if it found nothing, and every run follows it. A writer that read the case
// before its record went can still write its entry after this listing
// (a process stalled for that long); the sweep finds such an entry,
// whose case record is gone, as residue (ResidueSeatIndex) for the next
// plan.

// lateSeatsJournal is what lateSeats writes before it deletes anything,
// whatever it found (nothing too; a plan that destroyed no case record
// writes none), at
// retention/plans/<plan>/cases/late-seats, create-only (with the per-case
// journals, so the sweep deletes it once the plan is certified, as
// spent-journal residue): the entries found for each case destroyed, each
// case's audit entry once written, and Done once every entry is deleted.
// Every run of the plan follows the stored journal — the first listing
// is the one that counts — and none goes past lateSeats before it is
// Done, so that two applies of one plan (certificate.go) certify what
// was destroyed: before review 246 a run that found nothing stored
// nothing and went on to the certificate while another run's listing,
// later, journaled entries it had not yet deleted.
type lateSeatsJournal struct {
	Cases map[string][]string `json:"cases"`           // case → its entries' keys
	Audit map[string]int64    `json:"audit,omitempty"` // case → its audit entry
	Done  bool                `json:"done,omitempty"`
}

func lateSeatsKey(planID string) string { return planPrefix(planID) + "cases/late-seats" }

// planDestroyedCases lists the cases whose case record plan p's pages
// record as destroyed, in page order.
func (s *Service) planDestroyedCases(ctx context.Context, p Plan) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for n := range p.Pages {
		items, err := s.loadPage(ctx, p.ID, n)
		if err != nil {
			return nil, err
		}
		var done pageDone
		if _, err := s.meta.Get(ctx, pageDoneKey(p.ID, n), &done); err != nil {
			return nil, fmt.Errorf("page %d outcomes: %w", n, err)
		}
		if len(done.Outcomes) != len(items) {
			return nil, fmt.Errorf("page %d: %d outcomes for %d records", n, len(done.Outcomes), len(items))
		}
		for i, it := range items {
			if it.Class == policy.ClassCaseRecord && done.Outcomes[i].Result == OutcomeDestroyed && !seen[it.Case] {
				seen[it.Case] = true
				out = append(out, it.Case)
			}
		}
	}
	return out, nil
}

// lateSeats destroys the entries in the index of seats by address of the
// cases plan p destroyed that its pages did not (see above): listed
// again once every case record of the plan is gone, journaled, audited
// (retention.records.destroyed, class case-record, part seat-index: one
// entry per case that had any), then every stored version deleted. Each
// step is rerun-safe: the journal is read back, an audit entry written is
// not written again, and a version deleted already is not found again.
func (s *Service) lateSeats(ctx context.Context, actor account.Account, p Plan) error {
	var j lateSeatsJournal
	_, err := s.meta.Get(ctx, lateSeatsKey(p.ID), &j)
	if errors.Is(err, metastore.ErrNotFound) {
		// A plan that destroyed no case record has no entry to look for,
		// whichever run asks (its pages' outcomes are final): no journal.
		destroyed, err := s.planDestroyedCases(ctx, p)
		if err != nil {
			return err
		}
		if len(destroyed) == 0 {
			return s.step("late-seats-journal")
		}
		if j, err = s.findLateSeats(ctx, p, destroyed); err != nil {
			return err
		}
		if _, err := s.meta.Create(ctx, lateSeatsKey(p.ID), j); err != nil && !errors.Is(err, metastore.ErrExists) {
			return err
		}
		if _, err := s.meta.Get(ctx, lateSeatsKey(p.ID), &j); err != nil { // another run's journal wins
			return err
		}
	} else if err != nil {
		return err
	}
	if err := s.step("late-seats-journal"); err != nil {
		return err
	}
	if j.Done {
		return nil
	}
	caseIDs := slices.Sorted(maps.Keys(j.Cases))
	if j.Audit == nil && len(caseIDs) > 0 {
		events := make([]audit.Event, len(caseIDs))
		for i, c := range caseIDs {
			events[i] = audit.Event{Type: "retention.records.destroyed", Actor: actor.ID, Case: c, Time: s.now().UTC(),
				Attrs: map[string]string{"plan": p.ID, "class": policy.ClassCaseRecord, "part": "seat-index",
					"objects": strconv.Itoa(len(j.Cases[c]))}}
		}
		idx, err := s.audit.AppendBatch(ctx, events)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		if len(idx) != len(caseIDs) {
			return fmt.Errorf("audit: %d entries appended for %d events", len(idx), len(caseIDs))
		}
		audited := map[string]int64{}
		for i, c := range caseIDs {
			audited[c] = idx[i]
		}
		if j, err = metastore.Update(ctx, s.meta, lateSeatsKey(p.ID), func(r *lateSeatsJournal) error {
			if r.Audit == nil {
				r.Audit = audited
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if err := s.step("late-seats-audit"); err != nil {
		return err
	}
	ga := newGroupAudit(ctx, s.audit)
	defer ga.close()
	for _, c := range caseIDs {
		keys := j.Cases[c]
		vs, err := s.storedVersions(ctx, nil, keys)
		if err != nil {
			return err
		}
		// The case record is gone: nothing to pause; an error (a storage
		// hold too) stops the apply, to be resumed.
		if err := s.destroyPlaces(ctx, c, nil, keys, vs, caseHidden(c), ga); err != nil {
			return fmt.Errorf("case %s: its entries in the index of seats by address written during its disposal: %w", c, err)
		}
	}
	if err := s.step("late-seats"); err != nil {
		return err
	}
	_, err = metastore.Update(ctx, s.meta, lateSeatsKey(p.ID), func(r *lateSeatsJournal) error {
		if r.Done {
			return errNoChange
		}
		r.Done = true
		return nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// findLateSeats lists the index of seats by address again and keeps the
// entries, with a stored version that is not a delete marker, of the
// cases p destroyed (destroyed). Entries the plan's inventory (if this
// process holds it) knew are not read again.
func (s *Service) findLateSeats(ctx context.Context, p Plan, destroyed []string) (lateSeatsJournal, error) {
	j := lateSeatsJournal{Cases: map[string][]string{}}
	var known map[string]string
	s.invMu.Lock()
	if inv := s.inv[p.ID]; inv != nil {
		known = inv.seatCase
	}
	s.invMu.Unlock()
	owners, err := s.seatEntryCases(ctx, known)
	if err != nil {
		return j, err
	}
	gone := make(map[string]bool, len(destroyed))
	for _, c := range destroyed {
		gone[c] = true
	}
	var keys []string
	for _, key := range slices.Sorted(maps.Keys(owners)) {
		if gone[owners[key]] {
			keys = append(keys, key)
		}
	}
	// Each entry's versions looked for a few at a time, as elsewhere.
	stored := make([]bool, len(keys))
	errs := make([]error, len(keys))
	workers.Run(len(keys), s.parallel, func(i int) {
		vs, err := s.storedVersions(ctx, nil, []string{keys[i]})
		if err != nil {
			errs[i] = err
			return
		}
		n, _ := countKeys(vs)
		stored[i] = n > 0
	})
	if err := errors.Join(errs...); err != nil {
		return j, err
	}
	for i, key := range keys {
		if stored[i] {
			j.Cases[owners[key]] = append(j.Cases[owners[key]], key)
		}
	}
	return j, nil
}

// certifyLateSeats adds what lateSeats destroyed to the certificate's
// case records: each case's entries to its record's counts (case-record
// objects) and its audit entry to the certificate's. A plan whose apply
// passed this step before lateSeats existed has no journal: nothing. A
// journal not Done is refused: its entries may not be deleted yet.
func (s *Service) certifyLateSeats(ctx context.Context, p Plan, c *Certificate, count func(class string, records, objects int)) error {
	var j lateSeatsJournal
	if _, err := s.meta.Get(ctx, lateSeatsKey(p.ID), &j); errors.Is(err, metastore.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("late seat index entries: %w", err)
	}
	if !j.Done {
		return fmt.Errorf("late seat index entries journaled, not yet all deleted; apply again: %w", fault.ErrUnavailable)
	}
	for i := range c.Destroyed {
		r := &c.Destroyed[i]
		n := len(j.Cases[r.Case])
		if r.Class != policy.ClassCaseRecord || n == 0 {
			continue
		}
		counts := maps.Clone(r.Counts)
		if counts == nil {
			counts = map[string]int{}
		}
		counts[policy.ClassCaseRecord] += n
		r.Counts = counts
		count(policy.ClassCaseRecord, 0, n)
		if idx, ok := j.Audit[r.Case]; ok {
			c.AuditEntries = append(c.AuditEntries, idx)
		}
	}
	return nil
}

// errNoChange leaves a record as it is in metastore.Update.
var errNoChange = errors.New("no change")
