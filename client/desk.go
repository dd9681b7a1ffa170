package client

import (
	"context"
	"net/http"

	"github.com/parley-mediation/parley/api"
)

// PendingInvites lists the case's invitations not yet used and not expired
// (the case's mediators only); never their links.
func (c *Client) PendingInvites(ctx context.Context, caseID string) ([]api.PendingInvite, error) {
	var out []api.PendingInvite
	err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+caseID+"/invites", nil, &out)
	return out, err
}
