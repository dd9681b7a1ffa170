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

	"github.com/parley-mediation/parley/api"
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
	if rec.Code != http.StatusConflict || p.Type != problemTypeBase+"too-large" || strings.Contains(p.Detail, "vault/") || !strings.Contains(p.Detail, "1 MiB") {
		t.Fatalf("got %d %+v", rec.Code, p)
	}
}
