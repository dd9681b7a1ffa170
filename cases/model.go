package cases

import (
	"slices"
	"time"

	"github.com/parley-mediation/parley/policy"
)

// Stage is a step of the mediation workflow (the five stages of the domain
// text, in order).
type Stage string

// The stages, in order.
const (
	StagePreparation Stage = "preparation"
	StageOpening     Stage = "opening"
	StageIssues      Stage = "issues"
	StageNegotiation Stage = "negotiation"
	StageClosure     Stage = "closure"
)

// Stages lists the stages in workflow order.
var Stages = []Stage{StagePreparation, StageOpening, StageIssues, StageNegotiation, StageClosure}

var stageTitles = map[Stage]string{
	StagePreparation: "Preparation and case assessment",
	StageOpening:     "Opening session and ground rules",
	StageIssues:      "Issue identification and exploration",
	StageNegotiation: "Negotiation and issue resolution",
	StageClosure:     "Closure and follow-up",
}

// Title is the stage's name for people.
func (s Stage) Title() string { return stageTitles[s] }

func (s Stage) index() int { return slices.Index(Stages, s) }

// ParticipantRole is what a participant is in one case.
type ParticipantRole string

// Participant roles. Counsel belongs to one side; an observer belongs to none
// and so is never in a caucus.
const (
	RoleParty    ParticipantRole = "party"
	RoleCounsel  ParticipantRole = "counsel"
	RoleObserver ParticipantRole = "observer"
)

// Side is one side of the dispute.
type Side struct {
	ID    string `json:"id"`    // "A", "B", …
	Label string `json:"label"` // e.g. "Tenant"
}

// Mediator is a mediator assigned to the case.
type Mediator struct {
	AccountID     string     `json:"accountId"`
	Name          string     `json:"name"`
	Added         time.Time  `json:"added"`
	Recused       *time.Time `json:"recused,omitempty"`
	RecusalReason string     `json:"recusalReason,omitempty"`
}

// Participant is a party, counsel or observer who joined by invite.
type Participant struct {
	AccountID string          `json:"accountId"`
	Name      string          `json:"name"`
	Role      ParticipantRole `json:"role"`
	Side      string          `json:"side,omitempty"`
	Joined    time.Time       `json:"joined"`
}

// ObjectiveKind tells an objective from a success criterion.
type ObjectiveKind string

// Objective kinds.
const (
	KindObjective ObjectiveKind = "objective"
	KindCriterion ObjectiveKind = "success-criterion"
)

// Objective is a case objective or success criterion.
type Objective struct {
	ID    string        `json:"id"`
	Kind  ObjectiveKind `json:"kind"`
	Text  string        `json:"text"`
	Added time.Time     `json:"added"`
	By    string        `json:"by"`
}

// StageChange records one transition.
type StageChange struct {
	From Stage     `json:"from,omitempty"`
	To   Stage     `json:"to"`
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Note string    `json:"note,omitempty"`
}

// Disclosure is a mediator's conflict-of-interest disclosure.
type Disclosure struct {
	ID       string    `json:"id"`
	Mediator string    `json:"mediator"`
	Text     string    `json:"text"`
	At       time.Time `json:"at"`
	Acks     []Ack     `json:"acks,omitempty"`
}

// Ack is a party's or counsel's acknowledgement of a disclosure.
type Ack struct {
	AccountID string    `json:"accountId"`
	At        time.Time `json:"at"`
}

// Case is the whole case record.
type Case struct {
	ID             string        `json:"id"`
	Title          string        `json:"title"`
	Type           string        `json:"type"`
	ReferralSource string        `json:"referralSource,omitempty"`
	Sides          []Side        `json:"sides"`
	Mediators      []Mediator    `json:"mediators"`
	Participants   []Participant `json:"participants"`
	Objectives     []Objective   `json:"objectives"`
	Stage          Stage         `json:"stage"`
	StageHistory   []StageChange `json:"stageHistory"`
	Disclosures    []Disclosure  `json:"disclosures"`
	Created        time.Time     `json:"created"`
	CreatedBy      string        `json:"createdBy"`
	Closed         *time.Time    `json:"closed,omitempty"`
	Outcome        *Outcome      `json:"outcome,omitempty"`
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
}

// Redacted returns a copy of the case without the program's proposals, for
// the people of the case.
func (c *Case) Redacted() *Case {
	out := *c
	out.Proposals = nil
	return &out
}

// Summary is what records staff may see of a case: no title, names, or text.
type Summary struct {
	ID           string        `json:"id"`
	Type         string        `json:"type"`
	Stage        Stage         `json:"stage"`
	Sides        int           `json:"sides"`
	Participants int           `json:"participants"`
	Created      time.Time     `json:"created"`
	Closed       *time.Time    `json:"closed,omitempty"`
	StageHistory []StageChange `json:"stageHistory"`
	Outcome      *Outcome      `json:"outcome,omitempty"`
}

// Summary returns the case's metadata-only view.
func (c *Case) Summary() Summary {
	hist := make([]StageChange, len(c.StageHistory))
	for i, h := range c.StageHistory {
		h.Note = ""
		hist[i] = h
	}
	return Summary{ID: c.ID, Type: c.Type, Stage: c.Stage, Sides: len(c.Sides),
		Participants: len(c.Participants), Created: c.Created, Closed: c.Closed, StageHistory: hist, Outcome: c.Outcome}
}

// ForViewer returns the case as accountID, who may read it, sees it. A
// stage change's note is for the case's mediators only: a mediator may
// write why talks went back a stage in words one side must not read, and
// parties, counsel and observers of both sides read the same case record.
// They see that the stage changed, when, and by whom; never the note. The
// result shares nothing mutable with c.
func (c *Case) ForViewer(accountID string) *Case {
	if m, ok := c.Mediator(accountID); ok && m.Recused == nil {
		return c
	}
	out := *c
	out.StageHistory = make([]StageChange, len(c.StageHistory))
	for i, h := range c.StageHistory {
		h.Note = ""
		out.StageHistory[i] = h
	}
	return &out
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
