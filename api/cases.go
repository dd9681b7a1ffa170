package api

import (
	"slices"
	"time"
)

// Stage is a step of the mediation workflow, in order.
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

// Index is the stage's place in Stages (-1 if unknown).
func (s Stage) Index() int { return slices.Index(Stages, s) }

// ParticipantRole is what a participant is in one case.
type ParticipantRole string

// Participant roles. Counsel belongs to one side; an observer belongs to
// none and so is never in a caucus.
const (
	RoleParty    ParticipantRole = "party"
	RoleCounsel  ParticipantRole = "counsel"
	RoleObserver ParticipantRole = "observer"
)

// ObjectiveKind tells an objective from a success criterion.
type ObjectiveKind string

// Objective kinds.
const (
	KindObjective ObjectiveKind = "objective"
	KindCriterion ObjectiveKind = "success-criterion"
)

// OutcomeResult is how a mediation ended.
type OutcomeResult string

// Outcome results.
const (
	FullAgreement    OutcomeResult = "full-agreement"
	PartialAgreement OutcomeResult = "partial-agreement"
	NoAgreement      OutcomeResult = "no-agreement"
	Withdrawn        OutcomeResult = "withdrawn"
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

// Objective is an objective or success criterion of the case.
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
	// Signed is the acknowledgement as the person's device signed it
	// (api/consent.go), when their client signs.
	Signed *Consent `json:"signed,omitempty"`
}

// Outcome is what the mediator records at closure. The case's mediators
// and records staff see all of it; parties, counsel and observers see the
// result alone (Sessions and Hours count caucuses too, so one side could
// work out how much the other caucused), so every member but Result may be
// absent.
type Outcome struct {
	Result   OutcomeResult `json:"result"`
	Sessions int           `json:"sessions,omitzero"`
	Hours    float64       `json:"hours,omitzero"`
	Recorded time.Time     `json:"recorded,omitzero"`
	By       string        `json:"by,omitzero"`
}

// Case is a whole case as its members see it (GET /api/v1/cases/{id} and
// every case change). Someone allowed a change but not the case's content
// gets the same shape with only id, type, stage and dates.
type Case struct {
	ID             string `json:"id"`
	Title          string `json:"title"`
	Type           string `json:"type"`
	ReferralSource string `json:"referralSource,omitempty"`
	// Reference is the program's docket or file number, if it gave one.
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
	Notices []CaseNotice `json:"notices,omitempty"`
	// PendingMediators were assigned by the program, or held back by its
	// recusal of the last mediator who had admitted anyone (Held), and
	// read nothing until their notice period ends.
	PendingMediators []PendingMediator `json:"pendingMediators,omitempty"`
}

func (Case) wire() {}

// CaseNotice says in plain words (Text) what the program did to a mediator.
type CaseNotice struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"` // mediator.recused, mediator.assigned, mediator.held, assignment.withdrawn, assignment.lapsed
	Mediator  string     `json:"mediator"`
	Name      string     `json:"name"`
	At        time.Time  `json:"at"`
	ReadsFrom *time.Time `json:"readsFrom,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Text      string     `json:"text"`
}

// PendingMediator is a mediator the program assigned who reads nothing
// before ReadsFrom, or (Held) a co-mediator a mediator of the case added
// and no one admitted, whom the program's recusal of the last mediator
// who could have admitted them holds back as long (Proposal is then that
// recusal).
type PendingMediator struct {
	AccountID string    `json:"accountId"`
	Name      string    `json:"name"`
	Approved  time.Time `json:"approved"`
	ReadsFrom time.Time `json:"readsFrom"`
	Proposal  string    `json:"proposal"`
	Held      bool      `json:"held,omitempty"`
}

// Summary is what records staff may see of a case: no title, names, or text.
// Outcome is whole for records staff and the case's active mediators, its result
// alone for anyone else in the case, and absent for a mediator no seated
// mediator has confirmed yet (who reads the roster view: every other field
// is in it, StageHistory without notes, as for everyone here).
type Summary struct {
	ID string `json:"id"`
	// Reference is the program's docket or file number: records staff see
	// it (never the title), so a clerk told "hold 2026-CV-0142" finds it.
	Reference    string        `json:"reference,omitempty"`
	Type         string        `json:"type"`
	Stage        Stage         `json:"stage"`
	Sides        int           `json:"sides"`
	Participants int           `json:"participants"`
	Created      time.Time     `json:"created"`
	Closed       *time.Time    `json:"closed,omitempty"`
	StageHistory []StageChange `json:"stageHistory"`
	Outcome      *Outcome      `json:"outcome,omitempty"`
}

func (Summary) wire() {}

// Listed is one case in the case list.
type Listed struct {
	Summary
	Title string `json:"title,omitempty"`
	// Relation is the actor's relation to the case: mediator, party,
	// counsel, observer, or records.
	Relation string `json:"relation"`
	// Waiting: the actor is a mediator of the case whom no mediator
	// already in it has admitted yet; the row is the case's roster view
	// (cases.Case.RosterView), so its Outcome is left out whether or not
	// one is recorded.
	Waiting bool `json:"waiting,omitempty"`
}

func (Listed) wire() {}

// CreateCaseRequest opens a case (POST /api/v1/cases).
type CreateCaseRequest struct {
	Title          string   `json:"title"`
	Type           string   `json:"type"`
	ReferralSource string   `json:"referralSource"`
	Sides          []string `json:"sides"`
	// Reference: the program's docket or file number (optional, unique in
	// the program, at most 40 letters, digits and - / . : _ or spaces).
	Reference string `json:"reference,omitempty"`
}

// StageRequest moves a case (POST …/stage). Note is seen by the case's
// mediators only; participants see the change.
type StageRequest struct {
	Stage Stage  `json:"stage"`
	Note  string `json:"note"`
}

// TextRequest adds an objective (POST …/objectives, with Kind) or a
// disclosure (POST …/disclosures).
type TextRequest struct {
	Kind ObjectiveKind `json:"kind"`
	Text string        `json:"text"`
}

// RecuseRequest recuses a mediator (POST …/recusals).
type RecuseRequest struct {
	MediatorID string `json:"mediatorId"`
	Reason     string `json:"reason"`
}

// AddMediatorRequest assigns a mediator (POST …/mediators).
type AddMediatorRequest struct {
	AccountID string `json:"accountId"`
}

// EmptyRequest is the body of a change that needs no input ({}).
type EmptyRequest struct{}

// InviteRequest creates an invite link (POST …/invites).
type InviteRequest struct {
	Role       ParticipantRole `json:"role"`
	Side       string          `json:"side"`
	Name       string          `json:"name"`
	Email      string          `json:"email"`
	TTLSeconds int64           `json:"ttlSeconds"`
}

// InviteResponse carries the link once, for the mediator to hand over;
// the server keeps only its hash. A link mailed to the invitee's address
// (Mailed) is not in it: the mail alone carries it, so that the mediator
// cannot join in the invitee's place first.
type InviteResponse struct {
	// ID names the invitation to its case's mediators, as PendingInvite.ID
	// does (its token's keyed hash): the desk knows which listed
	// invitation a link it shows belongs to. The token cannot be had
	// from it.
	ID string `json:"id,omitempty"`
	// Link and Token: empty when Mailed.
	Link    string          `json:"link,omitempty"`
	Token   string          `json:"token,omitempty"`
	Expires time.Time       `json:"expires"`
	Role    ParticipantRole `json:"role"`
	Side    string          `json:"side,omitempty"`
	// Mailed: the link was queued to the email address given, for a real
	// mail server (not the development outbox), and is not in this answer.
	// MailWarning says when it could not be queued, or why it was not
	// mailed.
	Mailed      bool   `json:"mailed,omitempty"`
	MailWarning string `json:"mailWarning,omitempty"`
}

func (InviteResponse) wire() {}

// RedeemRequest redeems an invite (POST /api/v1/invites/redeem).
type RedeemRequest struct {
	Token string `json:"token"`
}

// OutcomeRequest records a closed case's outcome (POST …/outcome).
type OutcomeRequest struct {
	Result   OutcomeResult `json:"result"`
	Sessions int           `json:"sessions"`
	Hours    float64       `json:"hours"`
}

// OutcomeResponse is the case with its outcome and the survey links to
// hand out, one per participant. MailWarning says, in plain words, whose
// link was not emailed (their address is also on file for someone else in
// the case) or that some could not be queued.
type OutcomeResponse struct {
	Case        *Case        `json:"case"`
	Surveys     []SurveyLink `json:"surveys"`
	MailWarning string       `json:"mailWarning,omitempty"`
}

func (OutcomeResponse) wire() {}

// SurveyLink is one participant's single-use survey link. A link Parley
// emailed to the person is not given (Link empty, Mailed true): only they
// can answer it.
type SurveyLink struct {
	Name   string `json:"name"`
	Link   string `json:"link,omitempty"`
	Mailed bool   `json:"mailed,omitempty"`
}

// SurveyRequest answers a survey (POST /api/v1/surveys/responses).
type SurveyRequest struct {
	Token   string         `json:"token"`
	Scores  map[string]int `json:"scores"`
	Comment string         `json:"comment"`
}

// SurveyQuestion is one item of the survey (GET /api/v1/surveys/questions).
type SurveyQuestion struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

func (SurveyQuestion) wire() {}

// ExportRequest runs the evaluation export (POST /api/v1/exports); the
// answer is the file, its report in the Export… headers.
type ExportRequest struct {
	From         string `json:"from"` // YYYY-MM-01: the first day of a month
	To           string `json:"to"`   // YYYY-MM-01, exclusive: the first day of the month after the last
	Format       string `json:"format"`
	AgeRecipient string `json:"ageRecipient"`
	K            int    `json:"k"`
}

// Opener returns the one mediator who may sign the first membership
// statement of a case created by createdBy with these mediators, or ""
// when any of them may: a case with at most one mediator who is not
// recused. With more, it is the creator if they are a mediator of the
// case who is not recused, otherwise the mediator not recused who was
// added earliest (the record's order breaks a tie). The first statement
// seats its signer alone and the others wait to be confirmed by them, so
// without this whoever opened the conversation first — a co-mediator the
// creator never meant to sit with — would be the one confirming the
// others. The key directory refuses a first statement from anyone else
// (keydir.Service.PostStatement); web/client/src/e2ee.ts opener is the
// browser's copy. Both pass the opener cases of e2ee/testdata/vectors.json
// (TestOpenerVectors; web TestBrowserVectors).
func Opener(createdBy string, mediators []Mediator) string {
	var active []Mediator
	for _, m := range mediators {
		if m.Recused == nil {
			active = append(active, m)
		}
	}
	if len(active) <= 1 {
		return ""
	}
	first := active[0]
	for _, m := range active {
		if m.AccountID == createdBy {
			return createdBy
		}
		if m.Added.Before(first.Added) {
			first = m
		}
	}
	return first.AccountID
}
