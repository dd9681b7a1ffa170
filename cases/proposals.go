package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// The program (administrators and records staff) never recuses or assigns
// a case's mediator on its own. It proposes; a second, independent person
// approves (policy: proposals.cedar); the change is then told to everyone
// in the case as a Notice, and a newly assigned mediator reads nothing
// until the notice period has passed.

// ProposalKind says what a proposal would do.
type ProposalKind string

// Proposal kinds.
const (
	ProposeRecusal    ProposalKind = "recusal"
	ProposeAssignment ProposalKind = "assignment"
)

// ProposalStatus is where a proposal stands.
type ProposalStatus string

// Proposal statuses.
const (
	ProposalPending   ProposalStatus = "pending"
	ProposalApproved  ProposalStatus = "approved"
	ProposalDeclined  ProposalStatus = "declined"
	ProposalWithdrawn ProposalStatus = "withdrawn"
	// ProposalLapsed: an approved assignment that did not take effect
	// when its notice period ended, because the nominee was no longer
	// independent of the proposer or the approver (Note says so).
	ProposalLapsed ProposalStatus = "lapsed"
)

// Proposal is the program's proposal to recuse a mediator or to assign one
// to an orphaned case.
type Proposal struct {
	ID   string       `json:"id"`
	Kind ProposalKind `json:"kind"`
	// Subject is the mediator to recuse or the nominee to assign.
	Subject   string         `json:"subject"`
	Reason    string         `json:"reason,omitempty"`
	Proposer  string         `json:"proposer"`
	Proposed  time.Time      `json:"proposed"`
	Status    ProposalStatus `json:"status"`
	DecidedBy string         `json:"decidedBy,omitempty"`
	Decided   *time.Time     `json:"decided,omitempty"`
	// Note says in plain words why a lapsed assignment did not take
	// effect, for the program's staff.
	Note string `json:"note,omitempty"`
}

// PendingMediator is a mediator the program assigned who reads nothing
// before ReadsFrom.
type PendingMediator = api.PendingMediator

// NoticeKind says what a notice tells.
type NoticeKind string

// Notice kinds.
const (
	NoticeRecused   NoticeKind = "mediator.recused"
	NoticeAssigned  NoticeKind = "mediator.assigned"
	NoticeWithdrawn NoticeKind = "assignment.withdrawn"
	NoticeLapsed    NoticeKind = "assignment.lapsed"
	// NoticeHeld: a co-mediator no one admitted, held back by the
	// program's recusal of the last mediator who could have (hold).
	NoticeHeld NoticeKind = "mediator.held"
)

// Notice tells everyone in a case what the program did to its mediators.
type Notice struct {
	ID        string     `json:"id"`
	Kind      NoticeKind `json:"kind"`
	Mediator  string     `json:"mediator"`
	Name      string     `json:"name"`
	At        time.Time  `json:"at"`
	ReadsFrom *time.Time `json:"readsFrom,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	// Text says it in plain words, for every client to show as is.
	Text string `json:"text"`
}

// Limits on proposals.
const (
	// MaxProposals is how many a case record keeps. Pending ones are few
	// by construction (one recusal per mediator, one assignment); when the
	// record is full the oldest decided ones make room (the audit log
	// keeps every decision), so no one can fill a case with proposals and
	// block the next recusal or assignment.
	MaxProposals = 100
	// MaxDecidedProposals is how many decided proposals the record keeps
	// (the oldest make room first; the audit log keeps every decision): a
	// proposal's reason may take MaxTextLen characters, so 100 decided
	// ones alone could outgrow the record (metastore.MaxRecordSize), and
	// one administrator proposing and withdrawing could fill the case.
	MaxDecidedProposals       = 10
	DefaultReassignmentNotice = 72 * time.Hour
)

// decided counts the proposals no longer pending.
func decided(ps []Proposal) int {
	n := 0
	for _, p := range ps {
		if p.Status != ProposalPending {
			n++
		}
	}
	return n
}

// ErrProposalDecided: the proposal was already approved, declined or
// withdrawn.
var ErrProposalDecided = fmt.Errorf("proposal already decided: %w", fault.ErrConflict)

func noticeDate(t time.Time) string { return t.UTC().Format("2 Jan 2006") }

func noticeTime(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }

// proposalFacts is the proposal as policy sees it. Independence is
// weighed on proposer and subject as control sees them (account.Control:
// every account that created or reset them, transitively), and the
// principal likewise (actorControl).
func proposalFacts(c *Case, proposer, subject account.Account) policy.Proposal {
	return policy.Proposal{Case: c.Facts(), Proposer: proposer.ID, ProposerLineage: proposer.Lineage,
		Subject: subject.ID, SubjectLineage: subject.Lineage, SubjectProvenanceKnown: subject.ProvenanceKnown()}
}

// ProposeRecusal proposes recusing a mediator of the case (an active one,
// or one assigned and still in their notice period). reason is shown to
// everyone in the case if the proposal is approved.
func (s *Service) ProposeRecusal(ctx context.Context, actor account.Account, id, mediatorID, reason string) (Proposal, error) {
	if err := checkText("reason", reason, MaxTextLen); err != nil {
		return Proposal{}, err
	}
	subject := account.Account{ID: mediatorID}
	return s.propose(ctx, actor, id, policy.RecusalPropose, subject, func(c *Case) error {
		if m, ok := c.Mediator(mediatorID); ok {
			if m.Recused != nil {
				return fmt.Errorf("mediator already recused: %w", fault.ErrConflict)
			}
		} else if !slices.ContainsFunc(c.PendingMediators, func(p PendingMediator) bool { return p.AccountID == mediatorID }) {
			return fault.Invalid("mediatorId", "not a mediator of this case")
		}
		if slices.ContainsFunc(c.Proposals, func(p Proposal) bool {
			return p.Status == ProposalPending && p.Kind == ProposeRecusal && p.Subject == mediatorID
		}) {
			return fmt.Errorf("a recusal of this mediator is already proposed: %w", fault.ErrConflict)
		}
		return nil
	}, ProposeRecusal, reason)
}

// ProposeAssignment proposes a mediator account for a case whose every
// mediator has recused. The account is looked up only once the actor may
// propose for this case, so the answer tells no one else which account ids
// exist.
func (s *Service) ProposeAssignment(ctx context.Context, actor account.Account, id, nomineeID, reason string) (Proposal, error) {
	if reason != "" {
		if err := checkText("reason", reason, MaxTextLen); err != nil {
			return Proposal{}, err
		}
	}
	c, err := s.loadFor(ctx, actor, id, policy.AssignPropose)
	if err != nil {
		return Proposal{}, err
	}
	// First without the nominee's lineage: may this actor propose at all?
	if !s.policy.DecideProposal(actor.Principal(), policy.AssignPropose, proposalFacts(c, actor, account.Account{ID: nomineeID, Origin: account.OriginOperator})).Allowed {
		return Proposal{}, s.refuse(ctx, actor, policy.AssignPropose, c)
	}
	nominee, err := s.accounts.Get(ctx, nomineeID)
	if err != nil {
		return Proposal{}, fault.Invalid("accountId", "no such account")
	}
	if nominee.Role != policy.RoleMediator || nominee.Disabled {
		return Proposal{}, fault.Invalid("accountId", "not an active mediator account")
	}
	if nominee, err = s.accounts.Control(ctx, nominee); err != nil {
		return Proposal{}, fmt.Errorf("the nominee's account: %w", err)
	}
	return s.propose(ctx, actor, id, policy.AssignPropose, nominee, func(c *Case) error {
		if c.Closed != nil {
			return ErrClosed
		}
		if _, ok := c.Mediator(nominee.ID); ok {
			return fmt.Errorf("this account was a mediator of the case (recusal is final): %w", fault.ErrConflict)
		}
		if len(c.PendingMediators) > 0 || slices.ContainsFunc(c.Proposals, func(p Proposal) bool {
			return p.Status == ProposalPending && p.Kind == ProposeAssignment
		}) {
			return fmt.Errorf("a new mediator is already proposed or assigned for this case: %w", fault.ErrConflict)
		}
		return nil
	}, ProposeAssignment, reason)
}

func (s *Service) propose(ctx context.Context, actor account.Account, id string, a policy.Action, subject account.Account,
	check func(c *Case) error, kind ProposalKind, reason string) (Proposal, error) {
	var p Proposal
	ctl, err := s.accounts.Control(ctx, actor)
	if err != nil {
		return Proposal{}, fmt.Errorf("your account: %w", err)
	}
	_, err = s.mutateBy(ctx, actor, id, a, func(c *Case) policy.Decision {
		return s.policy.DecideProposal(ctl.Principal(), a, proposalFacts(c, ctl, subject))
	}, func(c *Case, ev *audit.Event) error {
		if err := check(c); err != nil {
			return err
		}
		// The approved assignment of a mediator still in their notice
		// period stays: it is weighed again when the period ends
		// (activateDue).
		evictable := func(p Proposal) bool { return p.Status != ProposalPending && !awaited(c, p.ID) }
		for decided(c.Proposals) >= MaxDecidedProposals {
			i := slices.IndexFunc(c.Proposals, evictable)
			if i < 0 {
				break
			}
			c.Proposals = slices.Delete(c.Proposals, i, i+1)
		}
		for len(c.Proposals) >= MaxProposals {
			i := slices.IndexFunc(c.Proposals, evictable)
			if i < 0 {
				return fmt.Errorf("a case holds at most %d pending proposals: %w", MaxProposals, fault.ErrConflict)
			}
			c.Proposals = slices.Delete(c.Proposals, i, i+1)
		}
		p = Proposal{ID: ids.New("p"), Kind: kind, Subject: subject.ID, Reason: strings.TrimSpace(reason),
			Proposer: actor.ID, Proposed: s.now().UTC(), Status: ProposalPending}
		c.Proposals = append(c.Proposals, p)
		ev.Type = "case." + string(kind) + ".proposed"
		ev.Objects = []string{p.ID, subject.ID}
		if p.Reason != "" {
			ev.Hashes = []string{s.commit(p.Reason)}
		}
		return nil
	})
	return p, err
}

// awaited reports whether a pending mediator of c was assigned by the
// proposal.
func awaited(c *Case, proposalID string) bool {
	return slices.ContainsFunc(c.PendingMediators, func(pm PendingMediator) bool { return pm.Proposal == proposalID })
}

// findProposal returns the proposal, or not found.
func findProposal(c *Case, proposalID string) (*Proposal, error) {
	i := slices.IndexFunc(c.Proposals, func(p Proposal) bool { return p.ID == proposalID })
	if i < 0 {
		return nil, fmt.Errorf("proposal %s: %w", proposalID, fault.ErrNotFound)
	}
	return &c.Proposals[i], nil
}

// ApproveProposal approves a proposal (kind, if not empty, must match it)
// and carries it out: a recusal takes effect at once; an assigned mediator
// is pending until the notice period has passed. Either way every
// participant sees a notice in the case.
func (s *Service) ApproveProposal(ctx context.Context, actor account.Account, id, proposalID string, kind ProposalKind) (Proposal, error) {
	c, err := s.loadFor(ctx, actor, id, policy.ProposalRead)
	if err != nil {
		return Proposal{}, err
	}
	if !s.policy.Decide(actor.Principal(), policy.ProposalRead, c.Facts()).Allowed {
		return Proposal{}, s.refuse(ctx, actor, policy.ProposalRead, c)
	}
	p, err := findProposal(c, proposalID)
	if err != nil {
		return Proposal{}, err
	}
	if kind != "" && kind != p.Kind {
		return Proposal{}, fault.Invalid("kind", fmt.Sprintf("this proposal is a %s", p.Kind))
	}
	action := policy.RecusalApprove
	if p.Kind == ProposeAssignment {
		action = policy.AssignApprove
	}
	// Control, not the stored lineages: whoever reset an account's
	// password, or an ancestor's, holds it too (account.Control).
	proposer, err := s.accounts.ControlOf(ctx, p.Proposer)
	if err != nil {
		return Proposal{}, fmt.Errorf("the proposer's account: %w", err)
	}
	subject, err := s.accounts.ControlOf(ctx, p.Subject)
	if err != nil {
		return Proposal{}, fmt.Errorf("the mediator's account: %w", err)
	}
	approver, err := s.accounts.Control(ctx, actor)
	if err != nil {
		return Proposal{}, fmt.Errorf("your account: %w", err)
	}
	// Who the case's signed membership seats, read fresh (not through
	// Admission's cache): a recusal that leaves no confirmed mediator
	// holds back the unconfirmed ones (heldByRecusal).
	var seated []string
	var signed bool
	if p.Kind == ProposeRecusal && s.Membership != nil {
		if seated, signed, err = s.Membership.SeatedMediators(ctx, id); err != nil {
			return Proposal{}, fmt.Errorf("the case's membership: %w", err)
		}
	}
	var out Proposal
	var change MembershipChange
	var heldChanges []MembershipChange
	_, err = s.mutateBy(ctx, actor, id, action, func(c *Case) policy.Decision {
		return s.policy.DecideProposal(approver.Principal(), action, proposalFacts(c, proposer, subject))
	}, func(c *Case, ev *audit.Event) error {
		change, heldChanges = MembershipChange{}, nil
		p, err := findProposal(c, proposalID)
		if err != nil {
			return err
		}
		if p.Status != ProposalPending {
			return ErrProposalDecided
		}
		now := s.now().UTC()
		n := Notice{ID: ids.New("n"), Mediator: subject.ID, At: now, Reason: p.Reason}
		ev.Objects = []string{p.ID, subject.ID}
		switch p.Kind {
		case ProposeRecusal:
			ev.Type = "case.recusal"
			ev.Attrs = map[string]string{"proposal": p.ID}
			if p.Reason != "" {
				ev.Hashes = []string{s.commit(p.Reason)}
			}
			if m, ok := c.Mediator(subject.ID); ok {
				if m.Recused != nil {
					return fmt.Errorf("mediator already recused: %w", fault.ErrConflict)
				}
				// Weighed on the record before the recusal is made.
				held := heldByRecusal(c, subject.ID, seated, signed)
				m.Recused, m.RecusalReason = &now, p.Reason
				n.Kind, n.Name = NoticeRecused, m.Name
				n.Text = fmt.Sprintf("The program recused mediator %s on %s. Reason: %s", m.Name, noticeDate(now), p.Reason)
				change = MembershipChange{Kind: "mediator.recused", Account: subject.ID, Rooms: c.leaveRooms(subject.ID), By: actor.ID}
				c.Notices = append(c.Notices, n)
				n = Notice{} // told before the held mediators' notices
				hc, err := s.hold(c, held, *p, actor.ID, now)
				if err != nil {
					return err
				}
				heldChanges = hc
			} else if i := slices.IndexFunc(c.PendingMediators, func(pm PendingMediator) bool { return pm.AccountID == subject.ID }); i >= 0 {
				pm := c.PendingMediators[i]
				c.PendingMediators = slices.Delete(c.PendingMediators, i, i+1)
				n.Kind, n.Name = NoticeWithdrawn, pm.Name
				n.Text = fmt.Sprintf("The program withdrew the assignment of mediator %s on %s, before they could read the case. Reason: %s", pm.Name, noticeDate(now), p.Reason)
				ev.Type = "case.assignment.withdrawn"
				if pm.Held {
					// No assignment to withdraw: a recusal (ev.Type as set),
					// final as any other: they go back on the record as a
					// recused mediator, so the recused-mediators rules,
					// add-mediator and a later assignment refuse them
					// (review 403: deleted from the pending list alone, a
					// mediator assigned later could add them back and they
					// read the case at once).
					c.Mediators = append(c.Mediators, Mediator{AccountID: pm.AccountID, Name: pm.Name, Added: pm.Approved,
						Recused: &now, RecusalReason: p.Reason})
					n.Kind = NoticeRecused
					n.Text = fmt.Sprintf("The program recused mediator %s on %s, before they could read the case. Reason: %s", pm.Name, noticeDate(now), p.Reason)
					ev.Type = "case.recusal"
				}
			} else {
				return fmt.Errorf("mediator %s: %w", subject.ID, fault.ErrNotFound)
			}
		case ProposeAssignment:
			if !orphaned(c) {
				return fmt.Errorf("the case has an active or assigned mediator: %w", fault.ErrConflict)
			}
			if _, ok := c.Mediator(subject.ID); ok {
				return fmt.Errorf("this account was a mediator of the case (recusal is final): %w", fault.ErrConflict)
			}
			if subject.Role != policy.RoleMediator || subject.Disabled {
				return fault.Invalid("accountId", "not an active mediator account")
			}
			if c.Closed != nil {
				return ErrClosed
			}
			from := now.Add(s.ReassignmentNotice)
			c.PendingMediators = append(c.PendingMediators, PendingMediator{AccountID: subject.ID, Name: subject.Name,
				Approved: now, ReadsFrom: from, Proposal: p.ID})
			n.Kind, n.Name, n.ReadsFrom = NoticeAssigned, subject.Name, &from
			n.Text = fmt.Sprintf("The program assigned a new mediator, %s. They can read the case from %s.", subject.Name, noticeTime(from))
			ev.Type = "case.assignment.approved"
			ev.Attrs = map[string]string{"readsFrom": from.Format(time.RFC3339)}
		}
		p.Status, p.DecidedBy, p.Decided = ProposalApproved, actor.ID, &now
		if n.ID != "" {
			c.Notices = append(c.Notices, n)
		}
		out = *p
		return nil
	})
	if err != nil {
		return Proposal{}, err
	}
	if change.Kind != "" {
		s.membership(ctx, id, change)
	}
	for _, ch := range heldChanges {
		s.membership(ctx, id, ch)
	}
	return out, nil
}

// hold carries out, in c, the holding back of the mediators the
// program's recusal proposal p (approved by approver at now) leaves
// without anyone who could confirm them (heldByRecusal): they are treated
// as a mediator the program assigns. Each leaves the record's mediators
// (and the rooms with chosen people they were put in) for
// PendingMediators, Held, reading nothing until the notice period ends;
// every participant is told in a notice naming them and the date;
// each is audited (case.comediator.held, the approver as actor). When the
// period ends they are weighed against the recusal's proposer and
// approver as a nominee is (activateDue: case.assign.activate), and their
// account records them as its assigners. It returns the membership
// changes to announce once the write stands.
func (s *Service) hold(c *Case, held []Mediator, p Proposal, approver string, now time.Time) ([]MembershipChange, error) {
	var changes []MembershipChange
	from := now.Add(s.ReassignmentNotice)
	for _, m := range held {
		c.Mediators = slices.DeleteFunc(c.Mediators, func(x Mediator) bool { return x.AccountID == m.AccountID })
		changes = append(changes, MembershipChange{Kind: "mediator.held", Account: m.AccountID, Rooms: c.leaveRooms(m.AccountID), By: approver})
		c.PendingMediators = append(c.PendingMediators, PendingMediator{AccountID: m.AccountID, Name: m.Name,
			Approved: now, ReadsFrom: from, Proposal: p.ID, Held: true})
		c.Notices = append(c.Notices, Notice{ID: ids.New("n"), Kind: NoticeHeld, Mediator: m.AccountID, Name: m.Name, At: now, ReadsFrom: &from,
			Text: fmt.Sprintf("A mediator of the case added %s as a co-mediator, and no mediator of the case had let them in yet; after this recusal none is left who could. They can read the case from %s.",
				m.Name, noticeTime(from))})
		if err := s.queueEvent(c, audit.Event{Type: "case.comediator.held", Actor: approver, Case: c.ID,
			Objects: []string{m.AccountID, p.ID}, Attrs: map[string]string{"readsFrom": from.Format(time.RFC3339)}, Time: now}); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

// orphaned reports whether every mediator of c has recused and none is
// pending.
func orphaned(c *Case) bool {
	if len(c.PendingMediators) > 0 {
		return false
	}
	for _, m := range c.Mediators {
		if m.Recused == nil {
			return false
		}
	}
	return true
}

// DeclineProposal declines a pending proposal (or withdraws it, when the
// proposer does). Nothing changes in the case but the proposal's status.
func (s *Service) DeclineProposal(ctx context.Context, actor account.Account, id, proposalID string) (Proposal, error) {
	c, err := s.loadFor(ctx, actor, id, policy.ProposalRead)
	if err != nil {
		return Proposal{}, err
	}
	if !s.policy.Decide(actor.Principal(), policy.ProposalRead, c.Facts()).Allowed {
		return Proposal{}, s.refuse(ctx, actor, policy.ProposalRead, c)
	}
	p, err := findProposal(c, proposalID)
	if err != nil {
		return Proposal{}, err
	}
	proposer := account.Account{ID: p.Proposer}
	subject := account.Account{ID: p.Subject}
	var out Proposal
	_, err = s.mutateBy(ctx, actor, id, policy.ProposalDecline, func(c *Case) policy.Decision {
		return s.policy.DecideProposal(actor.Principal(), policy.ProposalDecline, proposalFacts(c, proposer, subject))
	}, func(c *Case, ev *audit.Event) error {
		p, err := findProposal(c, proposalID)
		if err != nil {
			return err
		}
		if p.Status != ProposalPending {
			return ErrProposalDecided
		}
		now := s.now().UTC()
		p.Status, p.DecidedBy, p.Decided = ProposalDeclined, actor.ID, &now
		if actor.ID == p.Proposer {
			p.Status = ProposalWithdrawn
		}
		ev.Type = "case.proposal." + string(p.Status)
		ev.Objects = []string{p.ID}
		out = *p
		return nil
	})
	return out, err
}

// Proposals lists a case's proposals, newest first, for staff.
func (s *Service) Proposals(ctx context.Context, actor account.Account, id string) ([]Proposal, error) {
	c, err := s.loadFor(ctx, actor, id, policy.ProposalRead)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, actor, policy.ProposalRead, c); err != nil {
		return nil, err
	}
	out := slices.Clone(c.Proposals)
	slices.Reverse(out)
	if out == nil {
		out = []Proposal{}
	}
	return out, nil
}

// ListedProposal is one pending proposal in the server-wide list: the
// case's id and the proposal, never the case's title, roster or content.
type ListedProposal struct {
	CaseID string `json:"caseId"`
	Proposal
}

// PendingProposals lists every pending proposal the actor may see, oldest
// first. Refusals here are not audited (not listing is not an attempt).
func (s *Service) PendingProposals(ctx context.Context, actor account.Account) ([]ListedProposal, error) {
	out := []ListedProposal{}
	err := s.meta.List(ctx, "cases/", func(key string) error {
		if !strings.HasSuffix(key, "/case") {
			return nil
		}
		var c Case
		if _, err := s.meta.Get(ctx, key, &c); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				return nil
			}
			return err
		}
		if !s.policy.Decide(actor.Principal(), policy.ProposalRead, c.Facts()).Allowed {
			return nil
		}
		for _, p := range c.Proposals {
			if p.Status == ProposalPending {
				out = append(out, ListedProposal{CaseID: c.ID, Proposal: p})
			}
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b ListedProposal) int { return a.Proposed.Compare(b.Proposed) })
	return out, err
}

// activateDue makes every pending mediator of c whose notice period has
// passed an ordinary mediator of the case, and returns the case as it now
// is. It is called wherever a case is read, so the first request after the
// notice period (the mediator's own, or anyone's) activates them; the
// rooms then seal a new epoch (OnMembership), so the mediator's devices get
// only keys from then on.
//
// Before that, policy weighs the nominee once more against the proposer
// and the approver, with everyone's control as it is now
// (policy.AssignActivate): whoever took the nominee's account during the
// notice period (approved a reset of its password, say) would otherwise
// read the case through it. An assignment that fails is not carried out:
// the nominee is no longer pending, the proposal is marked lapsed with a
// note in plain words, everyone in the case is told, and it is audited
// (case.assignment.lapsed); the case is orphaned again, for a new
// proposal.
func (s *Service) activateDue(ctx context.Context, c *Case) (*Case, error) {
	now := s.now().UTC()
	if !slices.ContainsFunc(c.PendingMediators, func(p PendingMediator) bool { return !p.ReadsFrom.After(now) }) {
		return c, nil
	}
	// Weighed before the write (account records are read), keyed by
	// nominee and proposal; a pending mediator the write finds without a
	// verdict (approved meanwhile) waits for the next read.
	verdicts := map[PendingMediator]string{}
	for _, p := range c.PendingMediators {
		if p.ReadsFrom.After(now) {
			continue
		}
		lapse, err := s.assignmentLapses(ctx, c, p)
		if err == nil && lapse == "" {
			// The nominee's account remembers who assigned it before the
			// assignment takes effect: they never approve a reset of its
			// password (policy: assigner-cannot-approve-reset-of-assignee).
			prop := c.Proposals[slices.IndexFunc(c.Proposals, func(q Proposal) bool { return q.ID == p.Proposal })]
			err = s.accounts.RecordAssigners(ctx, p.AccountID, prop.Proposer, prop.DecidedBy)
		}
		if err != nil {
			// The account records cannot be read (or the nominee's
			// assigners recorded) now: the activation waits (a read is
			// not refused for it).
			s.logger().Warn("cases: an assigned mediator's activation waits: their accounts cannot be read or their assigners recorded", "case", c.ID, "err", err)
			return c, nil
		}
		verdicts[pendingKey(p)] = lapse
	}
	var activated []PendingMediator
	errNone := errors.New("nothing due")
	flushed, err := s.commitChange(ctx, c.ID, func(c *Case) error {
		activated = nil
		changed := false
		var keep []PendingMediator
		for _, p := range c.PendingMediators {
			lapse, ok := verdicts[pendingKey(p)]
			if p.ReadsFrom.After(now) || !ok {
				keep = append(keep, p)
				continue
			}
			changed = true
			if lapse != "" {
				if err := s.lapse(c, p, lapse, now); err != nil {
					return err
				}
				continue
			}
			c.Mediators = append(c.Mediators, Mediator{AccountID: p.AccountID, Name: p.Name, Added: now})
			activated = append(activated, p)
			// No one acts: the notice elapsed. The nominee is in Objects.
			if err := s.queueEvent(c, audit.Event{Type: "case.mediator.added", Actor: SystemActor, Case: c.ID,
				Objects: []string{p.AccountID, p.Proposal}, Attrs: map[string]string{"via": "notice-elapsed"}, Time: now}); err != nil {
				return err
			}
		}
		if !changed {
			return errNone
		}
		c.PendingMediators = keep
		return nil
	})
	if errors.Is(err, errNone) {
		// Another request activated them first.
		return s.reload(ctx, c.ID)
	}
	if errors.Is(err, ErrAuditBacklog) || errors.Is(err, ErrDisposing) {
		// Stale events of the case cannot be logged yet: the activation
		// waits for them (a read is not refused for it). A case being
		// disposed of takes no activation either; it is read as it is.
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	// The activation and its events are one write (outbox.go); the rooms
	// hear of it whether or not the log takes the events now.
	for _, p := range activated {
		s.membership(ctx, c.ID, MembershipChange{Kind: "mediator.added", Account: p.AccountID})
	}
	return flushed, nil
}

// pendingKey is a pending mediator as activateDue's verdicts know it.
func pendingKey(p PendingMediator) PendingMediator {
	return PendingMediator{AccountID: p.AccountID, Proposal: p.Proposal}
}

// Why an assignment lapses, in plain words for the program's staff (the
// proposal's Note) and as a short word for the audit log.
const (
	lapseNotOnRecord = "Its approval is no longer on the case's record, so whether the nominee is still independent of the people who proposed and approved it could not be checked."
	lapseControlled  = "When the notice period ended, the person who proposed it or the person who approved it could sign in as the nominee (they created the account, reset its password, or share someone who did), so the nominee was not made a mediator of the case."
	lapseUnknown     = "When the notice period ended, the nominee's account was of unknown origin, so it could not be counted as independent."
)

// assignmentLapses weighs the pending mediator p once more against the
// proposal's proposer and approver, as policy.AssignActivate, and returns
// why the assignment lapses ("" if it takes effect). An error is a
// failure to read the account records.
func (s *Service) assignmentLapses(ctx context.Context, c *Case, p PendingMediator) (string, error) {
	i := slices.IndexFunc(c.Proposals, func(q Proposal) bool { return q.ID == p.Proposal })
	if i < 0 || c.Proposals[i].Status != ProposalApproved || c.Proposals[i].DecidedBy == "" {
		return lapseNotOnRecord, nil
	}
	prop := c.Proposals[i]
	var ctl [3]account.Account
	for j, id := range []string{prop.Proposer, prop.DecidedBy, p.AccountID} {
		a, err := s.accounts.ControlOf(ctx, id)
		if errors.Is(err, fault.ErrNotFound) || errors.Is(err, metastore.ErrNotFound) {
			return lapseNotOnRecord, nil
		}
		if err != nil {
			return "", err
		}
		ctl[j] = a
	}
	proposer, approver, nominee := ctl[0], ctl[1], ctl[2]
	// No one acts: the approver's decision is weighed, not their account
	// as it is now (policy: assignment-takes-effect-after-notice).
	principal := approver.Principal()
	principal.Disabled = false
	d := s.policy.DecideProposal(principal, policy.AssignActivate, proposalFacts(c, proposer, nominee))
	switch {
	case d.Allowed:
		return "", nil
	case slices.Contains(d.Policies, "nominee-of-unknown-provenance"):
		return lapseUnknown, nil
	default:
		return lapseControlled, nil
	}
}

// lapse carries out a lapsed assignment in c: the proposal is marked
// lapsed with why, everyone in the case is told, and it is audited.
func (s *Service) lapse(c *Case, p PendingMediator, why string, now time.Time) error {
	if p.Held {
		// The recusal that held them back stands: only they are gone.
		c.Notices = append(c.Notices, Notice{ID: ids.New("n"), Kind: NoticeLapsed, Mediator: p.AccountID, Name: p.Name, At: now,
			Text: fmt.Sprintf("Co-mediator %s did not become a mediator of the case on %s, and they cannot read it: their independence from the people who recused the case's last mediator could not be confirmed. The program may propose another mediator.",
				p.Name, noticeDate(now))})
		return s.queueEvent(c, audit.Event{Type: "case.comediator.lapsed", Actor: SystemActor, Case: c.ID,
			Objects: []string{p.AccountID, p.Proposal}, Attrs: map[string]string{"reason": lapseReason(why)}, Time: now})
	}
	if i := slices.IndexFunc(c.Proposals, func(q Proposal) bool { return q.ID == p.Proposal }); i >= 0 {
		c.Proposals[i].Status, c.Proposals[i].Note = ProposalLapsed, why
	}
	c.Notices = append(c.Notices, Notice{ID: ids.New("n"), Kind: NoticeLapsed, Mediator: p.AccountID, Name: p.Name, At: now,
		Text: fmt.Sprintf("The program's assignment of mediator %s did not take effect on %s, and they cannot read the case: their independence from the people who chose them could not be confirmed. The program may propose another mediator.",
			p.Name, noticeDate(now))})
	return s.queueEvent(c, audit.Event{Type: "case.assignment.lapsed", Actor: SystemActor, Case: c.ID,
		Objects: []string{p.AccountID, p.Proposal}, Attrs: map[string]string{"reason": lapseReason(why)}, Time: now})
}

// lapseReason is why (a lapse… sentence) as a short word for the audit log.
func lapseReason(why string) string {
	switch why {
	case lapseNotOnRecord:
		return "approval-not-on-record"
	case lapseUnknown:
		return "nominee-provenance-unknown"
	}
	return "controlled"
}
