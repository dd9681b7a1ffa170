package evaluation

import (
	"strings"
	"testing"

	"github.com/parley-mediation/parley/cases"
)

// TestExportScrubsTurkishNamesInAnyCase: Go's (?i) folds by Unicode
// simple folding, which does not pair İ with i nor ı with I, so a roster
// name with a Turkish dotted or dotless i was missed in the letter cases
// people write it in. Before: with "İlker Yıldız" on the roster, "thanks
// to ilker" and "YILDIZ was unfair." were released with the names in them.
func TestExportScrubsTurkishNamesInAnyCase(t *testing.T) {
	src := surveyed{resps: map[string][]cases.SurveyResponse{}}
	for _, id := range []string{"c_one", "c_two"} {
		c := alikeCase(id)
		c.Participants = []cases.Participant{{Name: "İlker Yıldız", Role: cases.RoleParty}, {Name: "Ayşe Kaya", Role: cases.RoleParty}}
		src.cs = append(src.cs, c)
		for i, comment := range []string{"thanks to ilker", "YILDIZ was unfair.", "ILKER and yildiz listened"} {
			src.resps[id] = append(src.resps[id], answers(id, comment, 4+i%2)...)
		}
	}
	rows, col, _ := exportRows(t, src, 2)
	if len(rows) != 2 {
		t.Fatalf("%d rows released, want the 2 alike cases", len(rows))
	}
	fold := strings.NewReplacer("İ", "i", "ı", "i", "I", "i", "\u0307", "")
	for _, r := range rows {
		got := strings.ToLower(fold.Replace(r[col["comments"]]))
		for _, name := range []string{"ilker", "yildiz"} {
			if strings.Contains(got, name) {
				t.Errorf("%q survived in the export's comments: %q", name, r[col["comments"]])
			}
		}
		for _, want := range []string{"thanks to [removed]", "[removed] was unfair.", "[removed] and [removed] listened"} {
			if !strings.Contains(r[col["comments"]], want) {
				t.Errorf("%q not in the comments %q (kept, with the names removed)", want, r[col["comments"]])
			}
		}
	}
	roster := rosterStrings([]string{"İlker Yıldız"})
	for _, in := range []string{"i\u0307lker came", "ılker came", "İLKER came", "yıldız came", "YİLDİZ came"} {
		if out, _ := scrubComment(in, roster); out != removed+" came" {
			t.Errorf("scrubComment(%q) = %q, want %q", in, out, removed+" came")
		}
	}
}
