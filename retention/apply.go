package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// Outcomes of one record.
const (
	// OutcomeDestroyed: its keys and every stored version are gone.
	OutcomeDestroyed = "destroyed"
	// OutcomeHeld: it was held (at planning, or since) and was kept.
	OutcomeHeld = "held"
	// OutcomeKept: it was not held but is kept for now (Outcome.Kept says
	// why): a case record while records of its case remain.
	OutcomeKept = "kept"
	// OutcomeMissing: a case record gone when the plan reached it, and no
	// retention plan's disposal of it on record (Outcome.Missing says
	// so): lost some other way, not destroyed by Parley, and not
	// certified as destroyed.
	OutcomeMissing = "missing"
)

// Outcome is what happened to one record of a plan.
type Outcome = api.ItemOutcome

type pageDone struct {
	Outcomes []Outcome `json:"outcomes"` // in the page's order
	At       time.Time `json:"at"`
}

// Progress is where an apply stands after one Apply step.
type Progress struct {
	Plan Plan `json:"plan"`
	// PagesDone of Plan.Pages are applied.
	PagesDone int `json:"pagesDone"`
	// Items and Outcomes: the page this step applied (if it applied one).
	Page     int       `json:"page"`
	Items    []Item    `json:"items,omitempty"`
	Outcomes []Outcome `json:"outcomes,omitempty"`
	// Step names what this step did: "transfers", "page", "case-keys", "certificate"
	// or "done" (nothing left).
	Step string `json:"step"`
	Done bool   `json:"done"`
}

// Apply carries out one step of an approved plan and says where it
// stands; call it until Done. The steps, each resumable:
//
//  1. one page at a time, for its records, in this order: holds read
//     again (a record held since planning is kept, outcome "held",
//     unless an earlier run destroyed its data key: vault.ErasedHeld); the
//     data keys destroyed (vault.DestroyDataKeys, audited per version);
//     every stored version of the ciphertexts deleted; each document's
//     record deleted once all its versions are; each message history
//     deleted (every batch of every room); each case's other records
//     (invites and sessions, carries, surveys, key-directory
//     statements), every stored version; each case record of which
//     nothing else remains, with its participants' accounts, after its
//     statistical stub is stored (caseclasses.go); statistical stubs due;
//     the page's outcomes stored.
//  2. the index of seats by address listed again, and the entries of
//     the cases destroyed written after the plan's inventory read it
//     (during their disposal) destroyed (lateseats.go); the residue
//     swept, fence markers left without a fence by a crash or of cases
//     destroyed deleted (cases.ClearStaleFences, also after every page;
//     a failure is logged, not returned), and the case keys of the
//     plan's cases of which nothing remains.
//  3. the certificate of destruction, signed, stored once, and linked
//     from the audit log.
//
// A step interrupted anywhere is redone from its start: each of its
// actions sees what is already gone and moves on, and a ciphertext is
// never deleted before its key. So whatever the crash, what is left is
// either still readable and still planned, or unreadable; and the rerun
// converges on exactly one certificate.
func (s *Service) Apply(ctx context.Context, actor account.Account, id string) (Progress, error) {
	if err := s.allow(ctx, actor, policy.RetentionApply); err != nil {
		return Progress{}, err
	}
	p, _, err := s.loadPlan(ctx, id)
	if err != nil {
		return Progress{}, err
	}
	switch p.State {
	case StatePlanned:
		return Progress{}, fmt.Errorf("plan %s is not approved yet: %w", id, fault.ErrConflict)
	case StateDiscarded:
		return Progress{}, errDiscarded(id)
	case StateDone:
		return Progress{Plan: p, PagesDone: p.Pages, Step: "done", Done: true}, nil
	case StateApproved:
		if err := s.record(ctx, audit.Event{Type: "retention.apply", Actor: actor.ID, Objects: []string{p.ID},
			Attrs: map[string]string{"records": strconv.Itoa(p.Records)}}); err != nil {
			return Progress{}, fmt.Errorf("audit: %w", err)
		}
		if p, err = s.updatePlan(ctx, id, func(r *Plan) {
			if r.State == StateApproved {
				now := s.now().UTC()
				r.State, r.Started = StateApplying, &now
				r.AuditFrom = s.audit.Size()
			}
		}); err != nil {
			return Progress{}, err
		}
		if p.State == StateDiscarded { // discarded meanwhile
			return Progress{}, errDiscarded(id)
		}
	}
	if !p.TransfersDone && len(p.transferCases()) > 0 {
		// Before anything is destroyed: the transfer bundles (transfer.go).
		if p, err = s.makeTransfers(ctx, actor, p); err != nil {
			return Progress{}, err
		}
		return Progress{Plan: p, Step: "transfers"}, nil
	}
	done := 0
	if err := s.meta.List(ctx, planPrefix(id)+"done/", func(string) error { done++; return nil }); err != nil {
		return Progress{}, err
	}
	if done < p.Pages {
		// Pages are applied in order, so the first not done is page done.
		pr := Progress{Plan: p, Page: done, Step: "page"}
		if pr.Items, pr.Outcomes, err = s.applyPage(ctx, actor, p, done); err != nil {
			return Progress{}, err
		}
		pr.PagesDone = done + 1
		// The fence markers of the cases this apply destroyed so far
		// (written anew for the nodes' watches) go once
		// cases.GoneFenceAge old, so a long apply leaves no more of them
		// to list than it destroys in that time.
		s.clearFenceMarks(ctx)
		return pr, nil
	}
	if !p.CaseKeysDone {
		// The seat index entries of the plan's destroyed cases that its
		// pages did not find (written during their disposal): listed
		// again now that every case record of the plan is gone
		// (lateseats.go).
		if err := s.lateSeats(ctx, actor, p); err != nil {
			return Progress{}, err
		}
		if err := s.applyResidue(ctx, actor, p); err != nil { // sweep.go: once, before the case keys
			return Progress{}, err
		}
		s.clearFenceMarks(ctx)
		if err := s.destroyCaseKeys(ctx, actor, p); err != nil {
			return Progress{}, err
		}
		if err := s.step("case-keys"); err != nil {
			return Progress{}, err
		}
		if p, err = s.updatePlan(ctx, id, func(r *Plan) { r.CaseKeysDone = true }); err != nil {
			return Progress{}, err
		}
		return Progress{Plan: p, PagesDone: p.Pages, Step: "case-keys"}, nil
	}
	if p, err = s.certify(ctx, actor, p); err != nil {
		return Progress{}, err
	}
	s.dropInventory(p.ID)
	return Progress{Plan: p, PagesDone: p.Pages, Step: "certificate", Done: true}, nil
}

// ApplyAll runs Apply until the plan is done, calling progress (if not
// nil) after every step. It takes at most pages + 4 steps.
func (s *Service) ApplyAll(ctx context.Context, actor account.Account, id string, progress func(Progress)) (Progress, error) {
	p, err := s.GetPlan(ctx, actor, id)
	if err != nil {
		return Progress{}, err
	}
	for range p.Pages + 4 {
		pr, err := s.Apply(ctx, actor, id)
		if err != nil {
			return pr, err
		}
		if progress != nil {
			progress(pr)
		}
		if pr.Done {
			return pr, nil
		}
	}
	return Progress{}, fmt.Errorf("plan %s: apply did not finish in %d steps", id, p.Pages+4)
}

func (s *Service) updatePlan(ctx context.Context, id string, change func(*Plan)) (Plan, error) {
	return metastore.Update(ctx, s.meta, planKey(id), func(r *Plan) error { change(r); return nil })
}

// endDisposals lifts the fence (cases.EndDisposal) of every case whose
// case-record item has an outcome already (held, kept): its record stays.
func (s *Service) endDisposals(ctx context.Context, p Plan, items []Item, out []Outcome) error {
	for i, it := range items {
		if it.Class == policy.ClassCaseRecord && out[i].Result != "" && out[i].Result != OutcomeDestroyed {
			if err := s.cases.EndDisposal(ctx, it.Case, p.ID); err != nil {
				return fmt.Errorf("case %s: %w", it.Case, err)
			}
		}
	}
	return nil
}

// applyPage disposes of one page's records and stores their outcomes.
func (s *Service) applyPage(ctx context.Context, actor account.Account, p Plan, n int) ([]Item, []Outcome, error) {
	items, err := s.loadPage(ctx, p.ID, n)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Outcome, len(items))
	// Holds, read again now.
	holds := map[string]map[string][]string{}
	for _, it := range items {
		if _, ok := holds[it.Case]; ok {
			continue
		}
		h, err := s.activeHolds(ctx, it.Case)
		if err != nil {
			return nil, nil, err
		}
		holds[it.Case] = h
	}
	// Reviews and keeps chosen for the page's records (actions.go).
	if err := s.keepChosen(ctx, actor, p, items, out); err != nil {
		return nil, nil, err
	}
	var keyIdx, heldIdx []int
	for i, it := range items {
		if out[i].Result != "" {
			continue
		}
		if len(it.Held) > 0 {
			out[i] = Outcome{Result: OutcomeHeld, Held: it.Held}
			continue
		}
		h := holds[it.Case]
		by := slices.Clone(h[""])
		if it.Doc != "" {
			by = append(by, h[it.Doc]...)
		}
		if len(by) > 0 {
			out[i] = Outcome{Result: OutcomeHeld, Held: prefixAll("hold ", by)}
			if it.Doc != "" && len(h[it.Doc]) == 0 {
				heldIdx = append(heldIdx, i)
			}
			continue
		}
		if it.Doc != "" {
			keyIdx = append(keyIdx, i)
		}
	}
	// A version of a case held since planning whose key an earlier run
	// of this apply destroyed before it stopped (a crash after the keys
	// step, the hold placed before this run) is crypto-erased: certified
	// destroyed and its record marked erased (vault.ErasedHeld, which
	// deletes nothing), never held (review 406). A document's own hold
	// leaves it as it is.
	if len(heldIdx) > 0 {
		refs := make([]vault.VersionRef, len(heldIdx))
		for j, i := range heldIdx {
			refs[j] = items[i].Ref()
		}
		erased, err := s.vault.ErasedHeld(ctx, refs, s.parallel)
		if err != nil {
			return nil, nil, err
		}
		for j, i := range heldIdx {
			if erased[j] {
				out[i] = Outcome{Result: OutcomeDestroyed}
			}
		}
	}
	// A case record held or kept is not disposed of: a fence an earlier
	// run left on it (cases/disposal.go; a run that stopped after
	// BeginDisposal, a hold placed since) is lifted, or every change to
	// the case would be refused for good.
	if err := s.endDisposals(ctx, p, items, out); err != nil {
		return nil, nil, err
	}
	// 1–3. Keys, then ciphertext, then records (vault.Dispose, which
	// calls s.step at each boundary).
	refs := make([]vault.VersionRef, len(keyIdx))
	for j, i := range keyIdx {
		refs[j] = items[i].Ref()
	}
	errs, err := s.vault.Dispose(ctx, actor.ID, refs, map[string]string{"plan": p.ID}, s.parallel, s.step)
	if err != nil {
		return nil, nil, err
	}
	for j, i := range keyIdx {
		switch {
		case errs[j] == nil, errors.Is(errs[j], vault.ErrErasedHeld):
			// Its key is gone: crypto-erased, even if a hold placed
			// while it went keeps its unreadable ciphertext.
			out[i] = Outcome{Result: OutcomeDestroyed}
		case errors.Is(errs[j], objstore.ErrHeld):
			out[i] = Outcome{Result: OutcomeHeld, Held: []string{"hold placed since planning"}}
		default:
			return nil, nil, fmt.Errorf("dispose of %s version %d: %w", items[i].Doc, items[i].Version, errs[j])
		}
	}
	// 4. Message history: holds read again, one audit batch, then every
	// stored batch of every room deleted.
	var msgIdx []int
	for i, it := range items {
		if it.Class != policy.ClassMessageHistory || out[i].Result != "" {
			continue
		}
		held, err := s.vault.CaseHeld(ctx, it.Case)
		if err != nil {
			return nil, nil, err
		}
		if held {
			out[i] = Outcome{Result: OutcomeHeld, Held: []string{"case hold"}}
			continue
		}
		msgIdx = append(msgIdx, i)
	}
	var events []audit.Event
	for chunk := range slices.Chunk(msgIdx, 64) {
		ev := audit.Event{Type: "retention.messages.destroyed", Actor: actor.ID, Time: s.now().UTC(),
			Attrs: map[string]string{"plan": p.ID, "cases": strconv.Itoa(len(chunk))}}
		for _, i := range chunk {
			ev.Objects = append(ev.Objects, items[i].Case)
		}
		events = append(events, ev)
	}
	if len(events) > 0 {
		if _, err := s.audit.AppendBatch(ctx, events); err != nil {
			return nil, nil, fmt.Errorf("audit: %w", err)
		}
	}
	merrs := make([]error, len(msgIdx))
	workers.Run(len(msgIdx), s.parallel, func(j int) {
		merrs[j] = s.deleteMessages(ctx, items[msgIdx[j]].Case)
	})
	for j, i := range msgIdx {
		switch {
		case merrs[j] == nil:
			out[i] = Outcome{Result: OutcomeDestroyed}
		case errors.Is(merrs[j], errCaseHeldNow):
			out[i] = Outcome{Result: OutcomeHeld, Held: []string{"case hold"}}
		case errors.Is(merrs[j], objstore.ErrHeld):
			out[i] = Outcome{Result: OutcomeHeld, Held: []string{"storage hold"}}
		default:
			return nil, nil, merrs[j]
		}
	}
	if err := s.step("messages"); err != nil {
		return nil, nil, err
	}
	// 5. The case's other records, then case records (caseclasses.go).
	if err := s.disposeCaseItems(ctx, actor, p, items, out); err != nil {
		return nil, nil, err
	}
	if _, err := s.meta.Create(ctx, pageDoneKey(p.ID, n), pageDone{Outcomes: out, At: s.now().UTC()}); err != nil && !errors.Is(err, metastore.ErrExists) {
		return nil, nil, err
	}
	if err := s.step("page"); err != nil {
		return nil, nil, err
	}
	return items, out, nil
}

func prefixAll(p string, l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = p + s
	}
	return out
}

// destroyCaseKeys destroys the case key of every case of the plan of
// which no document remains (a held case, or one with documents not yet
// due, keeps its key). A case the plan destroyed is gone: nothing can be
// uploaded to it. One that stands still takes uploads, and an upload
// loads the case key as it starts, so one racing the key's destruction
// would be answered success and be unreadable for good: such a case is
// fenced (cases.BeginDisposal) for the look at its documents and the
// destruction, and its fence lifted after. An upload reads the fence
// again once its version is staged, before the record that lists it;
// the look after fencing counts staged versions too (vault
// DestroyCaseKeys), so either the upload is refused or its version keeps
// the key.
func (s *Service) destroyCaseKeys(ctx context.Context, actor account.Account, p Plan) error {
	gone, err := s.planDestroyedCases(ctx, p)
	if err != nil {
		return err
	}
	isGone := map[string]bool{}
	for _, id := range gone {
		isGone[id] = true
	}
	var standing []string
	seen := map[string]bool{}
	for n := range p.Pages {
		items, err := s.loadPage(ctx, p.ID, n)
		if err != nil {
			return err
		}
		for _, it := range items {
			if !seen[it.Case] && !isGone[it.Case] {
				seen[it.Case] = true
				standing = append(standing, it.Case)
			}
		}
	}
	attrs := map[string]string{"plan": p.ID}
	_, errs := s.vault.DestroyCaseKeys(ctx, actor.ID, gone, attrs, s.parallel)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, id := range standing {
		// A look unfenced first: most standing cases keep documents.
		due, err := s.vault.CaseKeyDue(ctx, id)
		if err != nil {
			return fmt.Errorf("case %s: %w", id, err)
		}
		if !due {
			// A fence this plan raised for the step and never lifted (a
			// crash, or a lift that failed, after the key went; or a hold
			// placed since) is lifted now, or the standing case would
			// refuse every change for good (review 406). Only this plan's
			// own, named fence: a legacy fence names no plan.
			if c, err := s.cases.Load(ctx, id); err == nil && c.Disposing != nil && c.DisposingPlan == p.ID {
				if err := s.cases.EndDisposal(ctx, id, p.ID); err != nil {
					return fmt.Errorf("case %s: lifting the fence after its case key: %w", id, err)
				}
			} else if err != nil && !errors.Is(err, fault.ErrNotFound) && !errors.Is(err, metastore.ErrNotFound) {
				return fmt.Errorf("case %s: %w", id, err)
			}
			continue
		}
		if _, err := s.cases.BeginDisposal(ctx, id, p.ID); errors.Is(err, cases.ErrDisposalUnderWay) || errors.Is(err, fault.ErrNotFound) {
			continue // another plan's disposal, or gone: not this plan's to do
		} else if err != nil {
			return fmt.Errorf("case %s: %w", id, err)
		}
		_, errs := s.vault.DestroyCaseKeys(ctx, actor.ID, []string{id}, attrs, 1)
		if err := s.cases.EndDisposal(ctx, id, p.ID); err != nil {
			return errors.Join(errs[0], fmt.Errorf("case %s: lifting the fence after its case key: %w", id, err))
		}
		if errs[0] != nil {
			return fmt.Errorf("case %s: %w", id, errs[0])
		}
	}
	return nil
}

// clearFenceMarks deletes the fence markers left without a fence by a
// crash (this plan's or another's) once cases.StaleFenceAge old, and those
// of cases destroyed (cases.GoneFenceAge): a hint for the nodes' watches
// only, so a failure is logged and stops nothing (the next call deletes
// them).
func (s *Service) clearFenceMarks(ctx context.Context) {
	if _, err := s.cases.ClearStaleFences(ctx, cases.StaleFenceAge); err != nil {
		s.logger.WarnContext(ctx, "retention: stale disposal fence markers not listed", "err", err)
	}
}
