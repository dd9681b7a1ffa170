package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
)

// Retention over HTTP: the schedule, legal holds, disposition plans and
// certificates of destruction. Every decision is package retention's (and
// so policy's); these handlers only translate. Applying a plan is one
// step per request (a page of records, then the case keys, then the
// certificate), so no request runs long, a client shows progress between
// steps, and an interrupted apply is resumed by asking again.

func (a *API) retentionRoutes(r chi.Router) {
	r.Get("/retention/schedule", a.getSchedule)
	r.Get("/retention/schedule/history", a.scheduleHistory)
	r.Put("/retention/schedule/rules/{class}", a.setScheduleRule)
	a.scheduleApprovalRoutes(r)
	r.Get("/retention/plans", a.listPlans)
	r.Get("/retention/due", a.retentionDue)
	r.Post("/retention/plans", a.makePlan)
	r.Get("/retention/plans/{planID}", a.getPlan)
	r.Get("/retention/plans/{planID}/records", a.planRecords)
	r.Post("/retention/plans/{planID}/approve", a.approvePlan)
	r.Post("/retention/plans/{planID}/discard", a.discardPlan)
	r.Post("/retention/plans/{planID}/apply", a.applyPlan)
	r.Get("/retention/plans/{planID}/certificate", a.getCertificate)
	a.disposalRoutes(r) // handlers_disposal.go
	r.Get("/holds", a.listHolds)
}

// caseHoldRoutes are under /cases/{caseID}.
func (a *API) caseHoldRoutes(r chi.Router) {
	r.Get("/holds", a.listHolds)
	r.Post("/holds", a.placeHold)
	r.Post("/holds/{holdID}/release", a.releaseHold)
}

func (a *API) retentionReady(w http.ResponseWriter, r *http.Request) bool {
	if a.retention == nil {
		writeProblem(w, r, problem{Type: api.ProblemUnavailable, Title: "Retention is not configured on this node", Status: http.StatusServiceUnavailable})
		return false
	}
	return true
}

// writeRetentionError adds "held" and "choices-changed" (409) to
// writeError's table.
func (a *API) writeRetentionError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, retention.ErrChoicesChanged) {
		writeProblem(w, r, problem{Type: api.ProblemChoicesChanged, Title: "The choices changed", Status: http.StatusConflict,
			Detail: "The choices for this plan's records changed after you looked at them. Look at them again, then approve what you see."})
		return
	}
	if errors.Is(err, objstore.ErrHeld) {
		writeProblem(w, r, problem{Type: api.ProblemHeld, Title: "Under legal hold", Status: http.StatusConflict, Detail: err.Error()})
		return
	}
	a.writeError(w, r, err)
}

// retentionCall runs one retention call and answers with its result's view.
func retentionCall[T any, B api.Body](a *API, w http.ResponseWriter, r *http.Request, status int, f func() (T, error), view func(T) B) {
	if !a.retentionReady(w, r) {
		return
	}
	v, err := f()
	if err != nil {
		a.writeRetentionError(w, r, err)
		return
	}
	writeJSON(w, status, view(v))
}

func (a *API) getSchedule(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() (retention.StoredSchedule, error) { return a.retention.Schedule(r.Context(), actor) }, storedScheduleView)
}

func (a *API) scheduleHistory(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() ([]retention.StoredSchedule, error) {
		return a.retention.ScheduleHistory(r.Context(), actor)
	}, func(l []retention.StoredSchedule) api.List[api.StoredSchedule] { return listOf(l, storedScheduleView) })
}

func (a *API) setScheduleRule(w http.ResponseWriter, r *http.Request) {
	var req api.RuleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	days, err := policy.ParsePeriod(req.Period)
	if err != nil {
		a.writeError(w, r, fault.Invalid("period", err.Error()))
		return
	}
	actor, _ := actorFrom(r.Context())
	rule := policy.RetentionRule{Class: chi.URLParam(r, "class"), Trigger: req.Trigger, Days: days}
	retentionCall(a, w, r, http.StatusOK, func() (retention.RuleResult, error) { return a.retention.SetRule(r.Context(), actor, rule) }, ruleResultView)
}

func (a *API) listPlans(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() ([]retention.Plan, error) { return a.retention.Plans(r.Context(), actor) }, func(l []retention.Plan) api.List[api.Plan] { return listOf(l, planView) })
}

// ParseAsOf reads a plan's as-of date: RFC 3339, or a day (its end, UTC).
func ParseAsOf(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fault.Invalid("asOf", "a date (YYYY-MM-DD) or an RFC 3339 time")
	}
	return d.Add(24*time.Hour - time.Second), nil
}

func (a *API) makePlan(w http.ResponseWriter, r *http.Request) {
	var req api.PlanRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	asOf, err := ParseAsOf(req.AsOf)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if !asOf.IsZero() && asOf.After(time.Now()) {
		// Today's date means now; a later one is refused, not quietly
		// made as of today: records are planned for disposal only once due.
		if len(strings.TrimSpace(req.AsOf)) != len(time.DateOnly) || asOf.Add(-24*time.Hour).After(time.Now()) {
			a.writeError(w, r, fault.Invalid("asOf", FuturePlanWords(asOf)))
			return
		}
		asOf = time.Time{}
	}
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusCreated, func() (retention.Plan, error) { return a.retention.MakePlan(r.Context(), actor, asOf) }, planView)
}

func (a *API) retentionDue(w http.ResponseWriter, r *http.Request) {
	days := 30
	if q := r.URL.Query().Get("days"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > retention.MaxDueDays {
			a.writeError(w, r, fault.Invalid("days", "a number of days from 1 to 366"))
			return
		}
		days = n
	}
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() (retention.DueReport, error) { return a.retention.Due(r.Context(), actor, days) },
		func(d retention.DueReport) api.DueReport {
			out := api.DueReport{Now: d.Now, Until: d.Until, Items: []api.Item{}}
			for _, it := range d.Items {
				out.Items = append(out.Items, itemView(it))
			}
			return out
		})
}

// FuturePlanWords says why a plan dated in the future is refused.
func FuturePlanWords(asOf time.Time) string {
	return asOf.UTC().Format(time.DateOnly) + " is in the future: a plan lists records already due, so make it on that day or later (no plan was made)"
}

func (a *API) discardPlan(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() (retention.Plan, error) {
		return a.retention.Discard(r.Context(), actor, chi.URLParam(r, "planID"))
	}, planView)
}

func (a *API) getPlan(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() (retention.Plan, error) {
		return a.retention.GetPlan(r.Context(), actor, chi.URLParam(r, "planID"))
	}, planView)
}

func (a *API) planRecords(w http.ResponseWriter, r *http.Request) {
	page := 0
	if q := r.URL.Query().Get("page"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 || n > retention.MaxPlanRecords {
			a.writeError(w, r, fault.Invalid("page", "a page number from 0"))
			return
		}
		page = n
	}
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() ([]retention.Item, error) {
		return a.retention.PlanPage(r.Context(), actor, chi.URLParam(r, "planID"), page)
	}, func(l []retention.Item) api.List[api.Item] { return listOf(l, itemView) })
}

// approvePlan approves a plan as its actions were shown to the approver
// (api.ApprovePlanRequest): a body without actionsDigest, or none (as
// clients before it sent), is refused by package retention with a field
// error after policy, so an account that may not approve is told that
// first.
func (a *API) approvePlan(w http.ResponseWriter, r *http.Request) {
	var req api.ApprovePlanRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() (retention.Plan, error) {
		return a.retention.Approve(r.Context(), actor, chi.URLParam(r, "planID"), req.ActionsDigest)
	}, planView)
}

func (a *API) applyPlan(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() (retention.Progress, error) {
		return a.retention.Apply(r.Context(), actor, chi.URLParam(r, "planID"))
	}, progressView)
}

func (a *API) getCertificate(w http.ResponseWriter, r *http.Request) {
	if !a.retentionReady(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	signed, err := a.retention.SignedCertificate(r.Context(), actor, chi.URLParam(r, "planID"))
	if err != nil {
		a.writeRetentionError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// It names the cases and documents destroyed: never kept by a
	// browser or a proxy.
	w.Header().Set("Cache-Control", "no-store")
	w.Write(signed)
}

func (a *API) listHolds(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	all := r.URL.Query().Get("all") == "true"
	retentionCall(a, w, r, http.StatusOK, func() ([]retention.Hold, error) {
		return a.retention.Holds(r.Context(), actor, chi.URLParam(r, "caseID"), all)
	}, func(l []retention.Hold) api.List[api.Hold] { return l })
}

func (a *API) placeHold(w http.ResponseWriter, r *http.Request) {
	var req api.NewHold
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	req.Case = chi.URLParam(r, "caseID")
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusCreated, func() (api.Hold, error) { return a.retention.PlaceHold(r.Context(), actor, req) }, func(h api.Hold) api.Hold { return h })
}

func (a *API) releaseHold(w http.ResponseWriter, r *http.Request) {
	var req api.ReleaseRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() (api.Hold, error) {
		return a.retention.ReleaseHold(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "holdID"), req.Reason)
	}, func(h api.Hold) api.Hold { return h })
}
