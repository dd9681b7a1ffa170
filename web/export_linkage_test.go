package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/evaluation"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// linkCase is what the test set up for one case, and what only the test
// knows: its survey answers.
type linkCase struct {
	id        string
	parties   int
	responses int
	result    string
	means     []string // the case's means, rounded and formatted as the export does
}

// TestRecordsCannotLinkExportRows plays a records person who wants to know
// which case an evaluation-export row is. It reads everything its role may
// read through the API — the case list, every case summary, every audit
// log entry — then runs the export with k = 4 and, for each row, lists
// the cases consistent with all of that. No row may narrow to fewer than k
// cases, and no released survey mean may be fewer than
// 3 people's answers.
//
// The cast holds the issue's scenario: four cases of one type, referral
// and month (a k = 4 group on those three columns alone), one of which has
// a roster size of its own and exactly one survey response.
func TestRecordsCannotLinkExportRows(t *testing.T) {
	const k = 4
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@linkage.test")
	_, rec := n.Staff(t, policy.RoleRecords, "records@linkage.test")

	type spec struct {
		count, parties, responses int
		result                    string
	}
	specs := []spec{
		{3, 3, 3, "full-agreement"}, // three like cases, fully surveyed
		{1, 2, 1, "full-agreement"}, // the target: its own roster band, one response
		{4, 2, 0, "no-agreement"},   // four like cases, no survey
		{1, 4, 3, "full-agreement"}, // two more surveyed cases, one with
		{1, 4, 4, "full-agreement"}, // 4 responses among the 3-response ones
	}
	var all []*linkCase
	next := 1 // makes every answer, so every case's means, distinct
	for _, sp := range specs {
		for range sp.count {
			kc, err := med.CreateCase(ctx, fmt.Sprintf("Linkage case %d", len(all)), "family", "court", []string{"Tenant", "Landlord"})
			if err != nil {
				t.Fatal(err)
			}
			lc := &linkCase{id: kc.ID, parties: sp.parties, responses: sp.responses, result: sp.result}
			for p := range sp.parties {
				inv, err := med.Invite(ctx, kc.ID, "party", []string{"A", "B"}[p%2], fmt.Sprintf("Party %d", p), "", time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := client.New(n.URL, "").Join(ctx, inv.Link); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := med.CaseAction(ctx, kc.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
				t.Fatal(err)
			}
			out, err := med.RecordOutcome(ctx, kc.ID, sp.result, 2, 3)
			if err != nil {
				t.Fatal(err)
			}
			sums := make([]int, len(cases.SurveyItems))
			for i := range sp.responses {
				scores := map[string]int{}
				for j, item := range cases.SurveyItems {
					v := 1 + (next+j*(i+1))%5
					next++
					scores[item] = v
					sums[j] += v
				}
				_, token, _ := strings.Cut(out.Surveys[i].Link, "#")
				if err := med.SubmitSurvey(ctx, token, scores, "The process was fair."); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range sums {
				lc.means = append(lc.means, strconv.FormatFloat(math.Round(float64(s)/float64(max(sp.responses, 1))*2)/2, 'f', 1, 64))
			}
			all = append(all, lc)
		}
	}

	// What records staff read: the list, each summary, the whole audit log.
	listed, err := rec.Cases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	summaries := map[string]cases.Summary{}
	for _, l := range listed {
		var s cases.Summary
		if err := rec.Do(ctx, http.MethodGet, "/api/v1/cases/"+l.ID+"/summary", nil, &s); err != nil {
			t.Fatal(err)
		}
		summaries[l.ID] = s
	}
	if len(summaries) != len(all) {
		t.Fatalf("records staff list %d cases, want %d", len(summaries), len(all))
	}
	responses, outcomes := map[string]int{}, map[string]string{}
	for from := 0; ; {
		var page struct {
			Size    int64 `json:"size"`
			Entries []struct {
				Index int64       `json:"index"`
				Event audit.Event `json:"event"`
			} `json:"entries"`
		}
		if err := rec.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/audit/entries?from=%d&limit=1000", from), nil, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			switch e.Event.Type {
			case "survey.response":
				responses[e.Event.Case]++
			case "case.outcome":
				outcomes[e.Event.Case] = e.Event.Attrs["result"]
			}
		}
		from += len(page.Entries)
		if len(page.Entries) == 0 || int64(from) >= page.Size {
			break
		}
	}
	for _, lc := range all {
		if responses[lc.id] != lc.responses {
			t.Fatalf("the audit log shows %d responses for a case that had %d; the attack below assumes records staff can count them", responses[lc.id], lc.responses)
		}
	}

	var buf bytes.Buffer
	from, to := exportMonths()
	if _, err := rec.Export(ctx, api.ExportRequest{From: from, To: to, K: k}, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	if len(recs) < 2 {
		t.Fatal("the export released no rows: the test would prove nothing")
	}
	meanCols := []int{}
	for _, item := range cases.SurveyItems {
		meanCols = append(meanCols, col["mean_"+item])
	}
	releasedMeans := 0
	for _, row := range recs[1:] {
		var consistent []string
		for id, s := range summaries {
			if consistentWith(row, col, s, responses[id], outcomes[id]) {
				consistent = append(consistent, id)
			}
		}
		if len(consistent) < k {
			t.Errorf("export row %v links to %d case(s) (%v) for a records person; want at least k = %d", row, len(consistent), consistent, k)
		}
		// Whose answers are these? Only the test knows each case's means.
		var means []string
		for _, c := range meanCols {
			means = append(means, row[c])
		}
		if strings.Join(means, "") == "" {
			if row[col["comments"]] != "" {
				t.Errorf("row %v releases comments without survey means", row)
			}
			continue
		}
		releasedMeans++
		for _, lc := range all {
			if strings.Join(lc.means, ",") == strings.Join(means, ",") && lc.responses < evaluation.MinSurveyResponses {
				t.Errorf("row %v releases the survey means of a case with %d response(s) (minimum %d)", row, lc.responses, evaluation.MinSurveyResponses)
			}
		}
	}
	if releasedMeans == 0 {
		t.Error("no row released survey means: the test cast should let the surveyed cases through")
	}
}

// consistentWith reports whether a case, as records staff see it (its
// summary, its number of survey.response audit events, its case.outcome
// audit event), could be the case of an export row. A "*" cell matches
// anything; a band matches the values it holds; a survey mean must be one
// that the case's number of responses can give.
func consistentWith(row []string, col map[string]int, s cases.Summary, responses int, outcome string) bool {
	cell := func(name string) string { return row[col[name]] }
	for _, item := range cases.SurveyItems {
		if m := cell("mean_" + item); m != "" && !meanFromCount(m, responses) {
			return false
		}
	}
	if v := cell("case_type"); v != "*" && v != s.Type {
		return false
	}
	// referral_source: records staff do not see it; it matches anything.
	if v := cell("opened_period"); v != "*" {
		t := s.Created.UTC()
		if v != t.Format("2006-01") && v != fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1) && v != strconv.Itoa(t.Year()) {
			return false
		}
	}
	if !inLabel(cell("sides"), float64(s.Sides)) || !inLabel(cell("participants"), float64(s.Participants)) ||
		!inLabel(cell("survey_responses"), float64(responses)) {
		return false
	}
	wantOutcome := "open"
	if s.Outcome != nil {
		wantOutcome = string(s.Outcome.Result)
	} else if s.Closed != nil {
		wantOutcome = "closed-unrecorded"
	}
	if outcome != "" && s.Outcome != nil && outcome != string(s.Outcome.Result) {
		return false // the audit log and the summary disagree: not this case
	}
	if v := cell("outcome"); v != "*" && v != wantOutcome {
		return false
	}
	if s.Outcome != nil {
		if !inLabel(cell("sessions"), float64(s.Outcome.Sessions)) || !inLabel(cell("hours"), math.Round(s.Outcome.Hours*2)/2) {
			return false
		}
	} else if cell("sessions") != "" && cell("sessions") != "*" {
		return false
	}
	days := map[cases.Stage]float64{}
	for i, h := range s.StageHistory {
		end := time.Now()
		if i+1 < len(s.StageHistory) {
			end = s.StageHistory[i+1].At
		} else if s.Closed != nil {
			end = *s.Closed
		}
		days[h.To] += end.Sub(h.At).Hours() / 24
	}
	for name, st := range map[string]cases.Stage{"days_preparation": cases.StagePreparation, "days_opening": cases.StageOpening,
		"days_issues": cases.StageIssues, "days_negotiation": cases.StageNegotiation} {
		d, ok := days[st]
		switch v := cell(name); {
		case v == "*":
		case !ok:
			if v != "" {
				return false
			}
		case !inLabel(v, math.Floor(d)):
			return false
		}
	}
	if s.Closed != nil {
		if !inLabel(cell("days_to_resolution"), math.Floor(s.Closed.Sub(s.Created).Hours()/24)) {
			return false
		}
	} else if v := cell("days_to_resolution"); v != "" && v != "*" {
		return false
	}
	return true
}

// inLabel reports whether x lies in a band label ("3", "3-4", "3+"), or the
// label is "*".
func inLabel(label string, x float64) bool {
	switch {
	case label == "*":
		return true
	case strings.HasSuffix(label, "+"):
		lo, err := strconv.ParseFloat(strings.TrimSuffix(label, "+"), 64)
		return err == nil && x >= lo
	case strings.Contains(label, "-"):
		a, b, _ := strings.Cut(label, "-")
		lo, err1 := strconv.ParseFloat(a, 64)
		hi, err2 := strconv.ParseFloat(b, 64)
		return err1 == nil && err2 == nil && x >= lo && x <= hi
	default:
		v, err := strconv.ParseFloat(label, 64)
		return err == nil && v == x
	}
}

// meanFromCount reports whether a survey mean cell could come from n
// answers on the 1–5 scale, read the way records staff would: a whole or
// a half with one decimal as the documented rounding to the nearest 0.5,
// anything else as the exact mean at the decimals printed (sum/n gives n
// back).
func meanFromCount(m string, n int) bool {
	v, err := strconv.ParseFloat(m, 64)
	if err != nil || n == 0 {
		return false
	}
	_, frac, _ := strings.Cut(m, ".")
	for sum := n; sum <= 5*n; sum++ {
		mean := float64(sum) / float64(n)
		if len(frac) == 1 && v*2 == math.Trunc(v*2) {
			if math.Round(mean*2)/2 == v {
				return true
			}
		} else if strconv.FormatFloat(mean, 'f', len(frac), 64) == m {
			return true
		}
	}
	return false
}
