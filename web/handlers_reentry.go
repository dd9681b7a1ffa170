package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
)

// createReentry issues a re-entry link for a participant's existing
// account, mailed to them when their account has an address, mail is
// configured, and no other seat of the case has that address
// (cases.SharedWith): whoever else reads that mailbox could open the link
// first and be signed in as them. Then the mediator is told to give it
// another way.
func (a *API) createReentry(w http.ResponseWriter, r *http.Request) {
	var req api.ReentryRequest
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
	caseID := chi.URLParam(r, "caseID")
	re, err := a.cases.CreateReentry(r.Context(), actor, caseID, chi.URLParam(r, "accountID"), ttl)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := api.ReentryResponse{Link: a.InviteLink(re.Token), Token: re.Token, Expires: re.Expires, Name: re.Name}
	switch {
	case re.Email != "" && re.SharedAddress:
		out.MailWarning = SharedAddressReentryWarning
	case re.Email != "" && a.schedule != nil:
		out.Mailed, err = a.schedule.MailReentry(r.Context(), caseID, re.AccountID, re.Email, out.Link, re.Expires)
		if err != nil {
			a.log.WarnContext(r.Context(), "re-entry mail", "error", err.Error())
			out.MailWarning = "The link is made, but its mail could not be queued. Give the link by hand."
		}
	}
	writeJSON(w, http.StatusCreated, out)
}

// SharedAddressReentryWarning tells the mediator why a link back in was
// not mailed: its address is also someone else's in the case.
const SharedAddressReentryWarning = "Not emailed: this address is also on file for someone else in this case. Give the link to them another way, in person or by phone."

// removeParticipant takes a participant out of the case; their sessions
// end and their open sockets close on every node.
func (a *API) removeParticipant(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "accountID")
	c, err := a.cases.RemoveParticipant(r.Context(), actor, chi.URLParam(r, "caseID"), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if a.messaging != nil {
		if err := a.messaging.Announce(r.Context(), account.AccountTopic(id), []byte("revoked")); err != nil {
			a.log.WarnContext(r.Context(), "announcing a removal", slog.String("error", err.Error()))
		}
	}
	writeJSON(w, http.StatusOK, c.ForViewer(actor.ID).View())
}

// inviteConflict answers an invite for someone already in the case: a 409
// naming that participant, so the mediator can send a re-entry link.
func (a *API) inviteConflict(w http.ResponseWriter, r *http.Request, err error) bool {
	var dup *cases.AlreadyParticipantError
	if !errors.As(err, &dup) {
		return false
	}
	writeProblem(w, r, problem{Type: api.ProblemConflict, Title: "Already in this case", Status: http.StatusConflict,
		Detail: dup.Error(), Errors: []api.FieldError{{Field: api.ProblemFieldParticipant, Detail: dup.AccountID}}})
	return true
}

// currentAccount is the signed-in account of a request on a route that
// does not require one (nil when there is none or it is not valid).
func (a *API) currentAccount(r *http.Request) *account.Account {
	token, src := a.sessionToken(r)
	if src == fromNone {
		return nil
	}
	acct, _, err := a.accounts.Authenticate(r.Context(), token)
	if err != nil {
		return nil
	}
	return &acct
}

// ttlFromSeconds reads a link's lifetime in seconds (0: the default),
// range-checked before it is multiplied: a huge count would wrap around
// to a short, valid-looking duration. The service checks the rest.
func ttlFromSeconds(s int64) (time.Duration, error) {
	if maxS := int64(cases.MaxInviteTTL / time.Second); s > maxS {
		return 0, fault.Invalid("ttlSeconds", fmt.Sprintf("at most %d (30 days)", maxS))
	}
	return time.Duration(s) * time.Second, nil
}
