package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// MembershipReader tells which mediators a case's signed membership seats
// (the key directory: keydir.Service.SeatedMediators).
type MembershipReader interface {
	// SeatedMediators returns the mediators of the latest membership
	// statement of case caseID that its chain, as clients accept it,
	// reaches, and whether the case has any statement stored.
	SeatedMediators(ctx context.Context, caseID string) (mediators []string, signed bool, err error)
}

// ruleUnadmitted is the policy rule that keeps a mediator the signed
// membership does not seat from adding anyone to the case.
const ruleUnadmitted = "unadmitted-mediators-add-nobody"

// ErrNotConfirmed: a mediator on the case record whom the case's signed
// membership does not seat asked to invite someone or make a link back in
// (its text is the refusal's detail).
var ErrNotConfirmed = errors.New("you can invite people or make links back in once a mediator already in this case has confirmed you as a co-mediator (they check your safety number with you, then admit you)")

// ErrNotOpenYet: the same, in a case with more than one mediator whose
// conversation nobody has opened yet, so no one is seated.
var ErrNotOpenYet = errors.New("you can invite people or make links back in once this case's conversation is open and you are in it: the mediator who created the case (or, if they are no longer one of its mediators, the one longest on it) opens it, and then confirms the others")

// ErrNotOpener: a mediator who may not sign a case's first membership
// statement asked to (Opener; its text is the refusal's detail).
var ErrNotOpener = errors.New("another mediator opens this case's conversation: the mediator who created the case, or, if they are no longer one of its mediators, the one longest on it. Once it is open, they check your safety number with you and confirm you")

// Opener returns the one mediator who may sign case c's first membership
// statement, or "" when any mediator of it may (api.Opener states the
// rule; the Go and browser clients apply the same one before signing).
func Opener(c *Case) string { return api.Opener(c.CreatedBy, c.Mediators) }

// unadmitted lists the mediators on c's record whom the case's signed
// membership does not seat, and whether the case has a statement. With a
// statement, that is every mediator the latest one the chain reaches
// does not name as a mediator. Without one, no membership exists yet for
// anyone to be signed into, and only a case with a single mediator who
// is not recused has someone who may add people: in a case with more,
// every mediator is unadmitted until the case's opener (Opener) opens
// the conversation (whose first statement seats its signer alone) — otherwise a
// co-mediator nobody will confirm could invite people now whom the
// first statement would sign in. With no MembershipReader (a service
// without a key directory), the case is taken to have no statement.
// The statements are read before any decision and under no lock.
func (s *Service) unadmitted(ctx context.Context, c *Case) (out []string, signed bool, err error) {
	var seated []string
	if s.Membership != nil {
		if seated, signed, err = s.Membership.SeatedMediators(ctx, c.ID); err != nil {
			return nil, false, err
		}
	}
	active := 0
	for _, m := range c.Mediators {
		if m.Recused == nil {
			active++
		}
	}
	for _, m := range c.Mediators {
		if signed && !slices.Contains(seated, m.AccountID) || !signed && active > 1 {
			out = append(out, m.AccountID)
		}
	}
	return out, signed, nil
}

// authorizeAdding is authorize for an action that adds someone to case c
// (an invitation, a link back in): policy decides it with the fact of
// who the signed membership leaves out (policy.Case.Unadmitted). A
// refusal by that rule alone is audited naming it, and says in words
// what the mediator waits for.
func (s *Service) authorizeAdding(ctx context.Context, actor account.Account, a policy.Action, c *Case) error {
	if err := s.authorize(ctx, actor, a, c); err != nil {
		return err
	}
	un, signed, err := s.unadmitted(ctx, c)
	if err != nil {
		return err
	}
	facts := c.Facts()
	facts.Unadmitted = un
	d := s.policy.Decide(actor.Principal(), a, facts)
	if d.Allowed {
		return nil
	}
	if !slices.Contains(d.Policies, ruleUnadmitted) {
		return s.refuse(ctx, actor, a, c)
	}
	s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
		Attrs: map[string]string{"action": string(a), "rule": ruleUnadmitted}})
	if signed {
		return fmt.Errorf("%w: %w", ErrNotConfirmed, fault.ErrForbidden)
	}
	return fmt.Errorf("%w: %w", ErrNotOpenYet, fault.ErrForbidden)
}

// The policy rules that keep a mediator no seated mediator has confirmed
// (policy.Case.Unconfirmed) out of a case's content and membership: their
// refusals are audited naming them, and say in words what the mediator
// waits for (NotConfirmed).
const (
	RuleUnconfirmedCase      = "unconfirmed-mediators-change-nobody"
	RuleUnconfirmedDocuments = "unconfirmed-mediators-handle-no-documents"
	RuleUnconfirmedRooms     = "unconfirmed-mediators-in-no-room"
	RuleUnconfirmedSessions  = "unconfirmed-mediators-see-no-sessions"
	RuleUnconfirmedAgreement = "unconfirmed-mediators-see-no-agreement"
	RuleUnconfirmedRecord    = "unconfirmed-mediators-read-the-roster-only"
	RuleUnconfirmedInvites   = "unconfirmed-mediators-see-no-invitations"
	RuleUnconfirmedHands     = "unconfirmed-mediators-see-no-hands"
)

// ErrUnconfirmed is in every refusal NotConfirmed makes (errors.Is), as is
// fault.ErrForbidden.
var ErrUnconfirmed = errors.New("not yet confirmed as a co-mediator")

// unconfirmedError is a refusal of a mediator no seated mediator has
// confirmed: its text is the sentence the mediator reads.
type unconfirmedError struct{ text string }

func (e unconfirmedError) Error() string { return e.text }

func (e unconfirmedError) Is(target error) bool {
	return target == ErrUnconfirmed || target == fault.ErrForbidden
}

// NotConfirmed is the refusal for a mediator of c whom Admission found
// unconfirmed, asking to do what ("open this case's documents"): it says
// what they wait for, in words, and names no rule.
func (c *Case) NotConfirmed(what string) error {
	if c.signed {
		return unconfirmedError{fmt.Sprintf("you can %s once a mediator already in this case has confirmed you as a co-mediator (they check your safety number with you, then admit you)", what)}
	}
	return unconfirmedError{fmt.Sprintf("you can %s once this case's conversation is open and you are confirmed as a co-mediator: the mediator who created the case (or, if they are no longer one of its mediators, the one longest on it) opens it, then checks your safety number with you and admits you", what)}
}

// SeatTTL is how long Admission takes a case's signed membership as last
// read (the key directory's answer, not the case record, which it reads
// fresh every time). A statement admitting a mediator widens what they
// read, and they wait up to SeatTTL for it. A mediator leaves a case by
// the record (a recusal, or their removal), which narrows at once by the
// record's own facts (recused-mediators-lose-*); a mediator added to the
// record is not in the cached statement, so is unconfirmed at once. A
// statement stored on this node forgets its case's entry (ForgetSeats),
// and so does every node with a connection of the case open when it hears
// the statement announced (caucus.SeatsChanged); on any other node, a
// statement that no longer seats a mediator still on the record (a seated
// mediator signing them out of the membership) narrows what they read
// only once the entry expires, up to SeatTTL.
const SeatTTL = 2 * time.Second

// maxSeatEntries bounds the cache: past it, expired entries go, and if
// none has, the whole cache.
const maxSeatEntries = 4096

type membershipEntry struct {
	seated []string
	signed bool
	read   time.Time
}

// seatRead is the reads of one case's seats in flight: how many, and a
// generation ForgetSeats bumps. A read stores its answer only if the
// generation is the one it began at: a read begun before a statement was
// stored may answer from before it, and stored after ForgetSeats it
// would be served as fresh for SeatTTL.
type seatRead struct {
	reading int
	gen     uint64
}

// ForgetSeats drops what Admission cached about case caseID's signed
// membership (the key directory calls it when it stores a statement, and
// a node that hears of one: caucus.SeatsChanged), and keeps a read
// already in flight from caching what it reads.
func (s *Service) ForgetSeats(caseID string) {
	s.seatsMu.Lock()
	delete(s.seats, caseID)
	if r := s.seatReads[caseID]; r != nil {
		r.gen++
	}
	s.seatsMu.Unlock()
}

// seated is Membership.SeatedMediators through the cache (SeatTTL). The
// lock is never held across the read.
func (s *Service) seated(ctx context.Context, caseID string) ([]string, bool, error) {
	if s.Membership == nil {
		return nil, false, nil
	}
	now := time.Now()
	s.seatsMu.Lock()
	e, ok := s.seats[caseID]
	if ok && now.Sub(e.read) >= 0 && now.Sub(e.read) < SeatTTL {
		s.seatsMu.Unlock()
		return e.seated, e.signed, nil
	}
	r := s.seatReads[caseID]
	if r == nil {
		if s.seatReads == nil {
			s.seatReads = map[string]*seatRead{}
		}
		r = &seatRead{}
		s.seatReads[caseID] = r
	}
	r.reading++
	gen := r.gen
	s.seatsMu.Unlock()
	seated, signed, err := s.Membership.SeatedMediators(ctx, caseID)
	s.seatsMu.Lock()
	defer s.seatsMu.Unlock()
	stale := r.gen != gen
	if r.reading--; r.reading == 0 {
		delete(s.seatReads, caseID)
	}
	if err != nil {
		return nil, false, err
	}
	if stale {
		// Forgotten while it read: answered, not kept.
		return seated, signed, nil
	}
	if s.seats == nil {
		s.seats = map[string]membershipEntry{}
	}
	if len(s.seats) >= maxSeatEntries {
		for id, old := range s.seats {
			if now.Sub(old.read) >= SeatTTL || now.Sub(old.read) < 0 {
				delete(s.seats, id)
			}
		}
		if len(s.seats) >= maxSeatEntries {
			clear(s.seats)
		}
	}
	s.seats[caseID] = membershipEntry{seated: seated, signed: signed, read: now}
	return seated, signed, nil
}

// Admission puts in c, a case read for a decision about its content, who
// of its mediators may not read it yet (policy.Case.Unconfirmed, which
// c.Facts() then carries): with a signed membership statement, every
// mediator the latest one the chain reaches does not name as a mediator
// (as unadmitted); before any statement, every mediator but the case's
// opener (Opener), who alone may sign the first one — so the mediator who
// created a case reads and uploads its documents before anyone opens its
// conversation, and a co-mediator added meanwhile does not. Recused
// mediators are never in it, and a signed case whose seated mediators
// have all left has none (nobody could confirm them). A case with
// one mediator ever has no one unconfirmed and costs no read. With no
// MembershipReader the case is taken to have no statement. Call it before
// any lock: it reads the key directory (through a short cache, SeatTTL).
func (s *Service) Admission(ctx context.Context, c *Case) error {
	c.unconfirmed, c.signed = nil, false
	if len(c.Mediators) <= 1 {
		return nil
	}
	seated, signed, err := s.seated(ctx, c.ID)
	if err != nil {
		return err
	}
	c.signed = signed
	c.unconfirmed = unconfirmedIn(c, seated, signed)
	return nil
}

// unconfirmedIn is Admission's fact for case c as its record now is, given
// the mediators the case's signed membership seats and whether it has a
// statement: pure, so a change of the record (a recusal the program
// approves: heldByRecusal) can be weighed before it is written.
func unconfirmedIn(c *Case, seated []string, signed bool) []string {
	if len(c.Mediators) <= 1 {
		return nil
	}
	opener := Opener(c)
	// A signed case none of whose seated mediators is still active (each
	// recused or removed) has nobody left to confirm anyone: its active
	// mediators count as confirmed, as the program's reassignment of an
	// orphaned case (two administrators, then a notice period: the only
	// way a case with no active mediator gets one) requires. Otherwise
	// such a case would be shut to every mediator for good. (When the
	// program's recusal is what leaves it so, the mediators left wait
	// out the notice period first: heldByRecusal.)
	seatedActive := false
	for _, m := range c.Mediators {
		if m.Recused == nil && slices.Contains(seated, m.AccountID) {
			seatedActive = true
		}
	}
	var out []string
	for _, m := range c.Mediators {
		if m.Recused != nil {
			continue // a recused mediator is shut out by the record's own rules, not told to wait
		}
		if signed && seatedActive && !slices.Contains(seated, m.AccountID) || !signed && opener != "" && m.AccountID != opener {
			out = append(out, m.AccountID)
		}
	}
	return out
}

// heldByRecusal returns the mediators of c (as its record is before the
// recusal of subject) whom that recusal would let read the case although
// no one confirmed them: every mediator not recused but subject, when
// each of them is unconfirmed now (unconfirmedIn), so that subject is the
// last active mediator who reads the case. With a signed membership they
// are co-mediators no seated mediator admitted, and with subject gone no
// seated mediator is left (unconfirmedIn then counts them as confirmed);
// before the first statement subject is the case's opener, and the next
// one longest on it would become the opener. The program's recusal holds
// them back for the notice period, as a mediator it assigns
// (ApproveProposal). Nobody is held while a confirmed mediator other than
// subject stays.
func heldByRecusal(c *Case, subject string, seated []string, signed bool) []Mediator {
	unconfirmed := unconfirmedIn(c, seated, signed)
	var held []Mediator
	for _, m := range c.Mediators {
		if m.Recused != nil || m.AccountID == subject {
			continue
		}
		if !slices.Contains(unconfirmed, m.AccountID) {
			return nil
		}
		held = append(held, m)
	}
	return held
}

// authorizeConfirmed is authorize for an action that changes who is in
// case c (a recusal of someone else, adding a mediator, removing a
// participant), decided with Admission's fact before the change is made
// (and so under no lock). A refusal by RuleUnconfirmedCase is audited
// naming it and says what the mediator waits for.
func (s *Service) authorizeConfirmed(ctx context.Context, actor account.Account, a policy.Action, c *Case) error {
	if err := s.Admission(ctx, c); err != nil {
		return err
	}
	d := s.policy.Decide(actor.Principal(), a, c.Facts())
	if d.Allowed {
		return nil
	}
	if !slices.Contains(d.Policies, RuleUnconfirmedCase) {
		return s.refuse(ctx, actor, a, c)
	}
	s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
		Attrs: map[string]string{"action": string(a), "rule": RuleUnconfirmedCase}})
	return c.NotConfirmed("recuse a co-mediator, add a mediator or take someone out of this case")
}

// mutateConfirmed is mutate for a change of the case record a mediator no
// seated mediator has confirmed may not make (case.update: the stage and
// its notes, objectives, the outcome; case.disclose; case.terms_set),
// decided with Admission's fact, read before the change and under no
// lock. A refusal by RuleUnconfirmedRecord is audited naming it and says
// what the mediator waits for (what: "change this case's stage").
func (s *Service) mutateConfirmed(ctx context.Context, actor account.Account, id string, a policy.Action, what string, change func(c *Case, ev *audit.Event) error) (*Case, error) {
	c, err := s.loadFor(ctx, actor, id, a)
	if err != nil {
		return nil, err
	}
	if err := s.Admission(ctx, c); err != nil {
		return nil, err
	}
	if d := s.policy.Decide(actor.Principal(), a, c.Facts()); !d.Allowed && slices.Contains(d.Policies, RuleUnconfirmedRecord) {
		s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
			Attrs: map[string]string{"action": string(a), "rule": RuleUnconfirmedRecord}})
		return nil, c.NotConfirmed(what)
	}
	admitted := c
	return s.mutateBy(ctx, actor, id, a, func(c *Case) policy.Decision {
		c.keepAdmission(admitted)
		return s.policy.Decide(actor.Principal(), a, c.Facts())
	}, change)
}

// ViewFor returns case c as actor, who may read it (case.read), sees it:
// ForViewer's, except for a mediator no seated mediator has confirmed
// (Admission; policy unconfirmed-mediators-read-the-roster-only, asked
// about case.update), who reads the roster view (Case.RosterView): its
// sides, people and stage, which is how they see they are waiting. It
// reads the key directory (through Admission's short cache): call it
// under no lock.
func (s *Service) ViewFor(ctx context.Context, actor account.Account, c *Case) (*Case, error) {
	if err := s.Admission(ctx, c); err != nil {
		return nil, err
	}
	if d := s.policy.Decide(actor.Principal(), policy.CaseUpdate, c.Facts()); !d.Allowed && slices.Contains(d.Policies, RuleUnconfirmedRecord) {
		return c.RosterView(), nil
	}
	return c.ForViewer(actor.ID), nil
}

// rosterOnly reports whether actor, who may read case c, reads only its
// roster view (ViewFor): a mediator no seated mediator has confirmed
// (Admission, policy unconfirmed-mediators-read-the-roster-only, asked
// about case.update). The key directory is asked only when it could say
// so: when actor is one of more than one mediator of c not recused (with
// one, nobody is unconfirmed). c itself is left as it was (the fact is
// put in a copy: a case list's records are shared). Call it under no
// lock.
func (s *Service) rosterOnly(ctx context.Context, actor account.Account, c *Case) (bool, error) {
	active := 0
	for _, m := range c.Mediators {
		if m.Recused == nil {
			active++
		}
	}
	if active < 2 || !c.activeMediator(actor.ID) {
		return false, nil
	}
	gate := *c
	if err := s.Admission(ctx, &gate); err != nil {
		return false, err
	}
	d := s.policy.Decide(actor.Principal(), policy.CaseUpdate, gate.Facts())
	return !d.Allowed && slices.Contains(d.Policies, RuleUnconfirmedRecord), nil
}

// RosterView is the case as a mediator no seated mediator has confirmed
// reads it (ViewFor): its title, type and reference, its sides, mediators
// and participants, its stage and when it changed (without the notes),
// its dates and the program's notices — no objectives, disclosures,
// outcome, terms or rooms. The result shares nothing mutable with c but
// the roster's slices, which the caller must not change.
func (c *Case) RosterView() *Case {
	out := &Case{ID: c.ID, Title: c.Title, Type: c.Type, ReferralSource: c.ReferralSource, Reference: c.Reference,
		Sides: c.Sides, Mediators: c.Mediators, Participants: c.Participants, Objectives: []Objective{},
		Stage: c.Stage, StageHistory: make([]StageChange, len(c.StageHistory)), Disclosures: []Disclosure{},
		Created: c.Created, CreatedBy: c.CreatedBy, Closed: c.Closed, Notices: c.Notices, PendingMediators: c.PendingMediators,
		unconfirmed: c.unconfirmed, signed: c.signed}
	for i, h := range c.StageHistory {
		h.Note = ""
		out.StageHistory[i] = h
	}
	return out
}

// refuseUnconfirmed refuses actor action a on case c, by rule, when
// Admission finds them a mediator no seated mediator has confirmed and
// policy says so: audited naming the action and the rule, in words saying
// what they wait for (what). c itself is left as it was (the fact is put
// in a copy), for the caller's other decisions. Call it under no lock.
func (s *Service) refuseUnconfirmed(ctx context.Context, actor account.Account, a policy.Action, c *Case, rule, what string) error {
	gate := *c
	if err := s.Admission(ctx, &gate); err != nil {
		return err
	}
	if d := s.policy.Decide(actor.Principal(), a, gate.Facts()); d.Allowed || !slices.Contains(d.Policies, rule) {
		return nil
	}
	s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
		Attrs: map[string]string{"action": string(a), "rule": rule}})
	return gate.NotConfirmed(what)
}
