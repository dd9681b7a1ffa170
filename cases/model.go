package cases

import (
	"slices"
	"time"

	"github.com/parley-mediation/parley/api"

	"github.com/parley-mediation/parley/policy"
)

// The case's value types are the wire's (package api): a stage, a role,
// a side, an objective mean the same stored and answered. The case record
// itself (Case) is this package's; View makes the API's copy.
type (
	Stage           = api.Stage
	ParticipantRole = api.ParticipantRole
	ObjectiveKind   = api.ObjectiveKind
	Side            = api.Side
	Mediator        = api.Mediator
	Participant     = api.Participant
	Objective       = api.Objective
	StageChange     = api.StageChange
	Disclosure      = api.Disclosure
	Ack             = api.Ack
	Summary         = api.Summary
)

// The stages, in order.
const (
	StagePreparation = api.StagePreparation
	StageOpening     = api.StageOpening
	StageIssues      = api.StageIssues
	StageNegotiation = api.StageNegotiation
	StageClosure     = api.StageClosure
)

// Stages lists the stages in workflow order.
var Stages = api.Stages

// Participant roles. Counsel belongs to one side; an observer belongs to none
// and so is never in a caucus.
const (
	RoleParty    = api.RoleParty
	RoleCounsel  = api.RoleCounsel
	RoleObserver = api.RoleObserver
)

// Objective kinds.
const (
	KindObjective = api.KindObjective
	KindCriterion = api.KindCriterion
)

// Case is the whole case record.
type Case struct {
	ID             string `json:"id"`
	Title          string `json:"title"`
	Type           string `json:"type"`
	ReferralSource string `json:"referralSource,omitempty"`
	// Reference is the program's docket or file number (reference.go).
	Reference    string        `json:"reference,omitempty"`
	Sides        []Side        `json:"sides"`
	Mediators    []Mediator    `json:"mediators"`
	Participants []Participant `json:"participants"`
	Objectives   []Objective   `json:"objectives"`
	Stage        Stage         `json:"stage"`
	StageHistory []StageChange `json:"stageHistory"`
	Disclosures  []Disclosure  `json:"disclosures"`
	Created      time.Time     `json:"created"`
	CreatedBy    string        `json:"createdBy"`
	Closed       *time.Time    `json:"closed,omitempty"`
	Outcome      *Outcome      `json:"outcome,omitempty"`
	// Notices are what the program did to the case's mediators (a
	// recusal or an assignment approved by two people), told to everyone
	// who reads the case.
	Notices []Notice `json:"notices,omitempty"`
	// PendingMediators were assigned by the program and read nothing until
	// their notice period ends; they are not in Mediators (nor in Facts)
	// until then.
	PendingMediators []PendingMediator `json:"pendingMediators,omitempty"`
	// Proposals are the program's proposals about the mediators. They are
	// staff business: Get and the case's changes hand the case out without
	// them (Redacted); staff list them with Proposals.
	Proposals []Proposal `json:"proposals,omitempty"`
	// Removed are the participants a mediator took out of the case
	// (RemoveParticipant), kept for the record. They are in no policy
	// fact, no room and no membership statement.
	Removed []RemovedParticipant `json:"removed,omitempty"`
	// RefusedAccounts are the accounts of joins the case refused after
	// their invitation was claimed (the id minted for that claim, JoinAs),
	// marked by a conditional write of this record, as a seating is,
	// before the account is deleted (discardRefused): no join seats them
	// any more (joinRefused), so that deletion never takes the account of
	// someone a later open of the link seated meanwhile. Server business,
	// as Unaudited.
	RefusedAccounts []string `json:"refusedAccounts,omitempty"`
	// Terms are the case's ground rules once a mediator set them or
	// someone accepted them (nil: the program's default, consent.go);
	// TermsConsents are every signed acceptance, of every version.
	Terms         *api.Terms    `json:"terms,omitempty"`
	TermsConsents []api.Consent `json:"termsConsents,omitempty"`
	// Rooms are the rooms a mediator opened with chosen people (rooms.go),
	// closed ones included. They are their members' business: the case's
	// API view (View) never carries them.
	Rooms []DefinedRoom `json:"rooms,omitempty"`
	// Unaudited is the case's audit outbox (outbox.go): the audit events
	// of changes written to this record whose entry is not yet known to be
	// in the audit log. A change and its event are one write; the event
	// leaves this list once the log has it (its own request appends it, or,
	// once stale, the next change or the sweep). Server business: Redacted,
	// View and ForViewer's callers never hand it out.
	Unaudited []PendingEvent `json:"unaudited,omitempty"`
	// Disposing is when retention began disposing of the case
	// (BeginDisposal, disposal.go): from that write on the case takes no
	// change (ErrDisposing), so the outbox retention empties before it
	// deletes the record stays empty. Reads work as before.
	Disposing *time.Time `json:"disposing,omitempty"`
	// DisposingPlan is the retention plan whose disposal set the fence
	// (Disposing): only that plan pauses or lifts it, and another plan's
	// BeginDisposal is refused (ErrDisposalUnderWay) while it stands.
	// Empty on a fence from before plans were recorded (any plan takes it
	// over). Server business, as Unaudited.
	DisposingPlan string `json:"disposingPlan,omitempty"`
	// DisposalPaused is when retention stopped disposing of the case
	// because the object store refused to delete a version under a
	// storage (legal) hold (PauseDisposal): the fence is lifted, what is
	// left of the case is kept and takes changes again, and the next plan
	// that reaches the case record after the hold is released fences it
	// again and finishes. It stays set until the disposal completes (the
	// record is gone): a later plan that fences the case and then keeps it
	// (a document, message or keep found) leaves it paused.
	DisposalPaused *time.Time `json:"disposalPaused,omitempty"`

	// unconfirmed is the policy fact Service.Admission puts in a case
	// read for a decision about its content (policy.Case.Unconfirmed):
	// never stored, and empty in every case Admission did not see.
	unconfirmed []string
	// signed: Admission found a signed membership statement (for the
	// words of NotConfirmed).
	signed bool
}

// RemovedParticipant is a participant taken out of a case.
type RemovedParticipant struct {
	Participant
	Removed   time.Time `json:"removed"`
	RemovedBy string    `json:"removedBy"`
}

// Redacted returns a copy of the case without the program's proposals, for
// the people of the case.
func (c *Case) Redacted() *Case {
	out := *c
	out.Proposals = nil
	out.Unaudited = nil
	out.DisposingPlan = ""
	out.RefusedAccounts = nil
	return &out
}

// Summary returns the case's metadata-only view, whole: for records staff
// and the case's mediators. SummaryFor is what one account may see.
func (c *Case) Summary() Summary {
	hist := make([]StageChange, len(c.StageHistory))
	for i, h := range c.StageHistory {
		h.Note = ""
		hist[i] = h
	}
	return Summary{ID: c.ID, Reference: c.Reference, Type: c.Type, Stage: c.Stage, Sides: len(c.Sides),
		Participants: len(c.Participants), Created: c.Created, Closed: c.Closed, StageHistory: hist, Outcome: c.Outcome}
}

// SummaryFor returns the case's summary as accountID sees it: whole for
// the case's active mediators and for records staff (who are not in the
// case), the outcome's result alone (outcomeResult) for anyone else in it.
func (c *Case) SummaryFor(accountID string) Summary {
	s := c.Summary()
	if c.activeMediator(accountID) {
		return s
	}
	_, participant := c.Participant(accountID)
	if _, mediator := c.Mediator(accountID); participant || mediator {
		s.Outcome = outcomeResult(s.Outcome)
	}
	return s
}

// ForViewer returns the case as accountID, who may read it, sees it. A
// stage change's note is for the case's mediators only: a mediator may
// write why talks went back a stage in words one side must not read, and
// parties, counsel and observers of both sides read the same case record.
// They see that the stage changed, when, and by whom; never the note. Of
// the outcome they see the result alone (outcomeResult). The result shares
// nothing mutable with c.
func (c *Case) ForViewer(accountID string) *Case {
	if c.activeMediator(accountID) {
		return c
	}
	out := *c
	out.StageHistory = make([]StageChange, len(c.StageHistory))
	for i, h := range c.StageHistory {
		h.Note = ""
		out.StageHistory[i] = h
	}
	out.Outcome = outcomeResult(c.Outcome)
	return &out
}

// outcomeResult is the outcome as parties, counsel and observers see it:
// how the case ended, without the sessions and hours the mediator
// recorded (they count caucuses too: side B, knowing the joint sessions
// and its own caucuses, would work out how much side A caucused), nor
// when or by whom it was recorded.
func outcomeResult(o *Outcome) *Outcome {
	if o == nil {
		return nil
	}
	return &Outcome{Result: o.Result}
}

func (c *Case) activeMediator(accountID string) bool {
	m, ok := c.Mediator(accountID)
	return ok && m.Recused == nil
}

// Facts returns what policy needs to decide about this case.
func (c *Case) Facts() *policy.Case {
	f := &policy.Case{ID: c.ID, SideMembers: map[string][]string{}}
	for _, m := range c.Mediators {
		f.Mediators = append(f.Mediators, m.AccountID)
		if m.Recused != nil {
			f.Recused = append(f.Recused, m.AccountID)
		}
	}
	for _, p := range c.Participants {
		switch p.Role {
		case RoleParty:
			f.Parties = append(f.Parties, p.AccountID)
			f.SideMembers[p.Side] = append(f.SideMembers[p.Side], p.AccountID)
		case RoleCounsel:
			f.Counsel = append(f.Counsel, p.AccountID)
			f.SideMembers[p.Side] = append(f.SideMembers[p.Side], p.AccountID)
		case RoleObserver:
			f.Observers = append(f.Observers, p.AccountID)
		}
	}
	f.Unconfirmed = c.unconfirmed
	return f
}

// HasSide reports whether the case has a side with this id.
func (c *Case) HasSide(id string) bool {
	return slices.ContainsFunc(c.Sides, func(s Side) bool { return s.ID == id })
}

// Mediator returns the case's mediator entry for an account, if any.
func (c *Case) Mediator(accountID string) (*Mediator, bool) {
	for i := range c.Mediators {
		if c.Mediators[i].AccountID == accountID {
			return &c.Mediators[i], true
		}
	}
	return nil, false
}

// Participant returns the participant entry for an account, if any.
func (c *Case) Participant(accountID string) (*Participant, bool) {
	for i := range c.Participants {
		if c.Participants[i].AccountID == accountID {
			return &c.Participants[i], true
		}
	}
	return nil, false
}

// View is the case as the API shows it: never the program's proposals
// (staff business, listed apart), which api.Case has no member for.
func (c *Case) View() api.Case {
	v := api.Case{ID: c.ID, Title: c.Title, Type: c.Type, ReferralSource: c.ReferralSource, Reference: c.Reference, Sides: c.Sides,
		Mediators: c.Mediators, Participants: c.Participants, Objectives: c.Objectives, Stage: c.Stage,
		StageHistory: c.StageHistory, Disclosures: c.Disclosures, Created: c.Created, CreatedBy: c.CreatedBy,
		Closed: c.Closed, Outcome: c.Outcome, PendingMediators: c.PendingMediators}
	for _, n := range c.Notices {
		v.Notices = append(v.Notices, api.CaseNotice{ID: n.ID, Kind: string(n.Kind), Mediator: n.Mediator, Name: n.Name,
			At: n.At, ReadsFrom: n.ReadsFrom, Reason: n.Reason, Text: n.Text})
	}
	return v
}
