package api

import "time"

// PasswordResetPending is a reset of a mediator's or records clerk's
// password that one administrator requested (POST
// /api/v1/accounts/{accountID}/reset-password) and a second, different
// administrator has yet to approve (POST .../reset-password/approve) or
// decline (POST .../reset-password/decline). The account's sessions ended
// with the request; no password has been made.
type PasswordResetPending struct {
	RequestedBy string    `json:"requestedBy"`
	Requested   time.Time `json:"requested"`
	// Stale: the request is older than ResetRequestDays by the server's
	// clock, so it can no longer be approved (asked for again, a new
	// request replaces it). The server says it, by the rule approval
	// applies, so that a page need not trust its own device's clock.
	Stale bool `json:"stale,omitempty"`
}

func (PasswordResetPending) wire() {}

// ResetRequestDays is how many days a waiting password reset request
// (PasswordResetPending) may be approved; an older one is refused (409,
// ProblemNoPendingReset, detail ResetRequestTooOld) and must be asked for
// again (a new request replaces it).
const ResetRequestDays = 7

// ResetRequestTooOld is the refusal's detail when the request to approve
// is older than ResetRequestDays.
const ResetRequestTooOld = "This request is more than a week old; ask for the reset again if it is still needed."
