package evaluation

import (
	"testing"

	"github.com/parley-mediation/parley/cases"
)

// TestCommentsDroppedCountsReleasedRowsOnly: the report's count of
// dropped comments (the X-Parley-Export-Comments-Dropped header) covers
// only the rows released. Before: a one-day range with one surveyed case
// answered rows=0, suppressed=1, commentsDropped=1, which says that case
// had a comment the scrub could not clean (one naming someone).
func TestCommentsDroppedCountsReleasedRowsOnly(t *testing.T) {
	src := surveyed{resps: map[string][]cases.SurveyResponse{}}
	src.cs = append(src.cs, alikeCase("c_one"))
	src.resps["c_one"] = append(answers("c_one", "it was helpful", 4, 5), answers("c_one", "thanks to Smith", 4)...)
	rows, _, rep := exportRows(t, src, 2)
	if len(rows) != 0 || rep.Suppressed != 1 {
		t.Fatalf("%d rows, report %+v; want the one case suppressed", len(rows), rep)
	}
	if rep.CommentsDropped != 0 || rep.CommentsKept != 0 {
		t.Fatalf("report %+v: commentsDropped %d, commentsKept %d for a range whose only row was suppressed, want 0",
			rep, rep.CommentsDropped, rep.CommentsKept)
	}
	// Released, the same case's comments are counted.
	src.cs = append(src.cs, alikeCase("c_two"))
	src.resps["c_two"] = answers("c_two", "it was helpful", 4, 4, 4)
	rows, _, rep = exportRows(t, src, 2)
	if len(rows) != 2 || rep.CommentsDropped != 1 || rep.CommentsKept != 5 {
		t.Fatalf("%d rows, report %+v; want 2 rows, 1 comment dropped, 5 kept", len(rows), rep)
	}
}
