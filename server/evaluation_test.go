package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestOutcomeSurveyAndExportThroughHTTP: a mediator closes a case and
// records its outcome; each party answers the survey once through its own
// link; records staff export; nobody else may.
func TestOutcomeSurveyAndExportThroughHTTP(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	p := seedCase(t, n)
	nodetest.AcceptTerms(t, p.partyA, p.caseID)
	nodetest.AcceptTerms(t, p.partyB, p.caseID)
	for _, st := range []string{"opening", "closure"} {
		if _, err := p.med.CaseAction(ctx, p.caseID, "stage", map[string]string{"stage": st}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := p.med.RecordOutcome(ctx, p.caseID, "partial-agreement", 3, 4.5)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Surveys) != 2 {
		t.Fatalf("%d survey links, want one per party", len(out.Surveys))
	}
	scores := map[string]int{}
	for _, it := range cases.SurveyItems {
		scores[it] = 4
	}
	anon := client.New(n.URL, "")
	for _, s := range out.Surveys {
		token := s.Link[strings.Index(s.Link, "#")+1:]
		if err := anon.SubmitSurvey(ctx, token, scores, "Thank you, it helped."); err != nil {
			t.Fatal(err)
		}
		err := anon.SubmitSurvey(ctx, token, scores, "again")
		if ce, ok := err.(*client.Error); !ok || ce.Status != http.StatusGone {
			t.Fatalf("second answer with one link: %v", err)
		}
	}
	_, records := n.Staff(t, policy.RoleRecords, "records@example.org")
	after := time.Now().UTC().AddDate(0, 0, 1)
	req := api.ExportRequest{From: "2000-01-01", To: time.Date(after.Year(), after.Month()+1, 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), K: 2}
	var buf bytes.Buffer
	rep, err := records.Export(ctx, req, &buf)
	if err != nil {
		t.Fatal(err)
	}
	// One case only: a group of 1 < k=2, so it is generalized then suppressed.
	if rep.Rows != 0 || rep.Suppressed != 1 {
		t.Fatalf("report %+v", rep)
	}
	recs, _ := csv.NewReader(&buf).ReadAll()
	if len(recs) != 1 {
		t.Fatalf("want the header only, got %d records", len(recs))
	}
	for who, c := range map[string]*client.Client{"mediator": p.med, "party": p.partyA} {
		_, err := c.Export(ctx, req, &bytes.Buffer{})
		if ce, ok := err.(*client.Error); !ok || ce.Status != http.StatusForbidden {
			t.Fatalf("%s exporting: %v", who, err)
		}
	}
	// The export is audited.
	found := false
	for i := n.Audit.Size() - 1; i >= 0 && !found; i-- {
		ev, _ := n.Audit.Entry(ctx, i)
		found = ev.Type == "evaluation.export" && len(ev.Hashes) == 1 && ev.Hashes[0] == rep.SHA256
	}
	if !found {
		t.Fatal("export not in the audit log with its file hash")
	}
}
