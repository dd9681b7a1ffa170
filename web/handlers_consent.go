package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
)

// consentRoutes: a case's terms (ground rules) and their device-signed
// acceptances (cases/consent.go).
func (a *API) consentRoutes(r chi.Router) {
	r.Get("/terms", a.caseTerms)
	r.Put("/terms", a.setTerms)
	r.Post("/terms/accept", a.acceptTerms)
}

func (a *API) caseTerms(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	v, err := a.cases.TermsStatus(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) setTerms(w http.ResponseWriter, r *http.Request) {
	var req api.TermsSetRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	v, err := a.cases.SetTerms(r.Context(), actor, chi.URLParam(r, "caseID"), req.Text)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) acceptTerms(w http.ResponseWriter, r *http.Request) {
	var req api.SignedConsentRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	v, err := a.cases.AcceptTerms(r.Context(), actor, chi.URLParam(r, "caseID"), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// acknowledge records a disclosure's acknowledgement: signed by the
// person's device when the body carries a signature, else plain ({}).
func (a *API) acknowledge(w http.ResponseWriter, r *http.Request) {
	caseChange(a, func(r *http.Request, req *api.SignedConsentRequest) (*cases.Case, error) {
		actor, _ := actorFrom(r.Context())
		return a.cases.AcknowledgeSigned(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "disclosureID"), *req)
	})(w, r)
}
