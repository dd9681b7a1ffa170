package retention

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// Actions besides destroy (MoReq2010's disposal actions). While a plan
// awaits approval, records staff may choose, for one of its records:
//
//   - review: keep it longer, until a date, for a reason;
//   - keep: keep it permanently, on an authority (a court order, a
//     statute, a program rule);
//
// and for one of its cases:
//
//   - transfer: hand the case file to an archive or a court as an
//     age-encrypted bundle (transfer.go), then destroy what the plan
//     lists of the case, as destroy does.
//
// The choices live in the plan's header (Plan.Actions), changed only
// while it is "planned", so what the second person approves is what is
// carried out; whoever chose one, or set a record back to destroy, does not
// approve the plan (Plan.Choosers, a Cedar forbid). Applying a page records each review and keep
// (retention/keeps/<case>/…, journaled, one audit entry each) instead of
// destroying the record; later plans leave a kept record out until its
// review date, or for good. Every choice is audited with the SHA-256 of
// its reason or authority; the text itself is in the plan and on the
// certificate, which are records staff's.

// The action kinds.
const (
	ActionDestroy  = api.ActionDestroy
	ActionReview   = api.ActionReview
	ActionKeep     = api.ActionKeep
	ActionTransfer = api.ActionTransfer
)

// Outcomes of a record kept by an action.
const (
	// OutcomeReviewed: kept until its review date (Outcome.Kept says).
	OutcomeReviewed = "reviewed"
	// OutcomeKeptPermanently: kept for good (Outcome.Kept names the
	// authority).
	OutcomeKeptPermanently = "kept-permanently"
)

// Limits on a choice.
const (
	MaxActionText = 500 // reason, authority: characters
	MaxRecipient  = 200 // recipient name: characters
	MaxActions    = 10_000
	// MaxReview is how far a review may extend a record's period.
	MaxReview = 100 * 365 * 24 * time.Hour
)

// DisposalAction is one choice.
type DisposalAction = api.DisposalAction

// ChooseAction is a request to choose.
type ChooseAction = api.ChooseAction

// ItemKey names a plan's record among its actions: "<case>/<doc>@<version>"
// for a document version, "<case>/<class>" for the others.
func ItemKey(it Item) string {
	if it.Doc != "" {
		return it.Case + "/" + it.Doc + "@" + strconv.Itoa(it.Version)
	}
	return it.Case + "/" + it.Class
}

// actionFor is the action chosen for a record: its own, else its case's
// transfer, else destroy.
func (p Plan) actionFor(it Item) DisposalAction {
	if a, ok := p.Actions[ItemKey(it)]; ok {
		return a
	}
	if a, ok := p.Actions[it.Case]; ok {
		return a
	}
	return DisposalAction{Kind: ActionDestroy}
}

// transferCases lists the cases chosen for transfer, sorted.
func (p Plan) transferCases() []string {
	var out []string
	for k, a := range p.Actions {
		if a.Kind == ActionTransfer {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// commit hashes a short free text (a review's reason, a keep's authority,
// a transfer's recipient name) for the audit log with the server-keyed
// hash package cases uses for its texts (metastore IndexKey, domain
// "audit-commit"): an unkeyed hash of a short, guessable text would give
// the text away to anyone holding the log. The same text gives the same
// commitment in either package, so a node can check a text against an
// entry; nobody without the records key can.
func (s *Service) commit(text string) string { return s.meta.IndexKey("audit-commit", text) }

func checkLine(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fault.Invalid(field, "required")
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max || strings.ContainsAny(s, "\x00\r\n") {
		return "", fault.Invalid(field, fmt.Sprintf("one line of at most %d characters", max))
	}
	return s, nil
}

// Choose records records staff's choice of action for one record (or, for
// a transfer, one case) of a plan awaiting approval, and returns the plan.
func (s *Service) Choose(ctx context.Context, actor account.Account, planID string, req ChooseAction) (Plan, error) {
	act := policy.RetentionReview
	switch req.Kind {
	case ActionKeep:
		act = policy.RetentionKeep
	case ActionTransfer:
		act = policy.RetentionTransfer
	case ActionReview, ActionDestroy:
	default:
		return Plan{}, fault.Invalid("kind", "one of destroy, review, keep, transfer")
	}
	if err := s.allow(ctx, actor, act); err != nil {
		return Plan{}, err
	}
	p, _, err := s.loadPlan(ctx, planID)
	if err != nil {
		return Plan{}, err
	}
	if p.State != StatePlanned {
		return Plan{}, fmt.Errorf("plan %s is %s: actions are chosen before approval: %w", planID, p.State, fault.ErrConflict)
	}
	a := DisposalAction{Kind: req.Kind, By: actor.ID, At: s.now().UTC()}
	key := req.Case
	var target *Item
	if req.Kind == ActionTransfer || (req.Kind == ActionDestroy && req.Doc == "" && req.Class == "") {
		found := false
		if err := s.eachItem(ctx, p, func(it Item) bool {
			if it.Case == req.Case && len(it.Held) == 0 {
				found = true
			}
			return !found
		}); err != nil {
			return Plan{}, err
		}
		if !found {
			return Plan{}, fmt.Errorf("plan %s destroys nothing of case %q: %w", planID, req.Case, fault.ErrNotFound)
		}
	} else {
		want := Item{Case: req.Case, Doc: req.Doc, Version: req.Version, Class: req.Class}
		key = ItemKey(want)
		if err := s.eachItem(ctx, p, func(it Item) bool {
			if ItemKey(it) == key {
				target = &it
			}
			return target == nil
		}); err != nil {
			return Plan{}, err
		}
		if target == nil {
			return Plan{}, fmt.Errorf("plan %s has no record %s: %w", planID, key, fault.ErrNotFound)
		}
		if len(target.Held) > 0 {
			return Plan{}, fmt.Errorf("record %s is held, and kept anyway: %w", key, fault.ErrConflict)
		}
	}
	attrs := map[string]string{"plan": p.ID, "kind": a.Kind, "record": key}
	var hashes []string
	switch a.Kind {
	case ActionReview:
		if a.Reason, err = checkLine("reason", req.Reason, MaxActionText); err != nil {
			return Plan{}, err
		}
		if req.Until == nil {
			return Plan{}, fault.Invalid("until", "required: the date to review the record again")
		}
		until := req.Until.UTC()
		if !until.After(s.now()) || !until.After(target.DueAt) {
			return Plan{}, fault.Invalid("until", "after today and after the record's due date")
		}
		if until.Sub(s.now()) > MaxReview {
			return Plan{}, fault.Invalid("until", "within 100 years; to keep a record for good, keep it permanently")
		}
		a.Until = &until
		attrs["until"] = until.Format(time.RFC3339)
		hashes = []string{s.commit(a.Reason)}
	case ActionKeep:
		if a.Authority, err = checkLine("authority", req.Authority, MaxActionText); err != nil {
			return Plan{}, err
		}
		hashes = []string{s.commit(a.Authority)}
	case ActionTransfer:
		r := strings.TrimSpace(req.Recipient)
		if _, err := age.ParseX25519Recipient(r); err != nil || len(r) > 200 {
			return Plan{}, fault.Invalid("recipient", "the recipient's age public key (age1…)")
		}
		a.Recipient = r
		if a.RecipientName, err = checkLine("recipientName", req.RecipientName, MaxRecipient); err != nil {
			return Plan{}, err
		}
		attrs["recipient"] = r
		hashes = []string{s.commit(a.RecipientName)}
	}
	// The entry is appended before the plan's update; if the update then
	// refuses (the plan was approved or ended meanwhile, or is full) or
	// fails, it is settled with retention.action.failed (or .unknown), as
	// an approval's is.
	ev := audit.Paired(audit.Event{Type: "retention.action", Actor: actor.ID, Case: req.Case,
		Objects: []string{p.ID}, Hashes: hashes, Attrs: attrs})
	if err := s.record(ctx, ev); err != nil {
		return Plan{}, fmt.Errorf("audit: %w", err)
	}
	if err := s.step("action-recorded"); err != nil {
		return Plan{}, err // as a crash would: the entry stands unsettled
	}
	refused := false
	out, err := metastore.Update(ctx, s.meta, planKey(planID), func(r *Plan) error {
		refused = true
		if r.State != StatePlanned {
			return fmt.Errorf("plan %s is %s: actions are chosen before approval: %w", planID, r.State, fault.ErrConflict)
		}
		// Whoever chooses, destroy included, is a chooser and does not
		// approve the plan: setting a record back to destroy undoes
		// someone else's keep, review or transfer, and so decides what
		// is destroyed as much as choosing one does. A destroy chosen
		// for a record with no other choice counts too: the audit log
		// records it as their choice, and whether it changed anything
		// depends on what others chose meanwhile.
		if !slices.Contains(r.Choosers, actor.ID) {
			r.Choosers = append(r.Choosers, actor.ID)
		}
		if a.Kind == ActionDestroy {
			delete(r.Actions, key)
			refused = false
			return nil
		}
		if r.Actions == nil {
			r.Actions = map[string]DisposalAction{}
		}
		if _, ok := r.Actions[key]; !ok && len(r.Actions) >= MaxActions {
			return fmt.Errorf("a plan takes at most %d choices: %w", MaxActions, fault.ErrTooLarge)
		}
		r.Actions[key] = a
		refused = false
		return nil
	})
	if err != nil {
		var landed func(context.Context) (bool, error)
		if !refused {
			// A store error does not prove the choice absent: read the
			// plan back, with this choice of this actor or not.
			landed = func(ctx context.Context) (bool, error) {
				r, _, err := s.loadPlan(ctx, planID)
				if err != nil {
					return false, err
				}
				got, ok := r.Actions[key]
				if a.Kind == ActionDestroy {
					return !ok && slices.Contains(r.Choosers, actor.ID), nil
				}
				return ok && got.By == actor.ID && got.At.Equal(a.At), nil
			}
		}
		s.settle(ctx, ev, "retention.action", err, landed)
		return Plan{}, err
	}
	return out, nil
}

// eachItem calls fn with every record of a plan, in order, until it
// returns false.
func (s *Service) eachItem(ctx context.Context, p Plan, fn func(Item) bool) error {
	for n := range p.Pages {
		items, err := s.loadPage(ctx, p.ID, n)
		if err != nil {
			return err
		}
		for _, it := range items {
			if !fn(it) {
				return nil
			}
		}
	}
	return nil
}

// keep is a record kept by a review or a keep, stored at
// retention/keeps/<case>/<plan>.<hash of the record key>, create-only:
// later plans read them (keptBack) and leave the record out.
type keep struct {
	Record    string     `json:"record"` // ItemKey
	Kind      string     `json:"kind"`
	Until     *time.Time `json:"until,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Authority string     `json:"authority,omitempty"`
	Plan      string     `json:"plan"`
	By        string     `json:"by"`
	Approver  string     `json:"approver,omitempty"`
	Audit     *int64     `json:"audit,omitempty"`
}

func keepPrefix(caseID string) string { return "retention/keeps/" + caseID + "/" }

func keepKey(planID string, it Item) string {
	sum := sha256.Sum256([]byte(ItemKey(it)))
	return keepPrefix(it.Case) + planID + "." + hex.EncodeToString(sum[:12])
}

// keepChosen carries out the reviews and keeps of a page: for each, the
// keep is stored, then audited once, and its outcome set; destruction
// then passes the record by. A rerun finds the keep and audits no more.
func (s *Service) keepChosen(ctx context.Context, actor account.Account, p Plan, items []Item, out []Outcome) error {
	for i, it := range items {
		a := p.actionFor(it)
		if len(it.Held) > 0 || (a.Kind != ActionReview && a.Kind != ActionKeep) {
			continue
		}
		key := keepKey(p.ID, it)
		k := keep{Record: ItemKey(it), Kind: a.Kind, Until: a.Until, Reason: a.Reason, Authority: a.Authority, Plan: p.ID, By: a.By}
		if p.Approved != nil {
			k.Approver = p.Approved.By
		}
		if _, err := s.meta.Create(ctx, key, k); err != nil && !errors.Is(err, metastore.ErrExists) {
			return err
		}
		if _, err := s.meta.Get(ctx, key, &k); err != nil {
			return err
		}
		if k.Audit == nil {
			ev := audit.Event{Type: "retention.kept", Actor: actor.ID, Case: it.Case, Objects: []string{p.ID},
				Attrs: map[string]string{"plan": p.ID, "kind": a.Kind, "record": k.Record, "class": it.Class}}
			if a.Kind == ActionReview {
				ev.Attrs["until"] = a.Until.Format(time.RFC3339)
				ev.Hashes = []string{s.commit(a.Reason)}
			} else {
				ev.Hashes = []string{s.commit(a.Authority)}
			}
			if it.Commit != "" {
				ev.Hashes = append(ev.Hashes, it.Commit)
			}
			ev.Time = s.now().UTC()
			idx, err := s.audit.Append(ctx, ev)
			if err != nil {
				return fmt.Errorf("audit: %w", err)
			}
			if _, err := metastore.Update(ctx, s.meta, key, func(r *keep) error {
				if r.Audit == nil {
					r.Audit = &idx
				}
				return nil
			}); err != nil {
				return err
			}
			k.Audit = &idx
		}
		if a.Kind == ActionReview {
			out[i] = Outcome{Result: OutcomeReviewed, Kept: "reviewed: kept until " + a.Until.Format("2006-01-02") + ": " + a.Reason, Audit: k.Audit}
		} else {
			out[i] = Outcome{Result: OutcomeKeptPermanently, Kept: "kept permanently: " + a.Authority, Audit: k.Audit}
		}
	}
	return s.step("kept")
}

// activeKeeps counts a case's records kept now: for good, or until a
// date not yet reached. A case record is kept while any is.
func (s *Service) activeKeeps(ctx context.Context, caseID string) (int, error) {
	keeps, err := s.keeps(ctx, caseID)
	n := 0
	for _, k := range keeps {
		if k.Kind == ActionKeep || (k.Until != nil && s.now().Before(*k.Until)) {
			n++
		}
	}
	return n, err
}

func (s *Service) keeps(ctx context.Context, caseID string) ([]keep, error) {
	var keys []string
	if err := s.meta.List(ctx, keepPrefix(caseID), func(key string) error { keys = append(keys, key); return nil }); err != nil {
		return nil, err
	}
	var out []keep
	for _, key := range keys {
		var k keep
		if _, err := s.meta.Get(ctx, key, &k); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// keptBack drops from a case's due records those a review keeps until
// after asOf, or a keep for good.
func (s *Service) keptBack(ctx context.Context, caseID string, asOf time.Time, items []Item) ([]Item, error) {
	keeps, err := s.keeps(ctx, caseID)
	if err != nil || len(keeps) == 0 {
		return items, err
	}
	kept := map[string]bool{}
	for _, k := range keeps {
		if k.Kind == ActionKeep || (k.Until != nil && asOf.Before(*k.Until)) {
			kept[k.Record] = true
		}
	}
	return slices.DeleteFunc(items, func(it Item) bool { return kept[ItemKey(it)] }), nil
}
