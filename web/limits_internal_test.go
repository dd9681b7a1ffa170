package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/metastore"
)

// TestRecordTooLargeIsAProblem: a record that would outgrow
// metastore.MaxRecordSize is a 409 in plain words naming no record key,
// not a 500.
func TestRecordTooLargeIsAProblem(t *testing.T) {
	a := &API{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rec := httptest.NewRecorder()
	a.writeError(rec, httptest.NewRequest(http.MethodPost, "/api/v1/cases/c/documents/d/share", nil),
		fmt.Errorf("vault/c-1/docs/d-1: %w", metastore.ErrTooLarge))
	var p api.Problem
	if err := json.NewDecoder(rec.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusConflict || p.Type != api.ProblemTypeBase+string(api.ProblemTooLarge) || strings.Contains(p.Detail, "vault/") || !strings.Contains(p.Detail, "1 MiB") {
		t.Fatalf("got %d %+v", rec.Code, p)
	}
}

// TestStaleMasterKeyIsUnavailable: an upload refused because this node's
// master key is not the store's any more (rotated while it ran) answers
// 503 with a retry, and the log says ERROR naming both master key ids;
// the answer names neither.
func TestStaleMasterKeyIsUnavailable(t *testing.T) {
	var logged strings.Builder
	a := &API{log: slog.New(slog.NewTextHandler(&logged, nil))}
	rec := httptest.NewRecorder()
	a.writeError(rec, httptest.NewRequest(http.MethodPost, "/api/v1/cases/c/documents", nil),
		fmt.Errorf("key keys/cases/c-1 not created: keys/records is wrapped by master key 0123456789abcdef, this is fedcba9876543210: %w", kms.ErrStaleMasterKey))
	var p api.Problem
	if err := json.NewDecoder(rec.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || p.Type != api.ProblemTypeBase+string(api.ProblemUnavailable) || rec.Header().Get("Retry-After") == "" ||
		strings.Contains(p.Detail, "0123456789abcdef") || strings.Contains(p.Detail, "keys/") {
		t.Fatalf("got %d %+v", rec.Code, p)
	}
	if l := logged.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "0123456789abcdef") || !strings.Contains(l, "fedcba9876543210") {
		t.Fatalf("log: %s", l)
	}
}

// TestDecodeErrorsNameTheFieldInPlainWords: a body whose field has the
// wrong kind of value is refused naming that field in plain words, never
// a Go type; bad base64 and a bad time name their field too.
func TestDecodeErrorsNameTheFieldInPlainWords(t *testing.T) {
	type wrap struct {
		Record []byte `json:"record"`
	}
	type body struct {
		Role   api.Role  `json:"role"`
		Sides  []string  `json:"sides"`
		Until  time.Time `json:"until"`
		Record []byte    `json:"record"`
		Wraps  []wrap    `json:"wraps"`
		Epoch  int64     `json:"epoch"`
		On     *bool     `json:"on"`
	}
	for in, want := range map[string]string{
		`{"role":3}`:                      "role: must be text in quotes",
		`{"sides":"A"}`:                   "sides: must be a list",
		`{"until":"tomorrow"}`:            "until: must be a date and time like 2026-12-05T10:00:00Z",
		`{"record":"%%%"}`:                "record: must be base64",
		`{"wraps":[{"record":"%%"}]}`:     "wraps[0].record: must be base64",
		`{"epoch":"x"}`:                   "epoch: must be a whole number",
		`{"epoch":1.5}`:                   "epoch: must be a whole number",
		`{"on":"yes"}`:                    "on: must be true or false",
		`{"wraps":[{"record":"AA=="},1]}`: "wraps: must be an object",
	} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(in))
		req.Header.Set("Content-Type", "application/json")
		var v body
		err := decodeJSON(httptest.NewRecorder(), req, &v)
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
}

// TestFrameErrorsNameTheFieldInPlainWords: a WebSocket frame with a
// field of the wrong kind is refused naming it in plain words, not with
// the JSON decoder's text.
func TestFrameErrorsNameTheFieldInPlainWords(t *testing.T) {
	for in, want := range map[string]string{
		`{"t":"pub","room":"joint","id":"m1","body":"AA==","epoch":"x"}`: "epoch: must be a whole number",
		`{"t":"pub","room":"joint","id":"m1","body":"%%%"}`:              "body: must be base64",
		`{"t":"sub","room":5}`:                            "room: must be text in quotes",
		`{"t":"sub","room":"joint","from":{"epoch":"1"}}`: "from.epoch: must be a whole number",
		`{"t":"sub","room":"joint"`:                       "malformed frame",
	} {
		_, err := decodeClientFrame([]byte(in))
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "Go ") || strings.Contains(err.Error(), "json:") {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
}

// TestBusyIsAProblem: a sign-in refused because the node checks as many
// passwords as it can at once is a 503 of type busy with Retry-After and
// the account package's plain sentence (the sign-in page shows it as is).
func TestBusyIsAProblem(t *testing.T) {
	a := &API{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rec := httptest.NewRecorder()
	a.writeError(rec, httptest.NewRequest(http.MethodPost, "/api/v1/session", nil), fmt.Errorf("login: %w", account.ErrHashBusy))
	var p api.Problem
	if err := json.NewDecoder(rec.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" || p.Type != api.ProblemTypeBase+string(api.ProblemBusy) ||
		p.Detail != "Too many people are signing in right now. Try again in a few seconds." {
		t.Fatalf("got %d Retry-After %q %+v", rec.Code, rec.Header().Get("Retry-After"), p)
	}
}
