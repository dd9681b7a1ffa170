package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/parley-mediation/parley/api"
)

// Retention: the schedule, legal holds, disposition plans and
// certificates (records staff and admins).

// Schedule returns the retention schedule in force.
func (c *Client) Schedule(ctx context.Context) (api.StoredSchedule, error) {
	var out api.StoredSchedule
	err := c.Do(ctx, http.MethodGet, "/api/v1/retention/schedule", nil, &out)
	return out, err
}

// SetScheduleRule changes one class's rule (period: "30d", "6y"). A
// change that shortens a period comes back Pending: it is in force once
// another records clerk or admin approves it (ApproveScheduleChange).
func (c *Client) SetScheduleRule(ctx context.Context, class, trigger, period string) (api.RuleResult, error) {
	var out api.RuleResult
	err := c.Do(ctx, http.MethodPut, "/api/v1/retention/schedule/rules/"+url.PathEscape(class),
		api.RuleRequest{Trigger: api.Trigger(trigger), Period: period}, &out)
	return out, err
}

// ScheduleChanges lists the proposed schedule changes, pending first.
func (c *Client) ScheduleChanges(ctx context.Context) ([]api.ScheduleChange, error) {
	var out []api.ScheduleChange
	err := c.Do(ctx, http.MethodGet, "/api/v1/retention/schedule/changes", nil, &out)
	return out, err
}

// ApproveScheduleChange approves another person's proposed shortening.
func (c *Client) ApproveScheduleChange(ctx context.Context, id string) (api.ScheduleChange, error) {
	var out api.ScheduleChange
	err := c.Do(ctx, http.MethodPost, "/api/v1/retention/schedule/changes/"+url.PathEscape(id)+"/approve", nil, &out)
	return out, err
}

// MakePlan draws up a disposition plan as of asOf ("" for now).
func (c *Client) MakePlan(ctx context.Context, asOf string) (api.Plan, error) {
	var out api.Plan
	err := c.Do(ctx, http.MethodPost, "/api/v1/retention/plans", api.PlanRequest{AsOf: asOf}, &out)
	return out, err
}

func planPath(id string) string { return "/api/v1/retention/plans/" + url.PathEscape(id) }

// Plan returns a plan's header.
func (c *Client) Plan(ctx context.Context, id string) (api.Plan, error) {
	var out api.Plan
	err := c.Do(ctx, http.MethodGet, planPath(id), nil, &out)
	return out, err
}

// PlanRecords returns page n of a plan's records.
func (c *Client) PlanRecords(ctx context.Context, id string, n int) ([]api.Item, error) {
	var out []api.Item
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("%s/records?page=%d", planPath(id), n), nil, &out)
	return out, err
}

// ApprovePlan approves a plan (someone independent of its planner and of
// whoever chose its actions: retention.cedar) as its actions were shown
// to the approver: actionsDigest is PlanActions' ActionsDigest. If the
// actions changed since, the server refuses (409, choices-changed).
func (c *Client) ApprovePlan(ctx context.Context, id, actionsDigest string) (api.Plan, error) {
	var out api.Plan
	err := c.Do(ctx, http.MethodPost, planPath(id)+"/approve", api.ApprovePlanRequest{ActionsDigest: actionsDigest}, &out)
	return out, err
}

// Due lists what falls due in the next days days.
func (c *Client) Due(ctx context.Context, days int) (api.DueReport, error) {
	var out api.DueReport
	err := c.Do(ctx, http.MethodGet, "/api/v1/retention/due?days="+strconv.Itoa(days), nil, &out)
	return out, err
}

// DiscardPlan discards a plan that was never carried out.
func (c *Client) DiscardPlan(ctx context.Context, id string) (api.Plan, error) {
	var out api.Plan
	err := c.Do(ctx, http.MethodPost, planPath(id)+"/discard", nil, &out)
	return out, err
}

// ApplyStep carries out one step of an approved plan.
func (c *Client) ApplyStep(ctx context.Context, id string) (api.Progress, error) {
	var out api.Progress
	err := c.Do(ctx, http.MethodPost, planPath(id)+"/apply", nil, &out)
	return out, err
}

// Certificate returns a plan's signed certificate of destruction.
func (c *Client) Certificate(ctx context.Context, id string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, c.BaseURL+planPath(id)+"/certificate", nil)
	if err != nil {
		return nil, err
	}
	res, err := c.send(ctx, req, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, api.MaxCertificateSize+1))
	if err == nil && len(b) > api.MaxCertificateSize {
		err = fmt.Errorf("certificate over %d bytes", api.MaxCertificateSize)
	}
	return b, err
}

// AuditKey returns the server's public verifier key.
func (c *Client) AuditKey(ctx context.Context) (string, error) {
	var out string
	err := c.Do(ctx, http.MethodGet, "/api/v1/audit/key", nil, &out)
	return strings.TrimSpace(out), err
}

// PlaceHold places a legal hold on a case, or (doc set) one document.
func (c *Client) PlaceHold(ctx context.Context, n api.NewHold) (api.Hold, error) {
	var out api.Hold
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+url.PathEscape(n.Case)+"/holds", n, &out)
	return out, err
}

// ReleaseHold releases a hold.
func (c *Client) ReleaseHold(ctx context.Context, caseID, holdID, reason string) (api.Hold, error) {
	var out api.Hold
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+url.PathEscape(caseID)+"/holds/"+url.PathEscape(holdID)+"/release",
		api.ReleaseRequest{Reason: reason}, &out)
	return out, err
}

// Holds lists holds of one case, or every case (caseID "").
func (c *Client) Holds(ctx context.Context, caseID string, all bool) ([]api.Hold, error) {
	path := "/api/v1/holds"
	if caseID != "" {
		path = "/api/v1/cases/" + url.PathEscape(caseID) + "/holds"
	}
	if all {
		path += "?all=true"
	}
	var out []api.Hold
	err := c.Do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}
