package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/parley-mediation/parley/api"
)

// Accounts lists every account (admin).
func (c *Client) Accounts(ctx context.Context) ([]api.Account, error) {
	var out []api.Account
	err := c.Do(ctx, http.MethodGet, "/api/v1/accounts", nil, &out)
	return out, err
}

// DisableAccount disables a staff account (admin): its sessions end at
// once and it cannot sign in.
func (c *Client) DisableAccount(ctx context.Context, accountID string) (api.Account, error) {
	var a api.Account
	err := c.Do(ctx, http.MethodPost, "/api/v1/accounts/"+url.PathEscape(accountID)+"/disable", nil, &a)
	return a, err
}

// EnableAccount enables a disabled staff account again (admin).
func (c *Client) EnableAccount(ctx context.Context, accountID string) (api.Account, error) {
	var a api.Account
	err := c.Do(ctx, http.MethodPost, "/api/v1/accounts/"+url.PathEscape(accountID)+"/enable", nil, &a)
	return a, err
}

// ResetPassword gives an administrator account a temporary password
// (admin); its holder must choose a new one at their next sign-in. For a
// mediator or records clerk it only requests the reset (AwaitingApproval,
// no password): a second administrator approves it with ApproveReset.
func (c *Client) ResetPassword(ctx context.Context, accountID string) (api.ResetPasswordResponse, error) {
	var out api.ResetPasswordResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/accounts/"+url.PathEscape(accountID)+"/reset-password", nil, &out)
	return out, err
}

// ChangePassword changes the signed-in account's own password. Every other
// session of the account ends; the client carries on with the new session
// the server answers.
func (c *Client) ChangePassword(ctx context.Context, current, next string) (api.SessionResponse, error) {
	var s api.SessionResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/me/password", api.ChangePasswordRequest{CurrentPassword: current, NewPassword: next}, &s)
	if err == nil {
		c.Token = s.Token
	}
	return s, err
}

// ApproveReset approves another administrator's request to reset a
// mediator's or records clerk's password; the answer holds the temporary
// password, for the approver alone.
func (c *Client) ApproveReset(ctx context.Context, accountID string) (api.ResetPasswordResponse, error) {
	var out api.ResetPasswordResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/accounts/"+url.PathEscape(accountID)+"/reset-password/approve", nil, &out)
	return out, err
}

// DeclineReset declines (or, for its requester, withdraws) a waiting
// password reset.
func (c *Client) DeclineReset(ctx context.Context, accountID string) (api.Account, error) {
	var a api.Account
	err := c.Do(ctx, http.MethodPost, "/api/v1/accounts/"+url.PathEscape(accountID)+"/reset-password/decline", nil, &a)
	return a, err
}
