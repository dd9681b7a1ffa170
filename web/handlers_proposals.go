package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
)

// The program's proposals about a case's mediators (cases/proposals.go):
// staff propose, a second independent person approves.

func proposalView(caseID string, p cases.Proposal) api.Proposal {
	return api.Proposal{ID: p.ID, CaseID: caseID, Kind: string(p.Kind), Subject: p.Subject, Reason: p.Reason,
		Proposer: p.Proposer, Proposed: p.Proposed, Status: string(p.Status), DecidedBy: p.DecidedBy, Decided: p.Decided}
}

func (a *API) proposeRecusal(w http.ResponseWriter, r *http.Request) {
	var req api.RecusalProposalRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	p, err := a.cases.ProposeRecusal(r.Context(), actor, caseID, req.MediatorID, req.Reason)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, proposalView(caseID, p))
}

func (a *API) proposeAssignment(w http.ResponseWriter, r *http.Request) {
	var req api.AssignmentProposalRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	p, err := a.cases.ProposeAssignment(r.Context(), actor, caseID, req.AccountID, req.Reason)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, proposalView(caseID, p))
}

func (a *API) approveProposal(w http.ResponseWriter, r *http.Request) {
	var req api.ProposalDecisionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	p, err := a.cases.ApproveProposal(r.Context(), actor, caseID, chi.URLParam(r, "proposalID"), cases.ProposalKind(req.Kind))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, proposalView(caseID, p))
}

func (a *API) declineProposal(w http.ResponseWriter, r *http.Request) {
	var req api.ProposalDecisionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	p, err := a.cases.DeclineProposal(r.Context(), actor, caseID, chi.URLParam(r, "proposalID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, proposalView(caseID, p))
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
