package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// exportMonths is a whole-month export range around now: from the first
// day of yesterday's month to the first day of the month after
// tomorrow's, so a case opened during the test is in it even at a
// month's turn.
func exportMonths() (from, to string) {
	now := time.Now().UTC()
	y := now.AddDate(0, 0, -1)
	n := now.AddDate(0, 0, 1)
	return time.Date(y.Year(), y.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
		time.Date(n.Year(), n.Month()+1, 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// TestExportCoversWholeMonths: the export's range is whole months (from
// and to the first day of a month), as its opening period is a month.
// Before: any day was taken, and two exports whose ranges differ by one
// day isolate the rows of the cases opened that day, a lone case's
// comments word for word, which joins the two files exactly. A range
// that is not whole months, or that reaches into a month not yet begun
// (later than the first day of the month after tomorrow's), is refused
// 400 in words.
func TestExportCoversWholeMonths(t *testing.T) {
	n := nodetest.Embedded(t)
	_, rec := n.Staff(t, policy.RoleRecords, "records@exportmonths.test")
	post := func(req api.ExportRequest) (*http.Response, api.Problem) {
		body, _ := json.Marshal(req)
		hr, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, n.URL+"/api/v1/exports", bytes.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Authorization", "Bearer "+rec.Token)
		res, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var p api.Problem
		if res.StatusCode >= 400 {
			json.NewDecoder(res.Body).Decode(&p)
		}
		return res, p
	}
	for _, tc := range []struct{ from, to, field string }{
		{"2026-11-02", "2026-12-01", "from"},
		{"2026-11-01", "2026-11-30", "to"},
		{"2026-11-01", "2026-11-01", "to"},
		{"2026-12-01", "2026-11-01", "to"},
		{"2026-11", "2026-12-01", "from"},
	} {
		res, p := post(api.ExportRequest{From: tc.from, To: tc.to, K: 2})
		if res.StatusCode != http.StatusBadRequest || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%s to %s: %d %s, want 400 problem+json", tc.from, tc.to, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if len(p.Errors) != 1 || p.Errors[0].Field != tc.field || !strings.Contains(p.Errors[0].Detail, "the first day of a month") ||
			!strings.Contains(p.Errors[0].Detail, "whole months") {
			t.Fatalf("%s to %s: problem %+v, want %s said in words to be the first day of a month", tc.from, tc.to, p, tc.field)
		}
	}
	// A month not yet begun is refused in words. Before: taken.
	far := time.Now().UTC().AddDate(0, 3, 0)
	farTo := time.Date(far.Year(), far.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	if res, p := post(api.ExportRequest{From: "2026-01-01", To: farTo, K: 2}); res.StatusCode != http.StatusBadRequest ||
		len(p.Errors) != 1 || p.Errors[0].Field != "to" || !strings.Contains(p.Errors[0].Detail, "months that have not begun") {
		t.Fatalf("to %s: %d %+v, want 400 saying the months have not begun", farTo, res.StatusCode, p)
	}
	from, to := exportMonths()
	if res, p := post(api.ExportRequest{From: from, To: to, K: 2}); res.StatusCode != http.StatusOK {
		t.Fatalf("%s to %s: %d %+v, want the export", from, to, res.StatusCode, p)
	}
	if res, p := post(api.ExportRequest{From: "2000-01-01", To: to, K: 2}); res.StatusCode != http.StatusOK {
		t.Fatalf("2000-01-01 to %s: %d %+v, want the export", to, res.StatusCode, p)
	}
}
