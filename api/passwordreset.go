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
}

func (PasswordResetPending) wire() {}
