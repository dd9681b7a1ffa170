package retention

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// A plan is stored as a header and pages, all sealed records:
//
//	retention/plans/<plan>/plan            the header (Plan)
//	retention/plans/<plan>/items/<page>    up to PageSize records (page)
//	retention/plans/<plan>/done/<page>     each page's outcomes, once applied
//
// The pages are written first and the header last, so a plan is either
// whole or invisible. A page is one step of Apply.

func planPrefix(id string) string         { return "retention/plans/" + id + "/" }
func planKey(id string) string            { return planPrefix(id) + "plan" }
func pageKey(id string, n int) string     { return fmt.Sprintf("%sitems/%06d", planPrefix(id), n) }
func pageDoneKey(id string, n int) string { return fmt.Sprintf("%sdone/%06d", planPrefix(id), n) }

// Plan states.
const (
	StatePlanned    = "planned"
	StateApproved   = "approved"
	StateApplying   = "applying"
	StateCertifying = "certifying"
	StateDone       = "done"
	// StateDiscarded: dropped before it was carried out (Discard); its
	// pages are gone and it is no longer listed.
	StateDiscarded = "discarded"
)

// Item is one record of a plan: a document version, or (Doc empty) a
// case's message history, one of its case classes' records (all of them
// for the case: policy.CaseClasses) or its statistical stub, by Class. It names the record by ids and says what it is
// without saying anything of its content.
type Item struct {
	Case string `json:"case"`
	// Reference is the case's docket or file number, as of the plan.
	Reference string         `json:"reference,omitempty"`
	Doc       string         `json:"doc,omitempty"`
	Version   int            `json:"version,omitempty"`
	Class     string         `json:"class"`
	Trigger   policy.Trigger `json:"trigger"`
	TriggerAt time.Time      `json:"triggerAt"`
	DueAt     time.Time      `json:"dueAt"`
	Size      int64          `json:"size"`
	// Commit is the keyed hash of the content the audit log carries for
	// this version (doc.upload), empty for message history.
	Commit string `json:"commit,omitempty"`
	// Held lists the holds that exclude the record from the plan, as
	// "hold h_…" or "document hold" (placed with `parley doc hold`).
	Held []string `json:"held,omitempty"`
	// Paused: for a case record, when an earlier plan's disposal of the
	// case stopped at a storage (legal) hold and left what remained
	// (cases.PauseDisposal); this plan resumes it.
	Paused *time.Time `json:"paused,omitempty"`
	// Opened is when the case was opened, to tell apart cases with no
	// reference (records staff read it on the case list too); absent
	// for a statistical stub (its case is gone) and in plans made
	// before it was recorded.
	Opened *time.Time `json:"opened,omitempty"`
}

// Ref is the vault's name for the item's document version.
func (it Item) Ref() vault.VersionRef {
	return vault.VersionRef{Case: it.Case, Doc: it.Doc, Version: it.Version}
}

// Approval is the second person's sign-off.
type Approval = api.Approval

// Plan is a disposition plan's header.
type Plan struct {
	ID       string          `json:"id"`
	AsOf     time.Time       `json:"asOf"`
	Created  time.Time       `json:"created"`
	Planner  string          `json:"planner"`
	Schedule policy.Schedule `json:"schedule"`
	State    string          `json:"state"`
	// Pages of the plan's records; Records of them are due, Held held.
	Pages   int   `json:"pages"`
	Records int   `json:"records"`
	Held    int   `json:"held"`
	Bytes   int64 `json:"bytes"`
	Cases   int   `json:"cases"`
	// Residue counts, by kind, what the sweep found that no class covers
	// (sweep.go); the objects themselves are in the plan's residue record.
	Residue map[string]int `json:"residue,omitempty"`
	// Approved is set once a second person approves the plan.
	Approved *Approval  `json:"approved,omitempty"`
	Started  *time.Time `json:"started,omitempty"`
	// CaseKeysDone: the case-key step has run after the last page.
	CaseKeysDone bool `json:"caseKeysDone,omitempty"`
	// Completed is the time on the certificate, set once before it is
	// made, so a rerun makes the same certificate.
	Completed *time.Time `json:"completed,omitempty"`
	// LinkFrom is the audit log's size before the certificate was linked:
	// a rerun looks for its own link from there rather than add another.
	LinkFrom int64 `json:"linkFrom,omitempty"`
	// AuditFrom is the audit log's size when the apply started: the
	// plan's destructions are recorded from there on.
	AuditFrom   int64  `json:"auditFrom,omitempty"`
	Certificate string `json:"certificate,omitempty"` // its id, once done
	// Actions chosen besides destroy (actions.go), by ItemKey (a
	// transfer by case id), and who chose them: they do not approve.
	Actions  map[string]DisposalAction `json:"actions,omitempty"`
	Choosers []string                  `json:"choosers,omitempty"`
	// TransfersDone: the transfer bundles are made (transfer.go).
	TransfersDone bool `json:"transfersDone,omitempty"`
}

type page struct {
	Items []Item `json:"items"`
}

// MakePlan draws up a disposition plan as of asOf (zero: now; never in the
// future, which would dispose of records before they are due) under the
// schedule in force. Every record the schedule says is due is in it; those
// under hold are in it too, marked held, and are never disposed of.
func (s *Service) MakePlan(ctx context.Context, actor account.Account, asOf time.Time) (Plan, error) {
	if err := s.allow(ctx, actor, policy.RetentionPlan); err != nil {
		return Plan{}, err
	}
	now := s.now().UTC()
	if asOf.IsZero() {
		asOf = now
	}
	asOf = asOf.UTC()
	if asOf.After(now) {
		return Plan{}, fault.Invalid("asOf", "not in the future: a plan disposes of what is due now or earlier")
	}
	sched, err := s.currentSchedule(ctx)
	if err != nil {
		return Plan{}, err
	}
	var all []*cases.Case
	if err := s.cases.All(ctx, func(c *cases.Case) error { all = append(all, c); return nil }); err != nil {
		return Plan{}, err
	}
	inv, err := s.takeInventory(ctx)
	if err != nil {
		return Plan{}, err
	}
	perCase := make([][]Item, len(all))
	errs := make([]error, len(all))
	workers.Run(len(all), s.parallel, func(i int) {
		perCase[i], errs[i] = s.dueInCase(ctx, sched.Schedule, all[i], asOf, inv)
	})
	if err := errors.Join(errs...); err != nil {
		return Plan{}, err
	}
	var items []Item
	for _, l := range perCase {
		items = append(items, l...)
	}
	residue, err := s.sweep(ctx, sched.Schedule, asOf, all)
	if err != nil {
		return Plan{}, err
	}
	if !slices.ContainsFunc(items, func(it Item) bool { return len(it.Held) == 0 }) && len(residue) == 0 {
		// Nothing to destroy (at most records kept by a hold): no plan.
		return Plan{}, fmt.Errorf("%w", NothingDue(asOf, len(items)))
	}
	if len(items) > MaxPlanRecords {
		return Plan{}, fmt.Errorf("%d records are due, more than one plan takes (%d); plan as of an earlier date first: %w", len(items), MaxPlanRecords, fault.ErrTooLarge)
	}
	stubs, err := s.stubItems(ctx, sched.Schedule, asOf)
	if err != nil {
		return Plan{}, err
	}
	items = append(items, stubs...)
	slices.SortFunc(items, func(a, b Item) int {
		return cmp.Or(strings.Compare(a.Case, b.Case), itemRank(a)-itemRank(b), strings.Compare(a.Doc, b.Doc), a.Version-b.Version)
	})
	p := Plan{ID: ids.New("p"), AsOf: asOf, Created: now, Planner: actor.ID, Schedule: sched.Schedule, State: StatePlanned,
		Residue: residueCounts(residue)}
	if err := s.storeResidue(ctx, p.ID, residue); err != nil {
		return Plan{}, err
	}
	seen := map[string]bool{}
	for _, it := range items {
		if len(it.Held) > 0 {
			p.Held++
			continue
		}
		p.Records++
		p.Bytes += it.Size
		if !seen[it.Case] {
			seen[it.Case] = true
			p.Cases++
		}
	}
	for start := 0; start < len(items); start += s.pageSize {
		pg := page{Items: items[start:min(start+s.pageSize, len(items))]}
		if _, err := s.meta.Create(ctx, pageKey(p.ID, p.Pages), pg); err != nil {
			return Plan{}, err
		}
		p.Pages++
	}
	if err := s.record(ctx, audit.Event{Type: "retention.plan", Actor: actor.ID, Objects: []string{p.ID},
		Attrs: map[string]string{"asOf": asOf.Format(time.RFC3339), "schedule": strconv.Itoa(p.Schedule.Version),
			"records": strconv.Itoa(p.Records), "held": strconv.Itoa(p.Held), "bytes": strconv.FormatInt(p.Bytes, 10), "residue": strconv.Itoa(len(residue))}}); err != nil {
		return Plan{}, fmt.Errorf("audit: %w", err)
	}
	if _, err := s.meta.Create(ctx, planKey(p.ID), p); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// dueInCase lists a case's records that are due as of asOf.
func (s *Service) dueInCase(ctx context.Context, sched policy.Schedule, c *cases.Case, asOf time.Time, inv *inventory) ([]Item, error) {
	records, err := s.vault.Records(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	holds, err := s.activeHolds(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	caseHeld, err := s.vault.CaseHeld(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	heldBy := func(doc string, docHold bool) []string {
		var out []string
		for _, id := range holds[""] {
			out = append(out, "hold "+id)
		}
		if doc != "" {
			for _, id := range holds[doc] {
				out = append(out, "hold "+id)
			}
		}
		if len(out) == 0 && caseHeld {
			out = append(out, "case hold")
		}
		if docHold && len(holds[doc]) == 0 {
			out = append(out, "document hold")
		}
		return out
	}
	var out []Item
	for _, r := range records {
		for i, v := range r.Versions {
			if v.Erased {
				continue
			}
			facts := policy.RecordFacts{Class: string(r.Class), Created: v.Created, CaseClosed: c.Closed}
			if i+1 < len(r.Versions) {
				sup := r.Versions[i+1].Created
				facts.Superseded = &sup
			}
			d := sched.Decide(facts, asOf)
			if !d.Due {
				continue
			}
			out = append(out, Item{Case: c.ID, Reference: c.Reference, Doc: r.Doc, Version: v.Version, Class: string(r.Class),
				Trigger: d.Rule.Trigger, TriggerAt: d.TriggerAt, DueAt: d.DueAt, Size: v.Size, Commit: v.Commit,
				Held: heldBy(r.Doc, r.Held)})
		}
	}
	keys, size, err := s.messageHistory(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		d := sched.Decide(policy.RecordFacts{Class: policy.ClassMessageHistory, Created: c.Created, CaseClosed: c.Closed}, asOf)
		if d.Due {
			out = append(out, Item{Case: c.ID, Reference: c.Reference, Class: policy.ClassMessageHistory, Trigger: d.Rule.Trigger,
				TriggerAt: d.TriggerAt, DueAt: d.DueAt, Size: size, Held: heldBy("", false)})
		}
	}
	more, err := s.caseClassItems(ctx, sched, c, asOf, inv, heldBy("", false))
	if err != nil {
		return nil, err
	}
	out, err = s.keptBack(ctx, c.ID, asOf, append(out, more...)) // actions.go
	if err != nil {
		return nil, err
	}
	opened := c.Created
	for i := range out {
		out[i].Opened = &opened
	}
	return out, nil
}

// loadPlan reads a plan's header.
func (s *Service) loadPlan(ctx context.Context, id string) (Plan, string, error) {
	if !ids.Valid("p", id) {
		return Plan{}, "", fmt.Errorf("plan: %w", fault.ErrNotFound)
	}
	var p Plan
	etag, err := s.meta.Get(ctx, planKey(id), &p)
	if errors.Is(err, metastore.ErrNotFound) {
		return Plan{}, "", fmt.Errorf("plan %s: %w", id, fault.ErrNotFound)
	}
	return p, etag, err
}

func (s *Service) loadPage(ctx context.Context, id string, n int) ([]Item, error) {
	var pg page
	if _, err := s.meta.Get(ctx, pageKey(id, n), &pg); err != nil {
		return nil, err
	}
	return pg.Items, nil
}

// GetPlan returns a plan's header.
func (s *Service) GetPlan(ctx context.Context, actor account.Account, id string) (Plan, error) {
	if err := s.allow(ctx, actor, policy.RetentionPlan); err != nil {
		return Plan{}, err
	}
	p, _, err := s.loadPlan(ctx, id)
	return p, err
}

// PlanPage returns page n of a plan's records.
func (s *Service) PlanPage(ctx context.Context, actor account.Account, id string, n int) ([]Item, error) {
	p, err := s.GetPlan(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if p.State == StateDiscarded {
		return nil, errDiscarded(id)
	}
	if n < 0 || n >= p.Pages {
		return nil, fmt.Errorf("plan %s has %d pages: %w", id, p.Pages, fault.ErrNotFound)
	}
	return s.loadPage(ctx, id, n)
}

// Plans lists every plan's header, newest first.
func (s *Service) Plans(ctx context.Context, actor account.Account) ([]Plan, error) {
	if err := s.allow(ctx, actor, policy.RetentionPlan); err != nil {
		return nil, err
	}
	var keys []string
	if err := s.meta.List(ctx, "retention/plans/", func(key string) error {
		if strings.HasSuffix(key, "/plan") { // discarded ones are dropped below
			keys = append(keys, key)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]Plan, len(keys))
	errs := make([]error, len(keys))
	var mu sync.Mutex
	workers.Run(len(keys), s.parallel, func(i int) {
		var p Plan
		_, err := s.meta.Get(ctx, keys[i], &p)
		mu.Lock()
		out[i], errs[i] = p, err
		mu.Unlock()
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out = slices.DeleteFunc(out, func(p Plan) bool { return p.State == StateDiscarded })
	slices.SortFunc(out, func(a, b Plan) int { return b.Created.Compare(a.Created) })
	return out, nil
}

// ErrChoicesChanged refuses an approval whose approver was shown other
// choices than the plan now holds (a clerk changed a transfer's key, a
// review's date, or set a record back to destroy, after the approver
// looked): they look again and approve what they see.
var ErrChoicesChanged = fmt.Errorf("the choices for this plan's records changed after you looked at them; look at them again, then approve what you see: %w", fault.ErrConflict)

// ActionsDigest is the digest of a plan's chosen actions as the actions
// listing shows them (GET …/actions, api.PlanActions.ActionsDigest): every
// field of every choice (kind, reason, review date, authority, recipient's
// key and name, who chose it and when), under the plan's id. Approve takes
// it back, so an approval covers exactly the choices its approver saw.
func (p Plan) ActionsDigest() string {
	actions := p.Actions
	if actions == nil {
		actions = map[string]DisposalAction{} // none chosen, or all dropped: the same
	}
	b, err := json.Marshal(struct {
		Plan    string                    `json:"plan"`
		Actions map[string]DisposalAction `json:"actions"` // encoding/json sorts the keys
	}{p.ID, actions})
	if err != nil {
		panic(err) // strings and times only
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Approve records a second person's approval of a plan. Policy refuses the
// plan's own planner and whoever chose its actions, and any account one
// person could hold together with theirs: their creators, accounts they or
// their creators made, accounts whose lineage is unknown
// (retention.cedar's four-eyes and independence forbids). seen is the
// ActionsDigest of the choices the approver was shown: required, and if
// the plan's choices differ now the approval is refused
// (ErrChoicesChanged), in the same conditional update that approves.
func (s *Service) Approve(ctx context.Context, actor account.Account, id, seen string) (Plan, error) {
	p, _, err := s.loadPlan(ctx, id)
	if err != nil {
		return Plan{}, err
	}
	facts := policy.Plan{Planner: p.Planner, Choosers: p.Choosers}
	if facts.PlannerLineage, err = s.lineages(ctx, p.Planner); err != nil {
		return Plan{}, fmt.Errorf("the planner's account: %w", err)
	}
	if facts.ChoosersLineage, err = s.lineages(ctx, p.Choosers...); err != nil {
		return Plan{}, fmt.Errorf("the account of whoever chose its actions: %w", err)
	}
	principal, err := s.approver(ctx, actor)
	if err != nil {
		return Plan{}, err
	}
	if d := s.policy.DecidePlan(principal, policy.RetentionApprove, facts); !d.Allowed {
		switch {
		case actor.ID == p.Planner || slices.Contains(p.Choosers, actor.ID):
			s.refused(ctx, actor, policy.RetentionApprove, "")
			return Plan{}, fmt.Errorf("a plan is approved by someone other than its planner and whoever chose its actions: %w", fault.ErrForbidden)
		case slices.Contains(d.Policies, "approver-independent-of-plan"):
			s.refused(ctx, actor, policy.RetentionApprove, "")
			return Plan{}, fmt.Errorf("a plan is approved by someone independent of its planner and whoever chose its actions: not an account that created theirs, nor one made by them or by the accounts that made theirs: %w", fault.ErrForbidden)
		case slices.Contains(d.Policies, "unknown-provenance-approves-no-plan"):
			s.refused(ctx, actor, policy.RetentionApprove, "")
			return Plan{}, fmt.Errorf("your account was made before Parley recorded who creates accounts, so it approves no plan: %w", fault.ErrForbidden)
		}
		return Plan{}, s.refused(ctx, actor, policy.RetentionApprove, "")
	}
	if strings.TrimSpace(seen) == "" {
		return Plan{}, fault.Invalid("actionsDigest", "required: the actionsDigest of the plan's actions as you were shown them (GET …/actions)")
	}
	if p.State != StatePlanned {
		return Plan{}, fmt.Errorf("plan %s is %s, not awaiting approval: %w", id, p.State, fault.ErrConflict)
	}
	if p.ActionsDigest() != seen {
		return Plan{}, ErrChoicesChanged
	}
	// The entry names the digest approved; if the update then refuses (the
	// choices or the plan's state changed meanwhile) or fails, it is
	// settled with retention.approve.failed (or .unknown), like a hold's.
	ev := audit.Paired(audit.Event{Type: "retention.approve", Actor: actor.ID, Objects: []string{p.ID},
		Attrs: map[string]string{"planner": p.Planner, "records": strconv.Itoa(p.Records), "actions": seen}})
	if err := s.record(ctx, ev); err != nil {
		return Plan{}, fmt.Errorf("audit: %w", err)
	}
	if err := s.step("approve-recorded"); err != nil {
		return Plan{}, err // as a crash would: the entry stands unsettled
	}
	refused := false
	approved, err := metastore.Update(ctx, s.meta, planKey(id), func(r *Plan) error {
		refused = false
		if r.State != StatePlanned {
			refused = true
			return fmt.Errorf("plan %s is %s, not awaiting approval: %w", id, r.State, fault.ErrConflict)
		}
		if r.ActionsDigest() != seen || !slices.Equal(r.Choosers, p.Choosers) {
			// Someone chose an action since the approver looked, or
			// since policy was asked (their account was not weighed):
			// look again.
			refused = true
			return ErrChoicesChanged
		}
		r.State = StateApproved
		r.Approved = &Approval{By: actor.ID, At: s.now().UTC()}
		return nil
	})
	if err != nil {
		var landed func(context.Context) (bool, error)
		if !refused {
			// A store error does not prove the approval absent: read the
			// plan back, approved by this actor or not.
			landed = func(ctx context.Context) (bool, error) {
				r, _, err := s.loadPlan(ctx, id)
				if err != nil {
					return false, err
				}
				return r.State != StatePlanned && r.Approved != nil && r.Approved.By == actor.ID, nil
			}
		}
		s.settle(ctx, ev, "retention.approve", err, landed)
		return Plan{}, err
	}
	return approved, nil
}
