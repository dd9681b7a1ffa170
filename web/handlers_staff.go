package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
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
	r.Post("/accounts/{accountID}/reset-password/approve", a.approveReset)
	r.Post("/accounts/{accountID}/reset-password/decline", a.declineReset)
	r.Post("/me/password", a.changePassword)
}

// staffProblem gives the account errors their own problem types, so a
// client can tell a disabled account from a wrong password or an expired
// session and say so in plain words.
func staffProblem(err error) (problem, bool) {
	switch {
	case errors.Is(err, account.ErrDisabled):
		status := http.StatusForbidden
		if errors.Is(err, fault.ErrUnauthenticated) {
			status = http.StatusUnauthorized
		}
		return problem{Type: api.ProblemAccountDisabled, Title: "This account is disabled", Status: status,
			Detail: "This account is disabled. Ask the program administrator to enable it."}, true
	case errors.Is(err, account.ErrCreatorsPassword):
		status := http.StatusForbidden
		if errors.Is(err, fault.ErrUnauthenticated) {
			status = http.StatusUnauthorized
		}
		return problem{Type: api.ProblemPasswordResetNeeded, Title: "Ask an administrator to reset your password", Status: status,
			Detail: "Your password was chosen by the administrator who made your account, so it no longer lets you in. Ask an administrator to reset it: a second administrator approves the reset and gives you a temporary password, and you then choose your own."}, true
	case errors.Is(err, account.ErrPasswordChangeRequired):
		return problem{Type: api.ProblemPasswordChangeRequired, Title: "Choose a new password first", Status: http.StatusForbidden,
			Detail: "An administrator reset your password. Choose a new one before anything else."}, true
	case errors.Is(err, errSecondAdminRequired):
		return problem{Type: api.ProblemSecondAdminRequired, Title: "A second administrator must approve", Status: http.StatusForbidden,
			Detail: "You requested this password reset, so a different administrator must approve it."}, true
	case errors.Is(err, errAssignerCannotApprove):
		return problem{Type: api.ProblemResetApproverAssigned, Title: "An administrator who took no part in the assignment must approve", Status: http.StatusForbidden,
			Detail: assignerCannotApproveWords}, true
	case errors.Is(err, account.ErrResetRequestStale):
		return problem{Type: api.ProblemNoPendingReset, Title: "This request is too old to approve", Status: http.StatusConflict,
			Detail: api.ResetRequestTooOld}, true
	case errors.Is(err, account.ErrNoPendingReset):
		return problem{Type: api.ProblemNoPendingReset, Title: "No reset is waiting", Status: http.StatusConflict,
			Detail: "No password reset of this account is waiting for approval: it was approved, declined or withdrawn meanwhile."}, true
	case errors.Is(err, account.ErrChangedMeanwhile):
		return problem{Type: api.ProblemPasswordNotChanged, Title: "Your password was not changed", Status: http.StatusUnauthorized,
			Detail: "Your password was not changed: while it was being changed, your sessions were ended or your password was reset. Sign in again."}, true
	case errors.Is(err, account.ErrSessionNotOpened):
		return problem{Type: api.ProblemPasswordChangedSignInAgain, Title: "Sign in with your new password", Status: http.StatusUnauthorized,
			Detail: "Your password was changed, but this device could not be signed in with it. Sign in again with your new password."}, true
	case errors.Is(err, account.ErrLastAdmin):
		return problem{Type: api.ProblemLastAdmin, Title: "The last administrator cannot be disabled", Status: http.StatusConflict,
			Detail: "This is the last enabled administrator account. Enable or create another administrator first."}, true
	}
	return problem{}, false
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

// accountAudit is the account.Audit an account change is given: it
// appends typ, by the request's actor about the account, with the attrs
// attrs gives for the account as it stands, *before* the change is
// written (docs/security.md, "What the audit log is guaranteed to hold"),
// and keeps the entry in *ev for accountChangeFailed. A change whose entry
// cannot be appended is not made: the request fails and can be repeated,
// and no password or session is made only to be lost.
func (a *API) accountAudit(r *http.Request, typ string, attrs func(account.Account) map[string]string, ev *audit.Event) account.Audit {
	actor, _ := actorFrom(r.Context())
	return func(ctx context.Context, acct account.Account) error {
		var at map[string]string
		if attrs != nil {
			at = attrs(acct)
		}
		e := audit.Paired(audit.Event{Type: typ, Actor: actor.ID, Objects: []string{acct.ID}, Attrs: at, Time: time.Now().UTC()})
		if _, err := a.audit.Append(ctx, e); err != nil {
			// Nothing was changed: 503, try again (the cause is logged).
			return fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
		}
		*ev = e
		return nil
	}
}

// accountChangeFailed follows ev, appended by accountAudit, once its
// change failed with err (audit.Settle): package account has read the
// account back already, so the change is known absent (".failed") unless
// err says the read failed too (".unknown"). Nothing if ev was never
// appended.
func (a *API) accountChangeFailed(r *http.Request, ev audit.Event, err error) {
	if ev.Type == "" {
		return
	}
	var landed func(context.Context) (bool, error)
	if errors.Is(err, account.ErrOutcomeUnknown) {
		landed = func(context.Context) (bool, error) { return false, err }
	}
	record := func(ctx context.Context, e audit.Event) error {
		e.Time = time.Now().UTC()
		_, err := a.audit.Append(ctx, e)
		return err
	}
	audit.Settle(r.Context(), record, a.log, "web", ev, ev.Type, accountFailureCause(err), landed)
}

// accountFailureCause is the cause an account change's correction names:
// "changed-meanwhile" for a password change refused because a reset or a
// revocation landed during its check (account.ErrChangedMeanwhile), which
// fault.Class would call "error" like any failure; fault.Class otherwise.
func accountFailureCause(err error) string {
	if errors.Is(err, account.ErrChangedMeanwhile) {
		return "changed-meanwhile"
	}
	return fault.Class(err)
}

// roleAttrs is the attrs of most account entries: the account's role.
func roleAttrs(acct account.Account) map[string]string {
	return map[string]string{"role": string(acct.Role)}
}

func (a *API) disableAccount(w http.ResponseWriter, r *http.Request) {
	if err := a.authorize(r, policy.AccountDisable); err != nil {
		a.writeError(w, r, err)
		return
	}
	id := chi.URLParam(r, "accountID")
	var ev audit.Event
	acct, err := a.accounts.Disable(r.Context(), id, a.accountAudit(r, "account.disabled", roleAttrs, &ev))
	if err != nil {
		a.accountChangeFailed(r, ev, err)
		a.writeError(w, r, err)
		return
	}
	a.announceAccountEnded(r, id, "disabled")
	writeJSON(w, http.StatusOK, a.accounts.View(acct))
}

func (a *API) enableAccount(w http.ResponseWriter, r *http.Request) {
	if err := a.authorize(r, policy.AccountEnable); err != nil {
		a.writeError(w, r, err)
		return
	}
	id := chi.URLParam(r, "accountID")
	var ev audit.Event
	acct, err := a.accounts.Enable(r.Context(), id, a.accountAudit(r, "account.enabled", roleAttrs, &ev))
	if err != nil {
		a.accountChangeFailed(r, ev, err)
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.accounts.View(acct))
}

// errSecondAdminRequired: the administrator who requested a reset tried
// to approve it.
var errSecondAdminRequired = errors.New("a second administrator must approve this reset")

// errAssignerCannotApprove: an administrator who assigned the account's
// holder to a case (proposed or approved the assignment), or one tied to
// such an administrator, tried to approve a reset of its password (policy:
// assigner-cannot-approve-reset-of-assignee).
var errAssignerCannotApprove = errors.New("an administrator who took no part in assigning this person to a case must approve this reset")

// assignerCannotApproveWords is errAssignerCannotApprove's detail, for the
// administrator refused: why, and who may approve instead.
const assignerCannotApproveWords = "You cannot approve this password reset: you proposed or approved assigning this person to a case as its mediator, " +
	"or your account is tied to an administrator who did (one of you made or reset the other's account). " +
	"With the temporary password you could sign in as the mediator you chose and read the case. " +
	"Ask another administrator, who took no part in that assignment, to approve it. You can still decline it."

// authorizeReset asks policy about a password reset of target requested
// by requester (the actor, for a new request or a one-step reset).
func (a *API) authorizeReset(r *http.Request, action policy.Action, target account.Account, requester account.Account) error {
	actor, _ := actorFrom(r.Context())
	// Independence is weighed on control (account.Control): everyone who
	// created or reset either account, transitively, as it is now.
	actorCtl, err := a.accounts.Control(r.Context(), actor)
	if err != nil {
		return err
	}
	requesterCtl, err := a.accounts.Control(r.Context(), requester)
	if err != nil {
		return err
	}
	rr := policy.PasswordReset{Target: target.ID, TargetRole: target.Role, Requester: requester.ID, RequesterLineage: requesterCtl.Lineage}
	if target.CreatedBy != "" {
		// The approver must be independent of the account's creator too,
		// whoever requested (policy: creator-cannot-approve-reset-of-its-account).
		rr.Creator = target.CreatedBy
		creatorCtl, err := a.accounts.ControlOf(r.Context(), target.CreatedBy)
		if err != nil && !errors.Is(err, fault.ErrNotFound) {
			return err
		}
		rr.CreatorLineage = creatorCtl.Lineage
	}
	// Nor may anyone who assigned the account to a case approve, nor one
	// tied to them (policy: assigner-cannot-approve-reset-of-assignee).
	for _, id := range target.AssignedBy {
		assignerCtl, err := a.accounts.ControlOf(r.Context(), id)
		if err != nil && !errors.Is(err, fault.ErrNotFound) {
			return err
		}
		rr.AssignerControl = append(rr.AssignerControl, id)
		rr.AssignerControl = append(rr.AssignerControl, assignerCtl.Lineage...)
	}
	d := a.policy.DecideReset(actorCtl.Principal(), action, rr)
	if d.Allowed {
		return nil
	}
	a.auditEvent(r, audit.Event{Type: "access.denied", Actor: actor.ID, Objects: []string{target.ID}, Attrs: map[string]string{"action": string(action)}})
	if action == policy.AccountResetApprove && requester.ID == actor.ID {
		return fmt.Errorf("%w: %w", errSecondAdminRequired, fault.ErrForbidden)
	}
	if action == policy.AccountResetApprove && slices.Contains(d.Policies, policy.RuleAssignerCannotApproveReset) {
		return fmt.Errorf("%w: %w", errAssignerCannotApprove, fault.ErrForbidden)
	}
	return fmt.Errorf("%s: %w", action, fault.ErrForbidden)
}

// resetTarget reads the account a reset is about; participants have none.
func (a *API) resetTarget(r *http.Request) (account.Account, error) {
	actor, _ := actorFrom(r.Context())
	if actor.Role != policy.RoleAdmin {
		// Nobody else may reset anything; do not read the target for them.
		return account.Account{}, a.authorize(r, policy.AccountReset)
	}
	target, err := a.accounts.Get(r.Context(), chi.URLParam(r, "accountID"))
	if err != nil {
		return account.Account{}, err
	}
	if target.Role == policy.RoleParticipant {
		return account.Account{}, fault.Invalid("account", "participants have no staff account: their mediator manages who takes part in a case")
	}
	return target, nil
}

// resetPassword resets an administrator's password in one step; for a
// mediator or records clerk it is a request that a second administrator
// approves (policy/passwordreset.cedar): their sessions end now, and no
// password is made yet.
func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	if id := chi.URLParam(r, "accountID"); id == actor.ID {
		if err := a.authorize(r, policy.AccountChangePassword); err != nil {
			a.writeError(w, r, err)
			return
		}
		a.writeError(w, r, fault.Invalid("account", "change your own password with your current one (Change password), not by a reset"))
		return
	}
	target, err := a.resetTarget(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	rr := policy.PasswordReset{Target: target.ID, TargetRole: target.Role, Requester: actor.ID, RequesterLineage: actor.Lineage}
	if !a.policy.DecideReset(actor.Principal(), policy.AccountReset, rr).Allowed {
		if err := a.authorizeReset(r, policy.AccountResetRequest, target, actor); err != nil {
			a.writeError(w, r, err)
			return
		}
		var ev audit.Event
		// A request already waiting is kept: its requester stays (unless
		// it is too old to approve: this one replaces it, and the entry
		// names the replaced one's requester). Package account decides it
		// once and writes exactly that, or nothing.
		replaced := ""
		entry := a.accountAudit(r, "account.password.reset.requested",
			func(acct account.Account) map[string]string {
				at := map[string]string{"role": string(acct.Role), "requestedBy": acct.PendingReset.RequestedBy}
				if replaced != "" {
					at["replaced"] = replaced
				}
				return at
			}, &ev)
		acct, err := a.accounts.RequestReset(r.Context(), target.ID, actor.ID, func(ctx context.Context, next account.Account, old string) error {
			replaced = old
			return entry(ctx, next)
		})
		if err != nil {
			a.accountChangeFailed(r, ev, err)
			a.writeError(w, r, err)
			return
		}
		a.announceAccountEnded(r, target.ID, "password-reset-requested")
		writeJSON(w, http.StatusAccepted, api.ResetPasswordResponse{Account: a.accounts.View(acct), AwaitingApproval: true})
		return
	}
	var ev audit.Event
	acct, pw, err := a.accounts.ResetPassword(r.Context(), target.ID, actor.ID, a.accountAudit(r, "account.password.reset", roleAttrs, &ev))
	if err != nil {
		a.accountChangeFailed(r, ev, err)
		a.writeError(w, r, err)
		return
	}
	a.announceAccountEnded(r, target.ID, "password-reset")
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, api.ResetPasswordResponse{Account: a.accounts.View(acct), TemporaryPassword: pw})
}

// pendingRequester reads the administrator who requested target's
// waiting reset.
func (a *API) pendingRequester(r *http.Request, target account.Account) (account.Account, error) {
	if target.PendingReset == nil {
		return account.Account{}, fmt.Errorf("%w: %w", account.ErrNoPendingReset, fault.ErrConflict)
	}
	return a.accounts.Get(r.Context(), target.PendingReset.RequestedBy)
}

// approveReset: a second, independent administrator approves a waiting
// reset; only now is the temporary password made, and only the approver
// sees it (and joins the account's lineage).
func (a *API) approveReset(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	target, err := a.resetTarget(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	requester, err := a.pendingRequester(r, target)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.authorizeReset(r, policy.AccountResetApprove, target, requester); err != nil {
		a.writeError(w, r, err)
		return
	}
	var ev audit.Event
	acct, pw, err := a.accounts.ApproveReset(r.Context(), target.ID, requester.ID, actor.ID, a.accountAudit(r, "account.password.reset",
		func(acct account.Account) map[string]string {
			return map[string]string{"role": string(acct.Role), "requestedBy": requester.ID, "approvedBy": actor.ID}
		}, &ev))
	if err != nil {
		a.accountChangeFailed(r, ev, err)
		a.writeError(w, r, err)
		return
	}
	a.announceAccountEnded(r, target.ID, "password-reset")
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, api.ResetPasswordResponse{Account: a.accounts.View(acct), TemporaryPassword: pw})
}

// declineReset: a second administrator declines a waiting reset, or its
// requester withdraws it. The password is unchanged.
func (a *API) declineReset(w http.ResponseWriter, r *http.Request) {
	target, err := a.resetTarget(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	requester, err := a.pendingRequester(r, target)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.authorizeReset(r, policy.AccountResetDecline, target, requester); err != nil {
		a.writeError(w, r, err)
		return
	}
	var ev audit.Event
	acct, err := a.accounts.DeclineReset(r.Context(), target.ID, a.accountAudit(r, "account.password.reset.declined",
		func(acct account.Account) map[string]string {
			return map[string]string{"role": string(acct.Role), "requestedBy": requester.ID}
		}, &ev))
	if err != nil {
		a.accountChangeFailed(r, ev, err)
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.accounts.View(acct))
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
	var ev audit.Event
	acct, token, sess, err := a.accounts.ChangePassword(r.Context(), actor.ID, req.CurrentPassword, req.NewPassword, a.clientAddr(r),
		a.accountAudit(r, "account.password.changed", func(acct account.Account) map[string]string {
			attrs := map[string]string{}
			if acct.PasswordChangeRequired {
				attrs["after"] = "reset"
			}
			return attrs
		}, &ev))
	if errors.Is(err, account.ErrSessionNotOpened) {
		// The change stands, its entry with it: only the caller's new
		// session is missing, and they sign in with the new password.
		a.log.WarnContext(r.Context(), "a password change was made but its new session was not opened", slog.String("account", actor.ID), slog.String("error", err.Error()))
		a.announceAccountEnded(r, actor.ID, "password-changed")
		a.writeError(w, r, err)
		return
	}
	if err != nil {
		a.accountChangeFailed(r, ev, err)
		a.writeError(w, r, err)
		return
	}
	// Every other session of the account ended with the change.
	a.announceAccountEnded(r, actor.ID, "password-changed")
	a.endOldSession(r)
	a.setSessionCookie(w, token, sess.Cap)
	writeJSON(w, http.StatusOK, api.SessionResponse{Token: a.answerToken(r, token), Expires: sess.Expires, Account: a.accounts.View(acct)})
}
