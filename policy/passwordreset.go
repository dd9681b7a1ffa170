package policy

import (
	cedar "github.com/cedar-policy/cedar-go"
)

// Password-reset actions (web's staff handlers). The rules are in
// passwordreset.cedar; AccountReset is the one-step reset, allowed only
// for administrator accounts.
const (
	// AccountResetRequest: ask for a reset of a mediator's or records
	// clerk's password (its sessions end; no password is made).
	AccountResetRequest Action = "account.reset_password.request"
	// AccountResetApprove: approve another administrator's request, which
	// makes the temporary password (never the requester, nor an account
	// tied to it).
	AccountResetApprove Action = "account.reset_password.approve"
	// AccountResetDecline: decline or withdraw a pending request.
	AccountResetDecline Action = "account.reset_password.decline"
)

// RuleAssignerCannotApproveReset is the @id of the forbid that refuses an
// approval of a reset by one who assigned the account's holder to a case
// (passwordreset.cedar): a refusal by it is worded as such.
const RuleAssignerCannotApproveReset = "assigner-cannot-approve-reset-of-assignee"

// PasswordResetActions lists the password-reset actions, for tables and
// tests.
func PasswordResetActions() []Action {
	return []Action{AccountReset, AccountResetRequest, AccountResetApprove, AccountResetDecline}
}

// PasswordReset is a reset as policy sees it: whose password, their role,
// and who requested it (for a new request or a one-step reset, the
// principal asking).
type PasswordReset struct {
	Target           string
	TargetRole       Role
	Requester        string
	RequesterLineage []string
	// Creator is the target's creator (its CreatedBy), empty for an
	// account the operator made; CreatorLineage is everyone who controls
	// the creator (account.Control). The approver must be independent of
	// both, as of the requester.
	Creator        string
	CreatorLineage []string
	// AssignerControl is everyone who assigned the target to a case
	// (account.Account.AssignedBy) and everyone who controls one of them
	// (account.Control): the approver must be independent of them too.
	AssignerControl []string
}

// DecideReset answers whether u may do a (AccountReset, AccountResetRequest,
// AccountResetApprove, AccountResetDecline) to reset r. The four-eyes rule
// is a forbid in passwordreset.cedar, so it holds whatever the caller does.
func (e *Engine) DecideReset(u User, a Action, r PasswordReset) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, nil)
	uid := cedar.NewEntityUID("PasswordReset", "reset")
	entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{
		"target":           cedar.NewEntityUID("User", cedar.String(r.Target)),
		"targetRole":       cedar.String(r.TargetRole),
		"requester":        cedar.NewEntityUID("User", cedar.String(r.Requester)),
		"requesterControl": userSet(append([]string{r.Requester}, r.RequesterLineage...)),
		"creatorControl":   userSet(creatorControl(r)),
		"assignerControl":  userSet(r.AssignerControl),
	})}
	return e.evaluate(entities, principal, a, uid)
}

func creatorControl(r PasswordReset) []string {
	if r.Creator == "" {
		return r.CreatorLineage
	}
	return append([]string{r.Creator}, r.CreatorLineage...)
}
