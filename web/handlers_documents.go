package web

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/vault"
)

// Documents as the browser offers them: which audiences a person may upload
// to (each decided by policy, never a copy of a rule in the client), and
// who, invited but not joined yet, a share would reach.

// notYoursToUpload is why an audience is missing from a person's upload
// form, in the words they read.
const notYoursToUpload = "Only a mediator can add documents here. Add it where you can, and ask your mediator to share it further."

func (a *API) uploadOptions(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	list, err := a.vault.UploadOptions(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeVaultError(w, r, err)
		return
	}
	out := api.UploadOptions{Audiences: make([]api.UploadAudience, 0, len(list)), MaxSize: a.vault.MaxSize()}
	for _, u := range list {
		ua := api.UploadAudience{Audience: u.Audience.String(), Allowed: len(u.Classes) > 0, Classes: make([]string, 0, len(u.Classes))}
		for _, c := range u.Classes {
			ua.Classes = append(ua.Classes, string(c))
		}
		if !ua.Allowed {
			ua.Why = notYoursToUpload
		}
		out.Audiences = append(out.Audiences, ua)
	}
	writeJSON(w, http.StatusOK, out)
}

// invitedGaining lists the case's invited, not yet joined people a share
// of docID to the audience to would let open it once they join. Only those
// who may list the case's invitations (its mediators) learn of them; for
// anyone else the list is empty.
func (a *API) invitedGaining(r *http.Request, docID string, to vault.Audience) ([]api.InvitedPerson, error) {
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	pending, err := a.cases.PendingInvites(r.Context(), actor, caseID)
	if errors.Is(err, fault.ErrForbidden) || errors.Is(err, fault.ErrNotFound) {
		return nil, nil
	}
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	invited := make([]vault.Invitee, 0, len(pending))
	for _, p := range pending {
		invited = append(invited, vault.Invitee{Name: p.Name, Role: p.Role, Side: p.Side})
	}
	gaining, err := a.vault.InviteesGaining(r.Context(), actor, caseID, docID, to, invited)
	if err != nil {
		return nil, err
	}
	out := make([]api.InvitedPerson, 0, len(gaining))
	for _, g := range gaining {
		out = append(out, api.InvitedPerson{Name: g.Name, Role: g.Role, Side: g.Side})
	}
	return out, nil
}
