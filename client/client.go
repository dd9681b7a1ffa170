package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parley-mediation/parley/api"
)

// Client talks to one Parley deployment.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// New returns a client for baseURL (e.g. "http://127.0.0.1:8080").
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// Error is a failed call: the HTTP status and the server's problem details.
type Error struct {
	Status  int
	Problem api.Problem
	// RetryAfter is the wait the server asked for (its Retry-After, in
	// seconds), 0 if it gave none.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.Problem.Title
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Problem.Detail != "" {
		msg += ": " + e.Problem.Detail
	}
	return fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
}

// Do sends a JSON request and decodes a JSON answer into out (if non-nil).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", c.BaseURL, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		e := &Error{Status: res.StatusCode}
		if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(min(secs, 3600)) * time.Second
		}
		json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&e.Problem)
		return e
	}
	if out == nil {
		return nil
	}
	if s, ok := out.(*string); ok {
		b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
		*s = string(b)
		return err
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("unexpected answer from server: %w", err)
	}
	return nil
}

// Login signs in and keeps the token in c.
func (c *Client) Login(ctx context.Context, email, password string) (api.SessionResponse, error) {
	var s api.SessionResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/session", api.LoginRequest{Email: email, Password: password}, &s)
	if err == nil {
		c.Token = s.Token
	}
	return s, err
}

// Logout revokes the session.
func (c *Client) Logout(ctx context.Context) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/session", nil, nil)
}

// RevokeSessions ends every open session of an account (admin).
func (c *Client) RevokeSessions(ctx context.Context, accountID string) error {
	return c.Do(ctx, http.MethodPost, "/api/v1/accounts/"+url.PathEscape(accountID)+"/revoke-sessions", nil, nil)
}

// Me returns the signed-in account.
func (c *Client) Me(ctx context.Context) (api.Account, error) {
	var a api.Account
	err := c.Do(ctx, http.MethodGet, "/api/v1/me", nil, &a)
	return a, err
}

// CreateAccount makes a staff account (admin only). password is the first
// password of an administrator's account; for a mediator or records clerk
// it must be empty: the account is made with none (Account.NoPassword) and
// a second administrator approves its first one (ApproveReset), which its
// holder replaces at their first sign-in.
func (c *Client) CreateAccount(ctx context.Context, email, name, role, password string) (api.Account, error) {
	var a api.Account
	err := c.Do(ctx, http.MethodPost, "/api/v1/accounts",
		api.CreateAccountRequest{Email: email, Name: name, Role: api.Role(role), Password: password}, &a)
	return a, err
}

// CreateCase opens a case.
func (c *Client) CreateCase(ctx context.Context, title, caseType, referral string, sides []string) (api.Case, error) {
	var out api.Case
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases",
		api.CreateCaseRequest{Title: title, Type: caseType, ReferralSource: referral, Sides: sides}, &out)
	return out, err
}

// CreateCaseWith opens a case from a whole request (with a reference).
func (c *Client) CreateCaseWith(ctx context.Context, req api.CreateCaseRequest) (api.Case, error) {
	var out api.Case
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases", req, &out)
	return out, err
}

// Case reads a whole case.
func (c *Client) Case(ctx context.Context, id string) (api.Case, error) {
	var out api.Case
	err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+id, nil, &out)
	return out, err
}

// Cases lists the cases the caller may see.
func (c *Client) Cases(ctx context.Context) ([]api.Listed, error) {
	var out []api.Listed
	err := c.Do(ctx, http.MethodGet, "/api/v1/cases", nil, &out)
	return out, err
}

// CaseAction posts body to /api/v1/cases/<id>/<action> and returns the
// updated case (stage, objectives, disclosures, recusals, mediators).
func (c *Client) CaseAction(ctx context.Context, id, action string, body any) (api.Case, error) {
	var out api.Case
	if body == nil {
		body = api.EmptyRequest{}
	}
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+id+"/"+action, body, &out)
	return out, err
}

// Invite creates an invite link.
func (c *Client) Invite(ctx context.Context, caseID, role, side, name, email string, ttl time.Duration) (api.InviteResponse, error) {
	var out api.InviteResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/invites", api.InviteRequest{
		Role: api.ParticipantRole(role), Side: side, Name: name, Email: email, TTLSeconds: int64(ttl.Seconds())}, &out)
	return out, err
}

// Reentry asks for a re-entry link for a participant's existing account
// (a mediator of the case).
func (c *Client) Reentry(ctx context.Context, caseID, accountID string, ttl time.Duration) (api.ReentryResponse, error) {
	var out api.ReentryResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/participants/"+url.PathEscape(accountID)+"/reentry",
		api.ReentryRequest{TTLSeconds: int64(ttl.Seconds())}, &out)
	return out, err
}

// RemoveParticipant takes a participant out of the case (a mediator).
func (c *Client) RemoveParticipant(ctx context.Context, caseID, accountID string) (api.Case, error) {
	var out api.Case
	err := c.Do(ctx, http.MethodDelete, "/api/v1/cases/"+caseID+"/participants/"+url.PathEscape(accountID), nil, &out)
	return out, err
}

// Join redeems an invite token (or a whole invite link) and keeps the new
// session's token in c.
func (c *Client) Join(ctx context.Context, linkOrToken string) (api.SessionResponse, error) {
	token := linkOrToken
	if _, frag, ok := strings.Cut(linkOrToken, "#"); ok {
		token = frag
	}
	var s api.SessionResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/invites/redeem", api.RedeemRequest{Token: token}, &s)
	if err == nil {
		c.Token = s.Token
	}
	return s, err
}
