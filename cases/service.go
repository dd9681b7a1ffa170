package cases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/visible"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// Field limits.
const (
	MaxTitleLen     = 200
	MaxTypeLen      = 64
	MaxSides        = 8
	MaxTextLen      = 4000 // objectives, disclosures, notes
	MaxObjectives   = 200
	MaxDisclosures  = 100
	MaxParticipants = 200
	// MaxStageHistory is how many stage changes a case record keeps (the
	// latest; the audit log has every one).
	MaxStageHistory  = 100
	DefaultInviteTTL = 72 * time.Hour
	MaxInviteTTL     = 30 * 24 * time.Hour
)

// Service runs cases.
type Service struct {
	// OnMembership, if set, is called after a change of who is in the
	// case (a participant joined, a mediator was added or recused), so the
	// rooms layer can start new epochs and re-check open connections.
	OnMembership func(ctx context.Context, caseID string, change MembershipChange)
	// OnDisposal, if set, is called once BeginDisposal has fenced a case
	// (disposal.go), so the rooms layer can tell every node's open
	// connections to stop taking posts to it at once.
	OnDisposal func(ctx context.Context, caseID string)
	// OnClosed, if set, is called once SetStage has closed a case, with
	// the account that closed it, so the schedule can cancel the
	// sessions still to come (schedule.Service.CaseClosed); and again
	// when SetStage is asked to close a case already closed (ErrClosed),
	// so a closing that answered an error is finished by its retry: it
	// must do nothing twice.
	OnClosed func(ctx context.Context, caseID, by string)
	// ReassignmentNotice is how long a mediator the program assigned to an
	// orphaned case waits, after approval, before reading anything
	// (default DefaultReassignmentNotice). Every participant sees the
	// notice meanwhile.
	ReassignmentNotice time.Duration
	// DefaultTerms is the program's default terms for every case (the
	// agreement to mediate, confidentiality, ground rules); empty means
	// BuiltinTerms. A case's mediators may edit their case's copy.
	DefaultTerms string
	// Devices checks the device signatures on acceptances of terms and
	// acknowledgements of disclosures (the key directory).
	Devices DeviceVerifier
	// Membership tells which mediators the case's signed membership
	// seats (the key directory): only they invite people and make links
	// back in (seated.go).
	Membership MembershipReader
	// Log receives the service's warnings (audit events left pending in a
	// case record, outbox.go); nil means slog.Default().
	Log *slog.Logger

	meta     *metastore.Store
	accounts *account.Service
	policy   *policy.Engine
	audit    *audit.Log
	now      func() time.Time

	// sweepMu guards sweepAfter, the last marker the audit sweep's
	// previous pass reached (outbox.go, SweepOnce): one key, whatever the
	// number of markers.
	sweepMu    sync.Mutex
	sweepAfter string

	// listCache keeps the case records List read, by stored version
	// (listcache.go).
	listCache caseListCache

	// maxPendingRead, when set (tests), replaces MaxPendingRead.
	maxPendingRead int

	// seats caches what Membership said about each case for Admission
	// (seated.go): seatsMu guards it and is never held across a read.
	seatsMu sync.Mutex
	seats   map[string]membershipEntry
	// seatReads counts, for each case whose seats are being read, the
	// reads in flight and the ForgetSeats calls since the oldest began
	// (seated.go); an entry goes when its last read ends.
	seatReads map[string]*seatRead
}

// NewService wires a case service.
func NewService(meta *metastore.Store, accounts *account.Service, pol *policy.Engine, log *audit.Log) *Service {
	return &Service{meta: meta, accounts: accounts, policy: pol, audit: log, now: time.Now,
		ReassignmentNotice: DefaultReassignmentNotice}
}

// SetClock replaces the service's clock (tests move time with it). Call it
// before the service serves requests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

func caseKey(id string) string { return "cases/" + id + "/case" }

// RecordKey is where case id's record is stored (retention deletes it).
func RecordKey(id string) string { return caseKey(id) }

// authorize asks policy and audits a refusal. c may be nil for server-wide
// actions.
func (s *Service) authorize(ctx context.Context, actor account.Account, a policy.Action, c *Case) error {
	var facts *policy.Case
	if c != nil {
		facts = c.Facts()
	}
	if s.policy.Decide(actor.Principal(), a, facts).Allowed {
		return nil
	}
	return s.refuse(ctx, actor, a, c)
}

// refuse audits a refusal about c (nil for server-wide actions) and
// returns the error that says it: "not found" to an outsider (see
// outsider), "forbidden" to anyone else.
func (s *Service) refuse(ctx context.Context, actor account.Account, a policy.Action, c *Case) error {
	caseID := ""
	if c != nil {
		caseID = c.ID
	}
	s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID, Attrs: map[string]string{"action": string(a)}})
	if c != nil && outsider(c, actor) {
		return fmt.Errorf("case %s: %w", c.ID, fault.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", a, fault.ErrForbidden)
}

// outsider reports whether actor is a participant or mediator account with
// no place in c. Such a person is told "not found" for a case they are
// refused, exactly as for a case that does not exist (loadFor), so that
// another case's id cannot be probed. Records staff and administrators,
// who see that every case exists, and anyone who is or was in the case,
// are told "forbidden".
func outsider(c *Case, actor account.Account) bool { return Outsider(c, actor) }

// Outsider is outsider for other services (the vault) that answer for a
// case: they tell such a person "not found" too.
func Outsider(c *Case, actor account.Account) bool {
	if actor.Role != policy.RoleParticipant && actor.Role != policy.RoleMediator {
		return false
	}
	return relation(c, actor.ID) == ""
}

// loadFor reads a case for actor's action a. A well-formed id with no case
// is audited as the refusal it looks like (outsider), so that the two
// answers cost the same.
func (s *Service) loadFor(ctx context.Context, actor account.Account, id string, a policy.Action) (*Case, error) {
	c, err := s.load(ctx, id)
	if errors.Is(err, fault.ErrNotFound) && ids.Valid("c", id) {
		s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: id, Attrs: map[string]string{"action": string(a)}})
	}
	return c, err
}

// LoadFor reads a case for a service that makes its own policy decision
// about actor's action a on it (room controls, the agreement, holds, room
// history). A case actor has no place in (Outsider) and a well-formed id
// with no case get one answer, "case <id>: not found", and one audit entry
// alike (access.denied naming a), so that another case's id cannot be
// probed by the answer or by the log. Anyone else gets the case, for the
// caller to decide on.
func (s *Service) LoadFor(ctx context.Context, actor account.Account, id string, a policy.Action) (*Case, error) {
	c, err := s.load(ctx, id)
	if err == nil && outsider(c, actor) || errors.Is(err, fault.ErrNotFound) && ids.Valid("c", id) {
		s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: id, Attrs: map[string]string{"action": string(a)}})
		return nil, fmt.Errorf("case %s: %w", id, fault.ErrNotFound)
	}
	return c, err
}

// record appends to the audit log. A failed audit append fails the request
// that caused it where it can (see mutate); for refusals it is best effort,
// since the refusal stands either way. An append that wrote its entry
// but not the checkpoint covering it (its index with an error: audit.Log.Append)
// has audited: the entry is in the log for good, and the next append
// signs it. Before, its error alone was read, and a change audited first
// was not made although its entry stood, with nothing following it.
func (s *Service) record(ctx context.Context, ev audit.Event) error {
	ev.Time = s.now().UTC()
	if i, err := s.audit.Append(ctx, ev); i < 0 {
		return err
	}
	return nil
}

// commit hashes text for the audit log with a server-keyed hash, so that a
// short confidential text cannot be guessed from its entry.
func (s *Service) commit(text string) string { return s.meta.IndexKey("audit-commit", text) }

func checkText(field, text string, max int) error {
	t := strings.TrimSpace(text)
	if t == "" {
		return fault.Invalid(field, "required")
	}
	if !utf8.ValidString(t) || utf8.RuneCountInString(t) > max {
		return fault.Invalid(field, fmt.Sprintf("at most %d characters of text", max))
	}
	if !visible.Has(t) {
		return fault.Invalid(field, "has no visible character: letters, digits or symbols are needed")
	}
	return nil
}

// MembershipChange says who entered or left a case.
type MembershipChange struct {
	Kind    string // "participant.joined", "participant.removed", "mediator.added", "mediator.recused", "mediator.held" (ApproveProposal: hold)
	Account string
	Side    string // for a participant on a side
	// Rooms are the mediator-defined rooms the person left with the
	// change (they are no longer in their member lists).
	Rooms []string
	// By is the account that made the change: the mediator or
	// administrator who recused, removed or added someone, the approver of
	// a recusal proposal, the person joining. "" when no one did (a
	// nominee's notice period elapsed): the audit log names the actor
	// SystemActor then.
	By string
}

// SystemActor is the audit entries' actor for a change no account made
// (a nominee's notice period elapsed); the entry names whom it concerns
// in its objects.
const SystemActor = "system"

func (s *Service) membership(ctx context.Context, caseID string, ch MembershipChange) {
	if s.OnMembership != nil {
		s.OnMembership(ctx, caseID, ch)
	}
}

// NewCase is what Create needs.
type NewCase struct {
	Title          string
	Type           string
	ReferralSource string
	SideLabels     []string // at least two
	// Reference is the program's docket or file number (optional; unique).
	Reference string
}

// Create opens a case with the actor as its first mediator, in the
// preparation stage, seeded with the two prompts of the domain text.
func (s *Service) Create(ctx context.Context, actor account.Account, n NewCase) (*Case, error) {
	if err := s.authorize(ctx, actor, policy.CaseCreate, nil); err != nil {
		return nil, err
	}
	if err := checkText("title", n.Title, MaxTitleLen); err != nil {
		return nil, err
	}
	if err := checkText("type", n.Type, MaxTypeLen); err != nil {
		return nil, err
	}
	if n.ReferralSource != "" {
		if err := checkText("referralSource", n.ReferralSource, MaxTypeLen); err != nil {
			return nil, err
		}
	}
	if len(n.SideLabels) < 2 || len(n.SideLabels) > MaxSides {
		return nil, fault.Invalid("sides", fmt.Sprintf("between 2 and %d sides", MaxSides))
	}
	ref := ""
	if strings.TrimSpace(n.Reference) != "" {
		var err error
		if ref, err = NormalizeReference(n.Reference); err != nil {
			return nil, err
		}
	}
	now := s.now().UTC()
	c := &Case{
		ID: ids.New("c"), Title: strings.TrimSpace(n.Title), Type: strings.TrimSpace(n.Type),
		ReferralSource: strings.TrimSpace(n.ReferralSource),
		Mediators:      []Mediator{{AccountID: actor.ID, Name: actor.Name, Added: now}},
		Participants:   []Participant{},
		Stage:          StagePreparation,
		StageHistory:   []StageChange{{To: StagePreparation, At: now, By: actor.ID}},
		Disclosures:    []Disclosure{},
		Created:        now, CreatedBy: actor.ID, Reference: ref,
	}
	for i, label := range n.SideLabels {
		if err := checkText(fmt.Sprintf("sides[%d]", i), label, MaxTypeLen); err != nil {
			return nil, err
		}
		c.Sides = append(c.Sides, Side{ID: string(rune('A' + i)), Label: strings.TrimSpace(label)})
	}
	if ref != "" {
		if err := s.claimReference(ctx, ref, c.ID); err != nil {
			return nil, err
		}
	}
	c.Objectives = []Objective{
		{ID: ids.New("o"), Kind: KindObjective, Added: now, By: actor.ID,
			Text: "Establish clear objectives and expectations: confidentiality, participation, settlement parameters."},
		{ID: ids.New("o"), Kind: KindCriterion, Added: now, By: actor.ID,
			Text: "Success criteria: what a successful resolution looks like for each side."},
	}
	// Audited first, under the id chosen above, then stored: a case whose
	// entry the log cannot take is not opened (503) and its reference is
	// given back, so opening it again makes one case. Before, the case was
	// stored first and listed even when its entry failed, and the retry
	// made a second one (or was refused its own reference). A case write
	// that answers an error is read back: found, the case is opened (its
	// id is fresh: no one else's); the reference is given back only when
	// the case is surely absent (not when the write was cut short and may
	// still land: case.created.unknown then).
	ev := audit.Paired(audit.Event{Type: "case.created", Actor: actor.ID, Case: c.ID,
		Attrs: map[string]string{"sides": fmt.Sprint(len(c.Sides))}})
	if err := s.record(ctx, ev); err != nil {
		s.releaseReference(ctx, ref, c.ID)
		return nil, fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
	}
	// The claim is confirmed still this case's, and renewed, before the
	// case is written: a Create held up past referenceGrace (a slow
	// append) may have had it taken over, and then writes no case with it.
	if ref != "" {
		if err := s.confirmReference(ctx, ref, c.ID); err != nil {
			audit.Settle(ctx, s.record, s.logger(), "cases", ev, ev.Type, fault.Class(err), nil)
			s.releaseReference(ctx, ref, c.ID)
			return nil, err
		}
	}
	if _, err := s.meta.Create(ctx, caseKey(c.ID), c); err != nil {
		// Read back; a write cut short may still land after any look
		// (metastore.CreateOrUndo), so the reference is given back only
		// when the case is not there and its write cannot still land.
		var landed, absent bool
		short := cutShort(ctx, err)
		audit.Settle(ctx, s.record, s.logger(), "cases", ev, ev.Type, fault.Class(err), func(ctx context.Context) (bool, error) {
			_, gerr := s.meta.Stat(ctx, caseKey(c.ID))
			if errors.Is(gerr, metastore.ErrNotFound) {
				if short {
					return false, errMayStillLand
				}
				absent = true
				return false, nil
			}
			landed = gerr == nil
			return landed, gerr
		})
		switch {
		case landed: // stored despite the error (its id is fresh: no one else's)
			return c, nil
		case absent:
			s.releaseReference(ctx, ref, c.ID)
		}
		return nil, err
	}
	return c, nil
}

// load reads a case without any access check (internal use only), first
// activating any assigned mediator whose notice period has passed.
func (s *Service) load(ctx context.Context, id string) (*Case, error) {
	c, err := s.reload(ctx, id)
	if err != nil {
		return nil, err
	}
	// A read appends no pending audit event (outbox.go): a young one is
	// its own request's, a stale one the next change's or the sweep's.
	return s.activateDue(ctx, c)
}

// reload reads a case as stored.
func (s *Service) reload(ctx context.Context, id string) (*Case, error) {
	if !ids.Valid("c", id) {
		return nil, fmt.Errorf("case: %w", fault.ErrNotFound)
	}
	var c Case
	if _, err := s.meta.Get(ctx, caseKey(id), &c); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return nil, fmt.Errorf("case %s: %w", id, fault.ErrNotFound)
		}
		return nil, err
	}
	return &c, nil
}

// Load reads a case with no access check, for services that make their
// own policy decision about it (the rooms layer). Never hand its result to
// a caller without such a decision.
func (s *Service) Load(ctx context.Context, id string) (*Case, error) { return s.load(ctx, id) }

// Get returns the whole case to someone allowed to read it.
func (s *Service) Get(ctx context.Context, actor account.Account, id string) (*Case, error) {
	c, err := s.loadFor(ctx, actor, id, policy.CaseRead)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, actor, policy.CaseRead, c); err != nil {
		return nil, err
	}
	return c.ForViewer(actor.ID).Redacted(), nil
}

// Summary returns the metadata-only view to records staff and anyone who
// may read the case.
func (s *Service) Summary(ctx context.Context, actor account.Account, id string) (Summary, error) {
	c, err := s.loadFor(ctx, actor, id, policy.CaseReadSummary)
	if err != nil {
		return Summary{}, err
	}
	if err := s.authorize(ctx, actor, policy.CaseReadSummary, c); err != nil {
		return Summary{}, err
	}
	waiting, err := s.rosterOnly(ctx, actor, c)
	if err != nil {
		return Summary{}, err
	}
	if waiting {
		return c.RosterView().Summary(), nil
	}
	return c.SummaryFor(actor.ID), nil
}

// listParallel is how many case records a case list reads at a time.
const listParallel = 16

// Listed is one row of a case list: the whole case when the actor may read
// it, otherwise only its summary.
type Listed = api.Listed

// List returns the cases the actor may see, newest first. Refusals here are
// not audited: not listing a case is not an attempt to reach it.
//
// A mediator no seated mediator has confirmed (Admission, asked only of a
// case with more than one mediator not recused, the actor among them:
// rosterOnly) has the row of the roster view, marked Waiting: no outcome,
// whether or not one is recorded. If the key
// directory cannot say, the list fails, as the caseload does.
//
// A participant whose account records its case (account.Account.CaseID:
// every account an invitation's join made since it was recorded) sits in
// that case only, so only that case is read, however many the program
// holds. Staff, and participant accounts from before, have every case
// record read, listParallel at a time (a cost that grows with the
// program: docs/operations.md, "Sizing").
func (s *Service) List(ctx context.Context, actor account.Account) ([]Listed, error) {
	var out []Listed
	// row is what actor is shown of c, as policy decides on c: nil for
	// nothing.
	p := actor.Principal()
	row := func(c *Case) (*Listed, error) {
		switch {
		case s.policy.Decide(p, policy.CaseRead, c.Facts()).Allowed:
			waiting, err := s.rosterOnly(ctx, actor, c)
			if err != nil {
				return nil, err
			}
			if waiting {
				return &Listed{Summary: c.RosterView().Summary(), Title: c.Title, Relation: relation(c, actor.ID), Waiting: true}, nil
			}
			return &Listed{Summary: c.SummaryFor(actor.ID), Title: c.Title, Relation: relation(c, actor.ID)}, nil
		case s.policy.Decide(p, policy.CaseReadSummary, c.Facts()).Allowed:
			return &Listed{Summary: c.Summary(), Relation: "records"}, nil
		}
		return nil, nil
	}
	if actor.Role == policy.RoleParticipant && actor.CaseID != "" {
		c, err := s.load(ctx, actor.CaseID)
		if errors.Is(err, fault.ErrNotFound) {
			// Disposed of: nothing to list.
			return []Listed{}, nil
		}
		if err != nil {
			return nil, err
		}
		r, err := row(c)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, *r)
		}
		return out, nil
	}
	// Every case record is listed, then read listParallel at a time (on
	// S3 each read is a round trip: one after another, 1,000 cases took
	// 2.9 s), except those this node read before whose stored version
	// (ETag) is still the one listed: those it kept decoded
	// (caseListCache). Each row is decided by policy on that case's
	// record as stored now, as it was one by one; only the rows are kept
	// for the answer. A record gone between the listing and its read
	// (disposed of) is left out; any other error fails the list.
	var listed []objstore.Info
	if err := s.meta.Objects().List(ctx, "cases/", func(info objstore.Info) error {
		if strings.HasSuffix(info.Key, "/case") {
			listed = append(listed, info)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	rows := make([]*Listed, len(listed))
	var fail firstError
	workers.Run(len(listed), listParallel, func(i int) {
		if fail.failed() {
			return
		}
		info := listed[i]
		if c := s.listCache.get(info.Key, info.ETag); c != nil {
			r, err := row(c)
			if err != nil {
				fail.set(err)
			}
			rows[i] = r
			return
		}
		var c Case
		etag, err := s.meta.Get(ctx, info.Key, &c)
		if err != nil {
			if !errors.Is(err, metastore.ErrNotFound) {
				fail.set(err)
			}
			return
		}
		cp := &c
		if len(c.PendingMediators) > 0 {
			now, err := s.activateDue(ctx, cp)
			if err != nil {
				fail.set(err)
				return
			}
			cp = now
		} else {
			s.listCache.put(info.Key, etag, info.Size, cp)
		}
		r, err := row(cp)
		if err != nil {
			fail.set(err)
		}
		rows[i] = r
	})
	if err := fail.get(); err != nil {
		return nil, err
	}
	keys := make(map[string]bool, len(listed))
	for _, info := range listed {
		keys[info.Key] = true
	}
	s.listCache.keepOnly(keys)
	for _, r := range rows {
		if r != nil {
			out = append(out, *r)
		}
	}
	// Ids are random, so order by creation time.
	slices.SortStableFunc(out, func(a, b Listed) int { return b.Created.Compare(a.Created) })
	return out, nil
}

func relation(c *Case, accountID string) string {
	if _, ok := c.Mediator(accountID); ok {
		return "mediator"
	}
	if p, ok := c.Participant(accountID); ok {
		return string(p.Role)
	}
	return ""
}

// mutate loads a case, checks the action, applies change under optimistic
// concurrency, then audits ev (filled in by change). The policy check runs
// again on every retry against the fresh record, so a recusal that lands
// between attempts is honoured. ev is written into the case record with the
// change and appended to the audit log after it (outbox.go, commitChange):
// if the append fails the change stands and the request succeeds with its
// event pending in the record, to be appended by the case's next change or
// by the sweep once it is stale. A change of a case with stale pending
// events that cannot be appended is refused (ErrAuditBacklog, 503).
func (s *Service) mutate(ctx context.Context, actor account.Account, id string, a policy.Action, change func(c *Case, ev *audit.Event) error) (*Case, error) {
	return s.mutateBy(ctx, actor, id, a, func(c *Case) policy.Decision {
		return s.policy.Decide(actor.Principal(), a, c.Facts())
	}, change)
}

// mutateBy is mutate with the policy question asked by decide (about a
// proposal rather than the case itself, say). The answer it returns is the
// case without its proposals.
func (s *Service) mutateBy(ctx context.Context, actor account.Account, id string, a policy.Action, decide func(c *Case) policy.Decision, change func(c *Case, ev *audit.Event) error) (*Case, error) {
	c, err := s.loadFor(ctx, actor, id, a)
	if err != nil {
		return nil, err
	}
	if !decide(c).Allowed {
		return nil, s.refuse(ctx, actor, a, c)
	}
	updated, err := s.commitChange(ctx, id, func(c *Case) error {
		if !decide(c).Allowed {
			return fmt.Errorf("%s: %w", a, fault.ErrForbidden)
		}
		ev := audit.Event{Actor: actor.ID, Case: id}
		if err := change(c, &ev); err != nil {
			return err
		}
		return s.queueEvent(c, ev)
	})
	if err != nil {
		return nil, err
	}
	return updated.Redacted(), nil
}
