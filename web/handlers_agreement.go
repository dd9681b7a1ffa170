package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
)

// maxAgreementBody bounds a save's JSON: the text (agreement.MaxTextLen
// bytes) as escaped JSON.
const maxAgreementBody = 8 * agreement.MaxTextLen

// agreementRoutes: a case's settlement agreement (package agreement).
func (a *API) agreementRoutes(r chi.Router) {
	r.Get("/agreement", a.getAgreement)
	r.Post("/agreement", a.startAgreement)
	r.Post("/agreement/versions", a.saveAgreement)
	r.Get("/agreement/versions/{version}", a.agreementVersion)
	r.Post("/agreement/sign", a.signAgreement)
	r.Post("/agreement/file", a.fileAgreement)
	r.Get("/agreement/pdf", a.agreementPDF)
}

func (a *API) agreementsOff(w http.ResponseWriter, r *http.Request) bool {
	if a.agreements == nil {
		a.writeError(w, r, fmt.Errorf("agreements are not served here: %w", fault.ErrUnavailable))
		return true
	}
	return false
}

func (a *API) agreementTemplates(w http.ResponseWriter, r *http.Request) {
	if a.agreementsOff(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, a.agreements.Templates())
}

func (a *API) getAgreement(w http.ResponseWriter, r *http.Request) {
	if a.agreementsOff(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	v, err := a.agreements.Get(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) startAgreement(w http.ResponseWriter, r *http.Request) {
	if a.agreementsOff(w, r) {
		return
	}
	var req api.AgreementStartRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	v, err := a.agreements.Start(r.Context(), actor, chi.URLParam(r, "caseID"), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (a *API) saveAgreement(w http.ResponseWriter, r *http.Request) {
	if a.agreementsOff(w, r) {
		return
	}
	var req api.AgreementSaveRequest
	if err := decodeJSONMax(w, r, &req, maxAgreementBody); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	v, err := a.agreements.Save(r.Context(), actor, chi.URLParam(r, "caseID"), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) agreementVersion(w http.ResponseWriter, r *http.Request) {
	if a.agreementsOff(w, r) {
		return
	}
	n, err := strconv.Atoi(chi.URLParam(r, "version"))
	if err != nil {
		n = -1 // refused as invalid after the access decision
	}
	actor, _ := actorFrom(r.Context())
	v, err := a.agreements.Version(r.Context(), actor, chi.URLParam(r, "caseID"), n)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) signAgreement(w http.ResponseWriter, r *http.Request) {
	if a.agreementsOff(w, r) {
		return
	}
	var req api.AgreementSignRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	v, err := a.agreements.Sign(r.Context(), actor, chi.URLParam(r, "caseID"), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) fileAgreement(w http.ResponseWriter, r *http.Request) {
	if a.agreementsOff(w, r) {
		return
	}
	var req api.AgreementFileRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	v, c, links, err := a.agreements.File(r.Context(), actor, chi.URLParam(r, "caseID"), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := api.AgreementFiled{Agreement: v}
	if c != nil {
		var warning string
		var mailed []bool
		if a.schedule != nil {
			var err error
			var mailErr error
			mailed, mailErr = a.schedule.MailSurveys(r.Context(), c, links, a.publicURL+"/survey")
			warning, err = linkMailWarning(mailErr, surveyQueueFailed)
			if err != nil {
				a.log.WarnContext(r.Context(), "survey mail", "error", err.Error())
			}
		}
		view := c.View()
		out.Outcome = &api.OutcomeResponse{Case: &view, Surveys: a.surveyLinks(links, mailed), MailWarning: warning}
	}
	writeJSON(w, http.StatusOK, out)
}

// agreementPDF serves the signed agreement's PDF (everyone who reads the
// agreement; once everyone has signed).
func (a *API) agreementPDF(w http.ResponseWriter, r *http.Request) {
	if a.agreementsOff(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	sg, err := a.agreements.Signed(r.Context(), actor, caseID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	pdf, err := agreement.RenderPDF(sg)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Length", strconv.Itoa(len(pdf)))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", contentDisposition(fmt.Sprintf("settlement-agreement-v%d.pdf", sg.Version)))
	w.WriteHeader(http.StatusOK)
	w.Write(pdf)
}

// agreementVerify checks a signed agreement's PDF (the request body) as
// `parley agreement verify` does offline. A PDF that does not verify is
// an answer (ok false, and the reason), not an error.
func (a *API) agreementVerify(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/pdf" && ct != "application/octet-stream" {
		a.writeError(w, r, fault.Invalid("Content-Type", "application/pdf"))
		return
	}
	b, err := readBody(w, r, agreement.MaxPDF)
	if maxErr := (*http.MaxBytesError)(nil); errors.As(err, &maxErr) {
		// Too large, as every other route answers (413).
		a.writeError(w, r, fmt.Errorf("a PDF of at most %d MiB: %w", agreement.MaxPDF>>20, fault.ErrTooLarge))
		return
	}
	if errors.Is(err, errSlowBody) {
		a.writeError(w, r, err)
		return
	}
	if err != nil {
		a.writeError(w, r, fault.Invalid("body", fmt.Sprintf("a PDF of at most %d MiB", agreement.MaxPDF>>20)))
		return
	}
	check, err := agreement.Verify(b)
	if err != nil {
		check.OK, check.Error = false, err.Error()
	}
	writeJSON(w, http.StatusOK, check)
}
