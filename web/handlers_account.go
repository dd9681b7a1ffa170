package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	if a.refuseForeignSignIn(w, r) {
		return
	}
	var req api.LoginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Email == "" {
		a.writeError(w, r, fault.Invalid("email", "required"))
		return
	}
	acct, token, sess, err := a.accounts.Login(r.Context(), req.Email, req.Password, a.clientAddr(r))
	if err != nil {
		if errors.Is(err, account.ErrDisabled) {
			a.auditEvent(r, audit.Event{Type: "account.login.refused", Actor: acct.ID, Attrs: map[string]string{"reason": "disabled"}})
		}
		if errors.Is(err, account.ErrCreatorsPassword) {
			a.auditEvent(r, audit.Event{Type: "account.login.refused", Actor: acct.ID, Attrs: map[string]string{"reason": "creators-password"}})
		}
		a.writeError(w, r, err)
		return
	}
	a.auditEvent(r, audit.Event{Type: "account.login", Actor: acct.ID})
	a.endOldSession(r)
	a.setSessionCookie(w, token, sess.Cap)
	writeJSON(w, http.StatusOK, api.SessionResponse{Token: a.answerToken(r, token), Expires: sess.Expires, Account: acct.View()})
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	token, _ := a.sessionToken(r)
	actor, _ := actorFrom(r.Context())
	// A sign-out the store could not take keeps the cookie: the session
	// lives on (and so do this browser's other tabs with it), so the page
	// says it is not signed out yet, and its next try, with the cookie,
	// can end it. Clearing the cookie here would make that try a 401 that
	// reads as "signed out" while the session lives.
	if err := a.accounts.Logout(r.Context(), token); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.auditEvent(r, audit.Event{Type: "account.logout", Actor: actor.ID})
	a.endOldSession(r)
	// Every node closes this session's open WebSockets (close 4001). If
	// the announcement is lost (Redis down), each socket still re-checks
	// its session at every ping interval.
	if a.messaging != nil {
		if err := a.messaging.Announce(r.Context(), a.accounts.SessionTopic(token), []byte("ended")); err != nil {
			a.log.WarnContext(r.Context(), "announcing a sign-out", slog.String("error", err.Error()))
		}
	}
	a.clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	writeJSON(w, http.StatusOK, actor.View())
}

// authorize asks policy about a server-wide action and audits a refusal.
func (a *API) authorize(r *http.Request, action policy.Action) error {
	actor, _ := actorFrom(r.Context())
	if a.policy.Decide(actor.Principal(), action, nil).Allowed {
		return nil
	}
	a.auditEvent(r, audit.Event{Type: "access.denied", Actor: actor.ID, Attrs: map[string]string{"action": string(action)}})
	return fmt.Errorf("%s: %w", action, fault.ErrForbidden)
}

// auditEvent appends an event that records something that already happened
// (a sign-in, a refusal); a failure is logged, not returned, because the
// act it records cannot be undone.
func (a *API) auditEvent(r *http.Request, ev audit.Event) {
	ev.Time = time.Now().UTC()
	if _, err := a.audit.Append(r.Context(), ev); err != nil {
		a.log.ErrorContext(r.Context(), "audit append failed", "request_id", requestID(r.Context()), "event", ev.Type, "error", err.Error())
	}
}

func (a *API) createAccount(w http.ResponseWriter, r *http.Request) {
	var req api.CreateAccountRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.authorize(r, policy.AccountCreate); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Role == api.RoleParticipant {
		a.writeError(w, r, fault.Invalid("role", "participants join cases by invite"))
		return
	}
	actor, _ := actorFrom(r.Context())
	// Audited before it is stored (accountAudit): an account the log
	// cannot hold is not made, and its email stays free for the retry. A
	// mediator's or records clerk's account is made with no password and
	// its creator's reset request waiting (account.FirstPasswordApproved):
	// that request is audited as a reset request is, after the creation.
	var created, requested audit.Event
	auditCreated := a.accountAudit(r, "account.created", roleAttrs, &created)
	auditRequested := a.accountAudit(r, "account.password.reset.requested", func(acct account.Account) map[string]string {
		return map[string]string{"role": string(acct.Role), "requestedBy": acct.PendingReset.RequestedBy, "reason": "new-account"}
	}, &requested)
	acct, err := a.accounts.Create(r.Context(), account.NewAccount{Email: req.Email, Name: req.Name, Role: policy.Role(req.Role),
		Password: req.Password, Creator: &actor, Audit: func(ctx context.Context, acct account.Account) error {
			if err := auditCreated(ctx, acct); err != nil {
				return err
			}
			if acct.PendingReset == nil {
				return nil
			}
			return auditRequested(ctx, acct)
		}})
	if err != nil {
		a.accountChangeFailed(r, created, err)
		a.accountChangeFailed(r, requested, err)
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, acct.View())
}

// revokeSessions ends every open session of an account (a lost laptop, a
// stolen token) and closes its WebSockets on every node.
func (a *API) revokeSessions(w http.ResponseWriter, r *http.Request) {
	if err := a.authorize(r, policy.AccountRevoke); err != nil {
		a.writeError(w, r, err)
		return
	}
	id := chi.URLParam(r, "accountID")
	// Audited before the sessions end (accountAudit): while the log takes
	// no writes nothing is ended and the answer is 503, try again.
	var ev audit.Event
	if _, err := a.accounts.RevokeSessionsAudited(r.Context(), id, a.accountAudit(r, "account.sessions.revoked", nil, &ev)); err != nil {
		a.accountChangeFailed(r, ev, err)
		a.writeError(w, r, err)
		return
	}
	if a.messaging != nil {
		if err := a.messaging.Announce(r.Context(), account.AccountTopic(id), []byte("revoked")); err != nil {
			a.log.WarnContext(r.Context(), "announcing a session revocation", slog.String("error", err.Error()))
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// listAccounts answers an administrator's account list: policy decides it
// as a whole and then account by account, and leaves participants out
// (base.cedar, "account-list-holds-no-participants"): their names and
// emails are their mediator's business, not the administrator's.
func (a *API) listAccounts(w http.ResponseWriter, r *http.Request) {
	if err := a.authorize(r, policy.AccountList); err != nil {
		a.writeError(w, r, err)
		return
	}
	all, err := a.accounts.List(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	u := actor.Principal()
	list := []api.Account{}
	for _, acct := range all {
		if a.policy.DecideAccount(u, policy.AccountList, policy.AccountEntry{ID: acct.ID, Role: acct.Role}).Allowed {
			list = append(list, acct)
		}
	}
	writeJSON(w, http.StatusOK, api.List[api.Account](list))
}
