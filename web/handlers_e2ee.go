package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/keydir"
)

// End-to-end encryption over HTTP (docs/protocol.md). The server keeps the
// key directory, the membership statements and carry records; it never
// holds a private key or a message's plaintext. Every directory answer
// (keydir.Proven) carries a signed checkpoint and proofs; ?since=<size>
// asks for a consistency proof from a checkpoint the client saw.

// keydirRoutes serves the caller's own devices (authenticated group).
func (a *API) keydirRoutes(r chi.Router) {
	r.Post("/keys/devices", a.registerDevice)
	r.Get("/keys/devices", a.myDevices)
	r.Post("/keys/revocations", a.revokeDevice)
	a.pairingRoutes(r)
}

// e2eeRoutes serves a case's devices, statements and carries (the
// /cases/{caseID} group).
func (a *API) e2eeRoutes(r chi.Router) {
	r.Get("/devices", a.caseDevices)
	r.Get("/e2ee/statements", a.statements)
	r.Post("/e2ee/statements", a.postStatement)
	r.Post("/e2ee/admissions", a.admitDevice)
	r.Post("/carries", a.proposeCarry)
	r.Get("/carries/{carryID}", a.getCarry)
	r.Post("/carries/{carryID}/consent", a.consentCarry)
	r.Post("/carries/{carryID}/decline", a.declineCarry)
}

func (a *API) keydirReady(w http.ResponseWriter, r *http.Request) bool {
	if a.keydir == nil {
		writeProblem(w, r, problem{Type: api.ProblemUnavailable, Title: "End-to-end encryption is not configured on this node", Status: http.StatusServiceUnavailable})
		return false
	}
	return true
}

// proven runs one key-directory call that takes ?since and answers Proven.
func (a *API) proven(w http.ResponseWriter, r *http.Request, status int, call func(since int64) (*keydir.Proven, error)) {
	if !a.keydirReady(w, r) {
		return
	}
	since, err := queryInt(r, "since", 0)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := call(since)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, p)
}

func (a *API) record(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var req api.RecordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return nil, false
	}
	return req.Record, true
}

func (a *API) registerDevice(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	rec, ok := a.record(w, r)
	if !ok {
		return
	}
	a.proven(w, r, http.StatusCreated, func(since int64) (*keydir.Proven, error) {
		return a.keydir.RegisterInSession(r.Context(), actor, sessionFrom(r.Context()), rec, since)
	})
}

func (a *API) myDevices(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	a.proven(w, r, http.StatusOK, func(since int64) (*keydir.Proven, error) {
		return a.keydir.MyDevices(r.Context(), actor, since)
	})
}

func (a *API) revokeDevice(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	rec, ok := a.record(w, r)
	if !ok {
		return
	}
	a.proven(w, r, http.StatusCreated, func(since int64) (*keydir.Proven, error) {
		return a.keydir.Revoke(r.Context(), actor, rec, since)
	})
}

func (a *API) caseDevices(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	a.proven(w, r, http.StatusOK, func(since int64) (*keydir.Proven, error) {
		return a.keydir.CaseDevices(r.Context(), actor, chi.URLParam(r, "caseID"), since)
	})
}

func (a *API) statements(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	a.proven(w, r, http.StatusOK, func(since int64) (*keydir.Proven, error) {
		return a.keydir.Statements(r.Context(), actor, chi.URLParam(r, "caseID"), since)
	})
}

func (a *API) postStatement(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	rec, ok := a.record(w, r)
	if !ok {
		return
	}
	a.proven(w, r, http.StatusCreated, func(since int64) (*keydir.Proven, error) {
		return a.keydir.PostStatement(r.Context(), actor, chi.URLParam(r, "caseID"), rec, since)
	})
}

func (a *API) proposeCarry(w http.ResponseWriter, r *http.Request) {
	if !a.keydirReady(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	var req api.CarryRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	cr, err := a.keydir.ProposeCarry(r.Context(), actor, chi.URLParam(r, "caseID"), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, cr.View())
}

// getCarry is the server's record of one carry: for its author and the
// case's mediators; anyone else's is answered as a missing one (404).
func (a *API) getCarry(w http.ResponseWriter, r *http.Request) {
	if !a.keydirReady(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	cr, err := a.keydir.GetCarry(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "carryID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cr.View())
}

func (a *API) consentCarry(w http.ResponseWriter, r *http.Request) {
	if !a.keydirReady(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	var req api.ConsentRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	cr, err := a.keydir.ConsentCarry(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "carryID"), req.Hash)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cr.View())
}

// declineCarry is the author's refusal of a proposed carry (no body).
func (a *API) declineCarry(w http.ResponseWriter, r *http.Request) {
	if !a.keydirReady(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	cr, err := a.keydir.DeclineCarry(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "carryID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cr.View())
}
