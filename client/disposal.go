package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/parley-mediation/parley/api"
)

// ChooseAction chooses the action for one record (or, for a transfer, one
// case) of a plan awaiting approval.
func (c *Client) ChooseAction(ctx context.Context, planID string, req api.ChooseAction) (api.PlanActions, error) {
	var out api.PlanActions
	err := c.Do(ctx, http.MethodPost, planPath(planID)+"/actions", req, &out)
	return out, err
}

// PlanActions lists a plan's chosen actions and the transfer bundles made.
func (c *Client) PlanActions(ctx context.Context, planID string) (api.PlanActions, error) {
	var out api.PlanActions
	err := c.Do(ctx, http.MethodGet, planPath(planID)+"/actions", nil, &out)
	return out, err
}

// TransferBundle opens a case's transfer bundle (age-encrypted).
func (c *Client) TransferBundle(ctx context.Context, planID, caseID string) (io.ReadCloser, error) {
	req, err := http.NewRequest(http.MethodGet, c.BaseURL+planPath(planID)+"/transfers/"+url.PathEscape(caseID), nil)
	if err != nil {
		return nil, err
	}
	res, err := c.send(ctx, req, http.StatusOK)
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}
