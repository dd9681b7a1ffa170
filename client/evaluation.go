package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/parley-mediation/parley/api"
)

// RecordOutcome records a closed case's outcome and returns the survey
// links to hand out.
func (c *Client) RecordOutcome(ctx context.Context, caseID, result string, sessions int, hours float64) (api.OutcomeResponse, error) {
	var out api.OutcomeResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/outcome",
		api.OutcomeRequest{Result: api.OutcomeResult(result), Sessions: sessions, Hours: hours}, &out)
	return out, err
}

// SubmitSurvey answers a survey with its token.
func (c *Client) SubmitSurvey(ctx context.Context, token string, scores map[string]int, comment string) error {
	return c.Do(ctx, http.MethodPost, "/api/v1/surveys/responses",
		api.SurveyRequest{Token: token, Scores: scores, Comment: comment}, nil)
}

// ExportReport is what the server says about an export it sent.
type ExportReport struct {
	Rows, Suppressed, Generalized, CommentsDropped, K int
	SHA256                                            string
}

// Export runs the evaluation export and copies the file to w (wrap w to
// show progress).
func (c *Client) Export(ctx context.Context, req api.ExportRequest, w io.Writer) (ExportReport, error) {
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/api/v1/exports", bytes.NewReader(body))
	if err != nil {
		return ExportReport{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+c.Token)
	res, err := c.HTTP.Do(hr)
	if err != nil {
		return ExportReport{}, fmt.Errorf("cannot reach %s: %w", c.BaseURL, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		e := &Error{Status: res.StatusCode}
		json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&e.Problem)
		return ExportReport{}, e
	}
	if _, err := io.Copy(w, res.Body); err != nil {
		return ExportReport{}, err
	}
	n := func(h string) int { v, _ := strconv.Atoi(res.Header.Get(h)); return v }
	return ExportReport{Rows: n(api.ExportRowsHeader), Suppressed: n(api.ExportSuppressedHeader),
		Generalized: n(api.ExportGeneralizedHeader), CommentsDropped: n(api.ExportCommentsDroppedHeader),
		K: n(api.ExportKHeader), SHA256: res.Header.Get(api.ExportSHA256Header)}, nil
}

// ExportDictionary fetches the data dictionary.
func (c *Client) ExportDictionary(ctx context.Context, k int, format string) (string, error) {
	var s string
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/exports/dictionary?k=%d&format=%s", k, format), nil, &s)
	return s, err
}
