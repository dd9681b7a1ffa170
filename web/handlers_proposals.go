package web

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
)

// The program's proposals about a case's mediators (cases/proposals.go):
// staff propose, a second independent person approves.

func proposalView(caseID string, p cases.Proposal) api.Proposal {
	return api.Proposal{ID: p.ID, CaseID: caseID, Kind: string(p.Kind), Subject: p.Subject, Reason: p.Reason,
		Proposer: p.Proposer, Proposed: p.Proposed, Status: string(p.Status), DecidedBy: p.DecidedBy, Decided: p.Decided, Note: p.Note}
}

// proposalAction decodes a request of type Req, runs do with the actor,
// the case id and the request, and answers the proposal's view: the one
// shape of the four proposal routes.
func proposalAction[Req any](a *API, w http.ResponseWriter, r *http.Request, status int,
	do func(ctx context.Context, actor account.Account, caseID string, req Req) (cases.Proposal, error)) {
	var req Req
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	p, err := do(r.Context(), actor, caseID, req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, proposalView(caseID, p))
}

func (a *API) proposeRecusal(w http.ResponseWriter, r *http.Request) {
	proposalAction(a, w, r, http.StatusCreated, func(ctx context.Context, actor account.Account, caseID string, req api.RecusalProposalRequest) (cases.Proposal, error) {
		return a.cases.ProposeRecusal(ctx, actor, caseID, req.MediatorID, req.Reason)
	})
}

func (a *API) proposeAssignment(w http.ResponseWriter, r *http.Request) {
	proposalAction(a, w, r, http.StatusCreated, func(ctx context.Context, actor account.Account, caseID string, req api.AssignmentProposalRequest) (cases.Proposal, error) {
		return a.cases.ProposeAssignment(ctx, actor, caseID, req.AccountID, req.Reason)
	})
}

func (a *API) approveProposal(w http.ResponseWriter, r *http.Request) {
	proposalAction(a, w, r, http.StatusOK, func(ctx context.Context, actor account.Account, caseID string, req api.ProposalDecisionRequest) (cases.Proposal, error) {
		return a.cases.ApproveProposal(ctx, actor, caseID, chi.URLParam(r, "proposalID"), cases.ProposalKind(req.Kind))
	})
}

func (a *API) declineProposal(w http.ResponseWriter, r *http.Request) {
	proposalAction(a, w, r, http.StatusOK, func(ctx context.Context, actor account.Account, caseID string, _ api.ProposalDecisionRequest) (cases.Proposal, error) {
		return a.cases.DeclineProposal(ctx, actor, caseID, chi.URLParam(r, "proposalID"))
	})
}

func (a *API) caseProposals(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	list, err := a.cases.Proposals(r.Context(), actor, caseID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]api.Proposal, len(list))
	for i, p := range list {
		out[i] = proposalView(caseID, p)
	}
	writeJSON(w, http.StatusOK, api.List[api.Proposal](out))
}

func (a *API) pendingProposals(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	list, err := a.cases.PendingProposals(r.Context(), actor)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]api.Proposal, len(list))
	for i, p := range list {
		out[i] = proposalView(p.CaseID, p.Proposal)
	}
	writeJSON(w, http.StatusOK, api.List[api.Proposal](out))
}
