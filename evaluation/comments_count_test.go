package evaluation

import (
	"strings"
	"testing"

	"github.com/parley-mediation/parley/cases"
)

// TestCommentCountDoesNotGiveResponseCount: each response can add a
// comment, and records staff know every case's exact number of responses,
// so the number of comments in a row must fit every count its
// survey_responses band allows. Four alike cases released as one group
// (band "3-4"): three with 3 responses, one with 4, every response with a
// comment. Before: the 4-response case's row had 4 comments, the others
// 3, singling it out.
func TestCommentCountDoesNotGiveResponseCount(t *testing.T) {
	src := surveyed{resps: map[string][]cases.SurveyResponse{}}
	for i, id := range []string{"c_one", "c_two", "c_three", "c_four"} {
		src.cs = append(src.cs, alikeCase(id))
		scores := []int{4, 5, 4}
		if i == 0 {
			scores = append(scores, 5)
		}
		src.resps[id] = answers(id, "it was helpful", scores...)
	}
	rows, col, _ := exportRows(t, src, 4)
	if len(rows) != 4 {
		t.Fatalf("%d rows released, want the 4 alike cases", len(rows))
	}
	counts := map[int]int{}
	for _, r := range rows {
		if r[col["survey_responses"]] != "3-4" {
			t.Fatalf("survey_responses %q, want 3-4", r[col["survey_responses"]])
		}
		n := 0
		if c := r[col["comments"]]; c != "" {
			n = len(strings.Split(c, " | "))
		}
		counts[n]++
	}
	if len(counts) != 1 || counts[3] != 4 {
		t.Fatalf("rows by their number of comments: %v, want all 4 rows with 3 (the band's low end)", counts)
	}
}

// TestScrubDropsUnspacedScriptsAndShortNameParts: a comment in a script
// without capital letters (Japanese, Chinese, Thai, Korean, Arabic,
// Hebrew, Devanagari…) cannot be scrubbed with confidence (an unknown name
// cannot be told by its capital, and where words are not spaced a name is
// not even a word), so it is dropped, as is one with digits of any
// script; a two-letter part of a person's name, each half of a hyphenated
// one and the part after an apostrophe are removed as words.
// Before: "田中さんは親切でした" was released with the name in it, and
// "Li was late." and "Marie was late." kept the names.
func TestScrubDropsUnspacedScriptsAndShortNameParts(t *testing.T) {
	roster := rosterStrings([]string{"田中 花子", "Li Wei", "Anne-Marie Dubois", "Rosa D'Angelo"}, nil, []string{"Side one"}, []string{"Of mice and men"})
	for _, text := range []string{"田中さんは親切でした", "王先生很好", "คุณสมชายมาสาย", "민수가 늦었다",
		"المحامي أحمد لم يستمع", "עורך הדין משה לא הקשיב", "वकील राम ने नहीं सुना", "call me on ٠١٢٣٤٥٦٧٨٩"} {
		if out, ok := scrubComment(text, roster); ok {
			t.Errorf("%q released as %q; want it dropped", text, out)
		}
	}
	for text, want := range map[string]string{
		"Li was late.":             removed + " was late.",
		"marie was late.":          removed + " was late.",
		"thanks to anne-marie":     "thanks to " + removed,
		"angelo listened":          removed + " listened",
		"it was of use to me":      "it was of use to me", // the title's short words stay
		"the mediator was helpful": "the mediator was helpful",
	} {
		out, ok := scrubComment(text, roster)
		if !ok || out != want {
			t.Errorf("scrubComment(%q) = %q, %v; want %q, true", text, out, ok, want)
		}
	}
}
