package api

import "time"

// RecusalProposalRequest proposes recusing a mediator of a case
// (POST /api/v1/cases/{caseID}/recusal-proposals). The reason is shown to
// everyone in the case if a second person approves.
type RecusalProposalRequest struct {
	MediatorID string `json:"mediatorId"`
	Reason     string `json:"reason"`
}

// AssignmentProposalRequest proposes a mediator account for a case whose
// every mediator has recused (POST /api/v1/cases/{caseID}/assignment-proposals).
type AssignmentProposalRequest struct {
	AccountID string `json:"accountId"`
	Reason    string `json:"reason,omitempty"`
}

// ProposalDecisionRequest approves or declines a proposal
// (POST /api/v1/cases/{caseID}/proposals/{proposalID}/approve|decline).
// Kind, if set ("recusal" or "assignment"), must be the proposal's: a
// script that means to approve a recusal never approves an assignment.
type ProposalDecisionRequest struct {
	Kind string `json:"kind,omitempty"`
}

// Proposal is a proposal about a case's mediators, as staff see it: ids,
// kind, status, dates and the proposer's reason — never the case's title,
// roster or content.
type Proposal struct {
	ID     string `json:"id"`
	CaseID string `json:"caseId"`
	// Kind is "recusal" or "assignment".
	Kind string `json:"kind"`
	// Subject is the account id of the mediator to recuse or the nominee.
	Subject  string    `json:"subject"`
	Reason   string    `json:"reason,omitempty"`
	Proposer string    `json:"proposer"`
	Proposed time.Time `json:"proposed"`
	// Status is "pending", "approved", "declined", "withdrawn" or
	// "lapsed": an approved assignment that did not take effect when its
	// notice period ended (Note says why).
	Status    string     `json:"status"`
	DecidedBy string     `json:"decidedBy,omitempty"`
	Decided   *time.Time `json:"decided,omitempty"`
	// Note says in plain words why a lapsed assignment did not take
	// effect.
	Note string `json:"note,omitempty"`
}
