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
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// Staff account management: an administrator disables, enables and resets
// the password of staff accounts; everyone with a password changes their
// own (docs/security.md, "Staff accounts").

func (a *API) staffRoutes(r chi.Router) {
	r.Post("/accounts/{accountID}/disable", a.disableAccount)
	r.Post("/accounts/{accountID}/enable", a.enableAccount)
	r.Post("/accounts/{accountID}/reset-password", a.resetPassword)
	r.Post("/me/password", a.changePassword)
}

// staffProblem gives the account errors their own problem types, so a
// client can tell a disabled account from a wrong password or an expired
// session and say so in plain words.
func staffProblem(err error) (api.Problem, bool) {
	switch {
	case errors.Is(err, account.ErrDisabled):
		status := http.StatusForbidden
		if errors.Is(err, fault.ErrUnauthenticated) {
			status = http.StatusUnauthorized
		}
		return api.Problem{Type: "account-disabled", Title: "This account is disabled", Status: status,
			Detail: "This account is disabled. Ask the program administrator to enable it."}, true
	case errors.Is(err, account.ErrPasswordChangeRequired):
		return api.Problem{Type: "password-change-required", Title: "Choose a new password first", Status: http.StatusForbidden,
			Detail: "An administrator reset your password. Choose a new one before anything else."}, true
	case errors.Is(err, account.ErrLastAdmin):
		return api.Problem{Type: "last-admin", Title: "The last administrator cannot be disabled", Status: http.StatusConflict,
			Detail: "This is the last enabled administrator account. Enable or create another administrator first."}, true
	}
	return api.Problem{}, false
}

// passwordChangeGate: while an account must choose a new password, the
// only requests it may make are reading itself, changing the password and
// signing out.
func passwordChangeGate(r *http.Request, acct account.Account) error {
	if !acct.PasswordChangeRequired {
		return nil
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/me",
		r.Method == http.MethodPost && r.URL.Path == "/api/v1/me/password",
		r.Method == http.MethodDelete && r.URL.Path == "/api/v1/session":
		return nil
	}
	return fmt.Errorf("%w: %w", account.ErrPasswordChangeRequired, fault.ErrForbidden)
}

// announceAccountEnded tells every node to re-check the account's open
// WebSockets now (they close with 4001); without the broker they close at
// their next periodic check.
func (a *API) announceAccountEnded(r *http.Request, id, why string) {
	if a.messaging == nil {
		return
	}
	if err := a.messaging.Announce(r.Context(), account.AccountTopic(id), []byte(why)); err != nil {
		a.log.WarnContext(r.Context(), "announcing an account's sessions ending", slog.String("error", err.Error()))
	}
}

// recordAccountChange appends the audit entry for an account change that
// has happened; the answer waits for it, so a change the log does not hold
// is reported as failed (and can be repeated: each is idempotent).
func (a *API) recordAccountChange(r *http.Request, typ, target string, attrs map[string]string) error {
	actor, _ := actorFrom(r.Context())
	_, err := a.audit.Append(r.Context(), audit.Event{Type: typ, Actor: actor.ID, Objects: []string{target}, Attrs: attrs, Time: time.Now().UTC()})
	return err
}

func (a *API) disableAccount(w http.ResponseWriter, r *http.Request) {
	if err := a.authorize(r, policy.AccountDisable); err != nil {
		a.writeError(w, r, err)
		return
	}
	id := chi.URLParam(r, "accountID")
	acct, err := a.accounts.Disable(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.announceAccountEnded(r, id, "disabled")
	if err := a.recordAccountChange(r, "account.disabled", id, map[string]string{"role": string(acct.Role)}); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, acct.View())
}

func (a *API) enableAccount(w http.ResponseWriter, r *http.Request) {
	if err := a.authorize(r, policy.AccountEnable); err != nil {
		a.writeError(w, r, err)
		return
	}
	id := chi.URLParam(r, "accountID")
	acct, err := a.accounts.Enable(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.recordAccountChange(r, "account.enabled", id, map[string]string{"role": string(acct.Role)}); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, acct.View())
}

func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	if err := a.authorize(r, policy.AccountReset); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "accountID")
	if id == actor.ID {
		a.writeError(w, r, fault.Invalid("account", "change your own password with your current one (Change password), not by a reset"))
		return
	}
	acct, pw, err := a.accounts.ResetPassword(r.Context(), id, actor.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.announceAccountEnded(r, id, "password-reset")
	if err := a.recordAccountChange(r, "account.password.reset", id, nil); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, api.ResetPasswordResponse{Account: acct.View(), TemporaryPassword: pw})
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) {
	var req api.ChangePasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.authorize(r, policy.AccountChangePassword); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	acct, token, sess, err := a.accounts.ChangePassword(r.Context(), actor.ID, req.CurrentPassword, req.NewPassword, a.clientAddr(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// Every other session of the account ended with the change.
	a.announceAccountEnded(r, actor.ID, "password-changed")
	attrs := map[string]string{}
	if actor.PasswordChangeRequired {
		attrs["after"] = "reset"
	}
	if err := a.recordAccountChange(r, "account.password.changed", actor.ID, attrs); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.setSessionCookie(w, token, sess.Expires)
	writeJSON(w, http.StatusOK, api.SessionResponse{Token: token, Expires: sess.Expires, Account: acct.View()})
}
