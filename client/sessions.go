package client

import (
	"context"
	"net/http"

	"github.com/parley-mediation/parley/api"
)

// Sessions lists a case's sessions.
func (c *Client) Sessions(ctx context.Context, caseID string) ([]api.Session, error) {
	var out []api.Session
	err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+caseID+"/sessions", nil, &out)
	return out, err
}

// AddSession schedules a session.
func (c *Client) AddSession(ctx context.Context, caseID string, req api.NewSessionRequest) (api.Session, error) {
	var out api.Session
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/sessions", req, &out)
	return out, err
}

// MoveSession reschedules a session.
func (c *Client) MoveSession(ctx context.Context, caseID, sessionID string, req api.MoveSessionRequest) (api.Session, error) {
	var out api.Session
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/sessions/"+sessionID+"/move", req, &out)
	return out, err
}

// CancelSession cancels a session.
func (c *Client) CancelSession(ctx context.Context, caseID, sessionID, reason string) (api.Session, error) {
	var out api.Session
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/sessions/"+sessionID+"/cancel", api.CancelSessionRequest{Reason: reason}, &out)
	return out, err
}

// Mail lists a case's outbox (mediators).
func (c *Client) Mail(ctx context.Context, caseID string) ([]api.MailMessage, error) {
	var out []api.MailMessage
	err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+caseID+"/mail", nil, &out)
	return out, err
}

// ResendMail sends a failed or uncertain message again.
func (c *Client) ResendMail(ctx context.Context, caseID, messageID string) (api.MailMessage, error) {
	var out api.MailMessage
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/mail/"+messageID+"/resend", struct{}{}, &out)
	return out, err
}

// SetFollowUps sets a closed case's check-ins on its agreement (days after
// closure); the answer carries each participant's link once.
func (c *Client) SetFollowUps(ctx context.Context, caseID string, days []int) (api.FollowUpResponse, error) {
	var out api.FollowUpResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/followups", api.FollowUpRequest{Days: days}, &out)
	return out, err
}

// FollowUps returns a case's check-ins (no links).
func (c *Client) FollowUps(ctx context.Context, caseID string) (api.FollowUpResponse, error) {
	var out api.FollowUpResponse
	err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+caseID+"/followups", nil, &out)
	return out, err
}
