package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/parley-mediation/parley/api"
)

// PendingInvites lists the case's invitations not yet used and not expired
// (the case's mediators only); never their links.
func (c *Client) PendingInvites(ctx context.Context, caseID string) ([]api.PendingInvite, error) {
	var out []api.PendingInvite
	err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+caseID+"/invites", nil, &out)
	return out, err
}

// WithdrawInvite withdraws an unused invitation (its PendingInvite.ID):
// its link stops working, and its mail, if not sent yet, is not sent.
func (c *Client) WithdrawInvite(ctx context.Context, caseID, inviteID string) (api.InviteWithdrawn, error) {
	var out api.InviteWithdrawn
	err := c.Do(ctx, http.MethodDelete, "/api/v1/cases/"+caseID+"/invites/"+url.PathEscape(inviteID), nil, &out)
	return out, err
}
