package web

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/policy"
)

func (a *API) listCases(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	list, err := a.cases.List(r.Context(), actor)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []cases.Listed{}
	}
	writeJSON(w, http.StatusOK, api.List[api.Listed](list))
}

func (a *API) createCase(w http.ResponseWriter, r *http.Request) {
	var req api.CreateCaseRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	c, err := a.cases.Create(r.Context(), actor, cases.NewCase{Title: req.Title, Type: req.Type,
		ReferralSource: req.ReferralSource, SideLabels: req.Sides, Reference: req.Reference})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/cases/"+c.ID)
	writeJSON(w, http.StatusCreated, c.View())
}

func (a *API) getCase(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	c, err := a.cases.Get(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err == nil {
		// A co-mediator no seated mediator has confirmed reads the roster
		// view (sides, people, stage): how they see they are waiting.
		c, err = a.cases.ViewFor(r.Context(), actor, c)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c.View())
}

func (a *API) caseSummary(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	s, err := a.cases.Summary(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

// caseChange decodes a request body into req and runs change, answering
// with the updated case. It keeps the many small case routes uniform.
func caseChange[T any](a *API, change func(r *http.Request, req *T) (*cases.Case, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req T
		if err := decodeJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		c, err := change(r, &req)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a.caseView(r, c).View())
	}
}

// caseView is what the actor may see of a case they just changed: all of
// it if they may still read it, else the case with every content field
// empty (id, type, stage and dates only; same shape, so every client
// decodes it). A mediator who recuses themselves has lost the case with
// that very change. (Administrators change a case's mediators only by
// proposal: handlers_proposals.go.)
func (a *API) caseView(r *http.Request, c *cases.Case) *cases.Case {
	actor, _ := actorFrom(r.Context())
	if a.policy.Decide(actor.Principal(), policy.CaseRead, c.Facts()).Allowed {
		// A co-mediator no seated mediator has confirmed changes nothing
		// of the case but their own recusal (after which they read
		// nothing); should a change of theirs answer, it is the roster
		// view, as their GET is; if the key directory cannot say, the
		// short shape.
		if v, err := a.cases.ViewFor(r.Context(), actor, c); err == nil {
			return v
		}
	}
	return &cases.Case{ID: c.ID, Type: c.Type, Stage: c.Stage, Created: c.Created, Closed: c.Closed}
}

func (a *API) setStage(w http.ResponseWriter, r *http.Request) {
	caseChange(a, func(r *http.Request, req *api.StageRequest) (*cases.Case, error) {
		actor, _ := actorFrom(r.Context())
		return a.cases.SetStage(r.Context(), actor, chi.URLParam(r, "caseID"), req.Stage, req.Note)
	})(w, r)
}

func (a *API) addObjective(w http.ResponseWriter, r *http.Request) {
	caseChange(a, func(r *http.Request, req *api.TextRequest) (*cases.Case, error) {
		actor, _ := actorFrom(r.Context())
		if req.Kind == "" {
			req.Kind = cases.KindObjective
		}
		return a.cases.AddObjective(r.Context(), actor, chi.URLParam(r, "caseID"), req.Kind, req.Text)
	})(w, r)
}

func (a *API) disclose(w http.ResponseWriter, r *http.Request) {
	caseChange(a, func(r *http.Request, req *api.TextRequest) (*cases.Case, error) {
		actor, _ := actorFrom(r.Context())
		return a.cases.Disclose(r.Context(), actor, chi.URLParam(r, "caseID"), req.Text)
	})(w, r)
}

func (a *API) recuse(w http.ResponseWriter, r *http.Request) {
	caseChange(a, func(r *http.Request, req *api.RecuseRequest) (*cases.Case, error) {
		actor, _ := actorFrom(r.Context())
		return a.cases.Recuse(r.Context(), actor, chi.URLParam(r, "caseID"), req.MediatorID, req.Reason)
	})(w, r)
}

func (a *API) addMediator(w http.ResponseWriter, r *http.Request) {
	caseChange(a, func(r *http.Request, req *api.AddMediatorRequest) (*cases.Case, error) {
		actor, _ := actorFrom(r.Context())
		return a.cases.AddMediator(r.Context(), actor, chi.URLParam(r, "caseID"), req.AccountID)
	})(w, r)
}

// SharedAddressInviteWarning tells the mediator why an invitation was not
// mailed: its address is already on file for someone else in the case
// (any side), or for another invitation to it.
const SharedAddressInviteWarning = "Not emailed: this address is also on file for someone else in this case (or for another invitation), who could use the link and join in this person's place. Give the link to this person another way, in person or by phone."

// createInvite makes an invitation, mailed to the address given unless
// that address is already on file for another seat of the case
// (cases.IssuedInvite.SharedAddress). The answer carries the link only
// when it was not mailed (no address, a shared one, the development
// outbox, a mail that could not be queued): the mediator then hands it
// over.
func (a *API) createInvite(w http.ResponseWriter, r *http.Request) {
	var req api.InviteRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	ttl, err := ttlFromSeconds(req.TTLSeconds)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	inv, err := a.cases.CreateInvite(r.Context(), actor, chi.URLParam(r, "caseID"), cases.NewInvite{
		Role: req.Role, Side: req.Side, Name: req.Name, Email: req.Email, TTL: ttl})
	if err != nil {
		if a.inviteConflict(w, r, err) {
			return
		}
		a.writeError(w, r, err)
		return
	}
	link := a.InviteLink(inv.Token)
	out := api.InviteResponse{ID: inv.ID, Link: link, Token: inv.Token, Expires: inv.Expires, Role: inv.Role, Side: inv.Side}
	switch email := strings.TrimSpace(req.Email); {
	case email != "" && inv.SharedAddress:
		out.MailWarning = SharedAddressInviteWarning
	case email != "":
		out.Mailed, err = a.schedule.MailInvite(r.Context(), chi.URLParam(r, "caseID"), inv.Seat, email, link, inv.Expires)
		if err != nil {
			a.log.WarnContext(r.Context(), "invite mail", "error", err.Error())
			out.MailWarning = "The invitation is made, but its mail could not be queued. Give the link by hand."
		}
	}
	if out.Mailed {
		// Mailed to the address given: the mail holds the link, and
		// nobody else does. Shown to the mediator too, it would let them
		// join in the person's place before the person opened the mail,
		// and set up the account's first device, the root of what counts
		// as the person's own consent (docs/security.md, "A mediator
		// impersonating a party").
		out.Link, out.Token = "", ""
	}
	writeJSON(w, http.StatusCreated, out)
}

// pendingInvites lists the case's unused, unexpired invitations (names,
// roles, sides, dates; never a link) to those who may invite: the desk's
// "invited, not joined yet".
func (a *API) pendingInvites(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	list, err := a.cases.PendingInvites(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make(api.List[api.PendingInvite], len(list))
	for i, p := range list {
		out[i] = api.PendingInvite{ID: p.ID, Name: p.Name, Role: p.Role, Side: p.Side, Created: p.Created, Expires: p.Expires, Emailed: p.Emailed, EmailHint: p.EmailHint}
	}
	writeJSON(w, http.StatusOK, out)
}

// withdrawInvite withdraws an unused invitation (a mediator who may
// invite to the case): its link is refused from now on as an expired one
// is, and its mail, if still waiting in the outbox, is cancelled. A used
// one is a conflict: its person is removed instead.
func (a *API) withdrawInvite(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	wd, err := a.cases.WithdrawInvite(r.Context(), actor, caseID, chi.URLParam(r, "inviteID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := api.InviteWithdrawn{Already: wd.Already}
	if a.schedule != nil {
		if err := a.schedule.CancelInviteMail(r.Context(), caseID, wd.Seat); err != nil {
			a.log.WarnContext(r.Context(), "withdrawn invitation: its mail was not cancelled", "case", caseID, "error", err.Error())
			out.MailWarning = "The invitation is withdrawn, but its mail could not be stopped. If it arrives, its link will not work."
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) redeemInvite(w http.ResponseWriter, r *http.Request) {
	if a.refuseForeignSignIn(w, r) {
		return
	}
	var req api.RedeemRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	// Someone still signed in who opens their own, used link goes to its
	// case; their session stays as it is (and its token is not echoed).
	j, err := a.cases.JoinAs(r.Context(), req.Token, a.currentAccount(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if j.Already {
		writeJSON(w, http.StatusOK, api.SessionResponse{Account: j.Account.View(), CaseID: j.CaseID})
		return
	}
	a.endOldSession(r)
	a.setSessionCookie(w, j.Token, j.Session.Cap)
	writeJSON(w, http.StatusOK, api.SessionResponse{Token: a.answerToken(r, j.Token), Expires: j.Session.Expires, Account: j.Account.View(), CaseID: j.CaseID})
}
