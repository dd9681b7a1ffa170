package web_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/evaluation"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// The evaluation.export audit entry records what decided the export's
// strength: k (as the export ran with it, the default when none was
// asked), the fewest responses a released survey mean needs, and the
// quasi-identifiers the rows were grouped on. An auditor reading the log
// learns how strong each export was without the file.
func TestExportAuditEntryRecordsK(t *testing.T) {
	n := nodetest.Embedded(t)
	_, rec := n.Staff(t, policy.RoleRecords, "records@exportaudit.test")
	from, to := exportMonths()
	for _, tc := range []struct{ asked, want int }{{3, 3}, {0, 5}} {
		var buf bytes.Buffer
		if _, err := rec.Export(t.Context(), api.ExportRequest{From: from, To: to, K: tc.asked}, &buf); err != nil {
			t.Fatal(err)
		}
		var page struct {
			Entries []struct {
				Event audit.Event `json:"event"`
			} `json:"entries"`
		}
		if err := rec.Do(t.Context(), http.MethodGet, "/api/v1/audit/entries?limit=1000", nil, &page); err != nil {
			t.Fatal(err)
		}
		var last *audit.Event
		for i := range page.Entries {
			if page.Entries[i].Event.Type == "evaluation.export" {
				last = &page.Entries[i].Event
			}
		}
		if last == nil {
			t.Fatal("no evaluation.export entry")
		}
		if got := last.Attrs["k"]; got != fmt.Sprint(tc.want) {
			t.Fatalf("export asked with k=%d: entry's k = %q, want %d (attrs %v)", tc.asked, got, tc.want, last.Attrs)
		}
		if got := last.Attrs["minSurveyResponses"]; got != fmt.Sprint(evaluation.MinSurveyResponses) {
			t.Fatalf("entry's minSurveyResponses = %q, want %d", got, evaluation.MinSurveyResponses)
		}
		if got, want := last.Attrs["quasiIdentifiers"], strings.Join(evaluation.QuasiIdentifiers, ","); got != want {
			t.Fatalf("entry's quasiIdentifiers = %q, want %q (attrs %v)", got, want, last.Attrs)
		}
	}
}
