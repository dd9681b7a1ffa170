package api

// ResetPasswordResponse answers an administrator's password reset (POST
// /api/v1/accounts/{accountID}/reset-password, and .../approve): a
// temporary password, shown once, that works for one sign-in after which
// its holder must choose their own. For a mediator or records clerk the
// first administrator's reset is only a request: AwaitingApproval is set,
// no password is made, and a second administrator's approval answers it.
type ResetPasswordResponse struct {
	Account           Account `json:"account"`
	TemporaryPassword string  `json:"temporaryPassword,omitempty"`
	AwaitingApproval  bool    `json:"awaitingApproval,omitempty"`
}

func (ResetPasswordResponse) wire() {}

// ChangePasswordRequest changes the caller's own password (POST
// /api/v1/me/password). The current password is required, also after an
// administrator's reset (then it is the temporary one).
type ChangePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}
