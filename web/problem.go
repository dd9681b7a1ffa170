package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/vault"
)

// problem is an error answer as package web builds it: its type is an
// api.ProblemType, one of those api/problem.go declares, and only
// wireProblem turns it into the type URI on the wire
// (api.ProblemTypeBase + the type). TestProblemTypesAreDeclared checks
// that every type package web writes is declared and that nothing else
// sets api.Problem's Type.
type problem struct {
	Type   api.ProblemType
	Title  string
	Status int
	Detail string
	Errors []api.FieldError
}

// wireProblem is p as it travels, answering the request at instance (the
// URL path; "" when there is none yet) with requestID ("" likewise).
func wireProblem(p problem, instance, requestID string) api.Problem {
	return api.Problem{Type: api.ProblemTypeBase + string(p.Type), Title: p.Title, Status: p.Status, Detail: p.Detail,
		Instance: instance, RequestID: requestID, Errors: p.Errors}
}

// writeProblem answers with a problem+json body.
func writeProblem(w http.ResponseWriter, r *http.Request, p problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(wireProblem(p, r.URL.Path, requestID(r.Context())))
}

// writeError maps a service error to its problem. Unknown errors become a
// 500 whose body says nothing but the request id; the log has the cause.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if ie, ok := fault.AsInvalid(err); ok {
		writeProblem(w, r, problem{Type: api.ProblemInvalidInput, Title: "Some input is not valid", Status: http.StatusBadRequest,
			Detail: ie.Error(), Errors: []api.FieldError{{Field: ie.Field, Detail: ie.Detail}}})
		return
	}
	if re, ok := fault.AsRateLimited(err); ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(re.RetryAfter.Seconds()))))
		writeProblem(w, r, problem{Type: api.ProblemRateLimited, Title: "Too many attempts", Status: http.StatusTooManyRequests, Detail: re.Error()})
		return
	}
	if be, ok := fault.AsBusy(err); ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(be.RetryAfter.Seconds()))))
		writeProblem(w, r, problem{Type: api.ProblemBusy, Title: "The server is busy", Status: http.StatusServiceUnavailable, Detail: be.Detail})
		return
	}
	if p, ok := staffProblem(err); ok {
		writeProblem(w, r, p)
		return
	}
	if p, ok := typedProblem(err); ok {
		writeProblem(w, r, p)
		return
	}
	if errors.Is(err, errSlowBody) {
		w.Header().Set("Connection", "close")
		writeProblem(w, r, problem{Type: api.ProblemRequestTimeout, Title: "The request took too long to arrive", Status: http.StatusRequestTimeout,
			Detail: strings.TrimSuffix(err.Error(), ": "+errSlowBody.Error()) + "; send it again."})
		return
	}
	if errors.Is(err, vault.ErrUnconfirmed) {
		// An upload (a document, a version, an agreement's text) whose
		// record write may still land: "try again" could add it twice.
		// The store's error names internal keys: it stays in the log.
		a.log.WarnContext(r.Context(), "upload not confirmed", slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
		writeProblem(w, r, problem{Type: api.ProblemUploadUnconfirmed, Title: "The upload could not be confirmed",
			Status: http.StatusServiceUnavailable,
			Detail: "Its contents were stored, but storage did not confirm that the document or version was added, so it may still appear. Look at the documents list before adding it again."})
		return
	}
	if errors.Is(err, metastore.ErrTooLarge) {
		// A record (a case, a document, an agreement…) would outgrow what
		// one record holds: the change was refused before it was written.
		// The record's key stays in the log.
		a.log.WarnContext(r.Context(), "record too large", slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
		writeProblem(w, r, problem{Type: api.ProblemTooLarge, Title: "This record is full", Status: http.StatusConflict,
			Detail: fmt.Sprintf("The change would make a stored record larger than %d MiB, so it was not made. Remove something from it first, or start a new one.", metastore.MaxRecordSize>>20)})
		return
	}
	kinds := []struct {
		err    error
		status int
		typ    api.ProblemType
		title  string
	}{
		{fault.ErrUnauthenticated, http.StatusUnauthorized, api.ProblemUnauthenticated, "Sign in first"},
		{fault.ErrForbidden, http.StatusForbidden, api.ProblemForbidden, "You are not allowed to do this"},
		{fault.ErrNotFound, http.StatusNotFound, api.ProblemNotFound, "Not found"},
		{fault.ErrConflict, http.StatusConflict, api.ProblemConflict, "This conflicts with the current state"},
		{fault.ErrGone, http.StatusGone, api.ProblemGone, "No longer valid"},
		{fault.ErrTooLarge, http.StatusRequestEntityTooLarge, api.ProblemTooLarge, "Request body too large"},
	}
	if errors.Is(err, kms.ErrStaleMasterKey) {
		// This node holds another master key than the store's: the master
		// key was rotated while it kept running. Nothing was written; the
		// node must be stopped (it is the operator's to fix, not the
		// client's, so ERROR), and the request retried goes to a node on
		// the new key.
		a.log.ErrorContext(r.Context(), "master key rotated while this node ran: stop it", slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, problem{Type: api.ProblemUnavailable, Title: "Storage is unavailable; try again shortly", Status: http.StatusServiceUnavailable,
			Detail: "The request was not acknowledged; try it again shortly."})
		return
	}
	if errors.Is(err, fault.ErrUnavailable) {
		// The cause (object keys, addresses) stays in the log.
		a.log.WarnContext(r.Context(), "storage unavailable", slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, problem{Type: api.ProblemUnavailable, Title: "Storage is unavailable; try again shortly", Status: http.StatusServiceUnavailable,
			Detail: "The request was not acknowledged; try it again shortly."})
		return
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			detail := strings.TrimSuffix(err.Error(), ": "+k.err.Error())
			writeProblem(w, r, problem{Type: k.typ, Title: k.title, Status: k.status, Detail: detail})
			return
		}
	}
	a.log.ErrorContext(r.Context(), "request failed", slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
	writeProblem(w, r, problem{Type: api.ProblemInternal, Title: "Something went wrong on the server", Status: http.StatusInternalServerError,
		Detail: "The error has been logged with this request id."})
}

// typedProblem gives the refusals a client must tell apart from others of
// the same status a type of their own: a signature on a replaced agreement
// version and one on a filed agreement, a document refused because its
// case holds the most documents it can and a version because its document
// holds the most versions (all 409), and an invitation for
// someone who already joined with another link (410, where a new
// invitation would make a second copy of them), and an invitation or a
// link back in asked by a mediator the signed membership does not seat,
// and a co-mediator no seated mediator has confirmed asking for the case's
// documents, rooms or sessions or to change who is in it (403, where
// other refusals say only "not allowed"). The detail is the
// refusal's own sentence.
func typedProblem(err error) (problem, bool) {
	var (
		t      api.ProblemType
		status int
		title  string
		marker error
		base   error
	)
	switch {
	case errors.Is(err, agreement.ErrSuperseded):
		t, status, title, marker, base = api.ProblemAgreementSuperseded, http.StatusConflict, "This version was replaced", agreement.ErrSuperseded, fault.ErrConflict
	case errors.Is(err, agreement.ErrFiled):
		t, status, title, marker, base = api.ProblemAgreementFiled, http.StatusConflict, "The agreement was filed", agreement.ErrFiled, fault.ErrConflict
	case errors.Is(err, vault.ErrDocumentLimit):
		t, status, title, marker, base = api.ProblemDocumentLimit, http.StatusConflict, "This case holds as many documents as it can", vault.ErrDocumentLimit, fault.ErrConflict
	case errors.Is(err, vault.ErrVersionLimit):
		t, status, title, marker, base = api.ProblemVersionLimit, http.StatusConflict, "This document holds as many versions as it can", vault.ErrVersionLimit, fault.ErrConflict
	case errors.Is(err, cases.ErrNotConfirmed), errors.Is(err, cases.ErrNotOpenYet), errors.Is(err, cases.ErrUnconfirmed), errors.Is(err, cases.ErrNotOpener), errors.Is(err, keydir.ErrNotSeated):
		t, status, title, base = api.ProblemMediatorNotConfirmed, http.StatusForbidden, "Not yet", fault.ErrForbidden
	case errors.Is(err, cases.ErrAlreadyJoined):
		t, status, title, base = api.ProblemAlreadyJoined, http.StatusGone, "Already joined", fault.ErrGone
	default:
		return problem{}, false
	}
	detail := err.Error()
	if marker != nil {
		detail, _, _ = strings.Cut(detail, ": "+marker.Error()+": ")
	}
	detail = strings.TrimSuffix(detail, ": "+base.Error())
	return problem{Type: t, Title: title, Status: status, Detail: detail}, true
}
