package web

import (
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/retention"
)

// Actions besides destroy (package retention, actions.go and
// transfer.go): records staff choose, per record of a plan awaiting
// approval, to review it, keep it permanently or transfer its case, and
// download a transfer bundle once the plan is carried out.
func (a *API) disposalRoutes(r chi.Router) {
	r.Get("/retention/plans/{planID}/actions", a.planActions)
	r.Post("/retention/plans/{planID}/actions", a.chooseAction)
	r.Get("/retention/plans/{planID}/transfers/{caseID}", a.transferBundle)
}

func (a *API) planActions(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() (api.PlanActions, error) {
		p, err := a.retention.GetPlan(r.Context(), actor, chi.URLParam(r, "planID"))
		if err != nil {
			return api.PlanActions{}, err
		}
		tr, err := a.retention.Transfers(r.Context(), actor, p.ID)
		return planActionsView(p, tr), err
	}, func(v api.PlanActions) api.PlanActions { return v })
}

func planActionsView(p retention.Plan, tr []api.Transfer) api.PlanActions {
	out := api.PlanActions{Plan: p.ID, State: p.State, Actions: map[string]api.DisposalAction{}, Transfers: tr, ActionsDigest: p.ActionsDigest()}
	for k, v := range p.Actions {
		out.Actions[k] = v
	}
	if out.Transfers == nil {
		out.Transfers = []api.Transfer{}
	}
	return out
}

func (a *API) chooseAction(w http.ResponseWriter, r *http.Request) {
	var req api.ChooseAction
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	retentionCall(a, w, r, http.StatusOK, func() (api.PlanActions, error) {
		p, err := a.retention.Choose(r.Context(), actor, chi.URLParam(r, "planID"), req)
		return planActionsView(p, nil), err
	}, func(v api.PlanActions) api.PlanActions { return v })
}

func (a *API) transferBundle(w http.ResponseWriter, r *http.Request) {
	if !a.retentionReady(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	rc, tr, err := a.retention.TransferBundle(r.Context(), actor, chi.URLParam(r, "planID"), caseID)
	if err != nil {
		a.writeRetentionError(w, r, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(tr.Size, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="transfer-`+caseID+`.age"`)
	w.Header().Set("X-Content-SHA256", tr.SHA256)
	// A whole case's records: never kept by a browser or a proxy.
	w.Header().Set("Cache-Control", "no-store")
	io.Copy(w, rc)
}
