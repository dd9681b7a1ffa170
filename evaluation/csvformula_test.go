package evaluation

import (
	"strings"
	"testing"

	"github.com/parley-mediation/parley/cases"
)

// TestCSVCommentIsNotAFormula: a survey comment written as a spreadsheet
// formula passes the scrub (it names no one), so in the CSV its cell is
// made inert with a leading '. Before: the cell began with "=" and a
// spreadsheet opening the export ran it (here a link to another site).
func TestCSVCommentIsNotAFormula(t *testing.T) {
	const formula = `=HYPERLINK(CONCAT("htt","ps://evil.example/x"),"see")`
	if out, ok := scrubComment(formula, rosterStrings([]string{"Pat Doe"})); !ok || out != formula {
		t.Fatalf("scrubComment(%q) = %q, %v: the test needs the scrub to let it through", formula, out, ok)
	}
	src := surveyed{resps: map[string][]cases.SurveyResponse{}}
	for _, id := range []string{"c_one", "c_two"} {
		src.cs = append(src.cs, alikeCase(id))
		src.resps[id] = answers(id, formula, 4, 4, 4)
	}
	rows, col, _ := exportRows(t, src, 2)
	if len(rows) != 2 {
		t.Fatalf("%d rows released, want the 2 alike cases", len(rows))
	}
	for _, r := range rows {
		cell := r[col["comments"]]
		if !strings.Contains(cell, "HYPERLINK") {
			t.Fatalf("comments cell %q: the comment was not released, the test proves nothing", cell)
		}
		if strings.ContainsAny(cell[:1], "=+-@\t\r") {
			t.Errorf("comments cell starts with %q, a spreadsheet reads it as a formula: %q", cell[:1], cell)
		}
	}
}
