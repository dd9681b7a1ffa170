package policy

import (
	cedar "github.com/cedar-policy/cedar-go"
)

// Proposal actions (package cases). The rules are in proposals.cedar.
const (
	// RecusalPropose: propose recusing a mediator (DecideProposal).
	RecusalPropose Action = "case.recusal.propose"
	// RecusalApprove: approve a recusal proposal (DecideProposal: never
	// the proposer, an account tied to it, or the mediator concerned).
	RecusalApprove Action = "case.recusal.approve"
	// AssignPropose: propose a mediator for an orphaned case
	// (DecideProposal: never a nominee the proposer controls).
	AssignPropose Action = "case.assign.propose"
	// AssignApprove: approve an assignment proposal (DecideProposal:
	// never a nominee the approver or the proposer controls).
	AssignApprove Action = "case.assign.approve"
	// AssignActivate: the notice period of an approved assignment has
	// passed; may the nominee become a mediator of the case? Decided by
	// the service, no one acting, with the approver as principal and
	// everyone's control as it is then (DecideProposal).
	AssignActivate Action = "case.assign.activate"
	// ProposalDecline: decline or withdraw a proposal (DecideProposal).
	ProposalDecline Action = "case.proposal.decline"
	// ProposalRead: list a case's proposals (Decide with the case).
	ProposalRead Action = "case.proposal.read"
)

// ProposalActions lists the proposal actions, for tables and tests.
func ProposalActions() []Action {
	return []Action{RecusalPropose, RecusalApprove, AssignPropose, AssignApprove, AssignActivate, ProposalDecline, ProposalRead}
}

// Proposal is a proposal about a case's mediators as policy sees it. The
// lineages are the accounts that created the proposer and the subject,
// directly or through accounts they created (account.Account.Lineage).
type Proposal struct {
	Case            *Case
	Proposer        string
	ProposerLineage []string
	// Subject is the mediator to recuse or the nominee to assign.
	Subject        string
	SubjectLineage []string
	// SubjectProvenanceKnown: the subject's lineage is recorded in full;
	// a nominee whose lineage is unknown is never independent.
	SubjectProvenanceKnown bool
}

// DecideProposal answers whether u may do a (propose, approve, decline) to
// proposal p. For a new proposal, Proposer is u itself. CaseAddMediator
// is decided here too, for the colleague a mediator adds (Proposer the
// adder, Subject the colleague). The four-eyes and
// independence rules are forbids in proposals.cedar, so they hold whatever
// the caller does.
func (e *Engine) DecideProposal(u User, a Action, p Proposal) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, nil)
	c := p.Case
	if c == nil {
		c = &Case{}
	}
	caseUID := e.addCase(entities, c)
	uid := cedar.NewEntityUID("Proposal", "proposal")
	entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{
		"case":                   caseUID,
		"proposer":               cedar.NewEntityUID("User", cedar.String(p.Proposer)),
		"proposerControl":        userSet(append([]string{p.Proposer}, p.ProposerLineage...)),
		"subject":                cedar.NewEntityUID("User", cedar.String(p.Subject)),
		"subjectControl":         userSet(append([]string{p.Subject}, p.SubjectLineage...)),
		"subjectProvenanceKnown": cedar.Boolean(p.SubjectProvenanceKnown),
	})}
	return e.evaluate(entities, principal, a, uid)
}
