package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/retention"
)

// Schedule changes that shorten a period wait for a second person
// (retention/schedule_approval.go): they are listed, and approved, here.

func (a *API) scheduleApprovalRoutes(r chi.Router) {
	r.Get("/retention/schedule/changes", a.scheduleChanges)
	r.Post("/retention/schedule/changes/{changeID}/approve", a.approveScheduleChange)
}

func ruleResultView(res retention.RuleResult) api.RuleResult {
	return api.RuleResult{StoredSchedule: storedScheduleView(res.StoredSchedule), Pending: res.Pending, Warnings: res.Warnings}
}

func (a *API) scheduleChanges(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() ([]retention.ScheduleChange, error) {
		return a.retention.ScheduleChanges(r.Context(), actor)
	}, func(l []retention.ScheduleChange) api.List[api.ScheduleChange] {
		return api.List[api.ScheduleChange](l)
	})
}

func (a *API) approveScheduleChange(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() (retention.ScheduleChange, error) {
		c, _, err := a.retention.ApproveScheduleChange(r.Context(), actor, chi.URLParam(r, "changeID"))
		return c, err
	}, func(c retention.ScheduleChange) api.ScheduleChange { return c })
}
