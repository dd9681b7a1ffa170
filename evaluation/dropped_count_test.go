package evaluation

import (
	"strings"
	"time"

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

// TestCommentCountsAreOfCommentsWritten: the report counts comments once
// they are withheld beside a disposed case's stub and capped to a row's
// band. Before, they were counted first: a stored case grouped with a
// stub showed no comments yet the report said one was dropped (so that
// case had a comment naming someone), and commentsKept counted comments
// cut by the cap.
func TestCommentCountsAreOfCommentsWritten(t *testing.T) {
	src := surveyed{resps: map[string][]cases.SurveyResponse{}}
	src.cs = append(src.cs, alikeCase("c_one"))
	src.resps["c_one"] = append(answers("c_one", "it was helpful", 4, 5), answers("c_one", "thanks to Smith", 4)...)
	src.stubs = append(src.stubs, MakeStub(alikeCase("c_gone"), answers("c_gone", "It was fine.", 4, 5, 4), time.Now()))
	rows, col, rep := exportRows(t, src, 2)
	if len(rows) != 2 || rep.Stubs != 1 || rep.Suppressed != 0 {
		t.Fatalf("%d rows, report %+v; want the case and the stub in one group", len(rows), rep)
	}
	for _, row := range rows {
		if c := row[col["comments"]]; c != "" {
			t.Fatalf("row %v has comments %q beside a stub", row, c)
		}
	}
	if rep.CommentsDropped != 0 || rep.CommentsKept != 0 {
		t.Errorf("report %+v: commentsDropped %d, commentsKept %d with every comment withheld, want 0",
			rep, rep.CommentsDropped, rep.CommentsKept)
	}
	// Capped: a "3-4" row writes 3 of its case's 4 comments.
	src = surveyed{resps: map[string][]cases.SurveyResponse{}}
	src.cs = append(src.cs, alikeCase("c_a"), alikeCase("c_b"))
	src.resps["c_a"] = answers("c_a", "it was helpful", 4, 5, 4, 4)
	src.resps["c_b"] = answers("c_b", "it was helpful", 4, 5, 4)
	rows, col, rep = exportRows(t, src, 2)
	written := 0
	for _, row := range rows {
		if c := row[col["comments"]]; c != "" {
			written += len(strings.Split(c, " | "))
		}
	}
	if len(rows) != 2 || written != 6 || rep.CommentsKept != written {
		t.Errorf("%d rows, %d comments written, report %+v: want 2 rows, 6 written and commentsKept equal to it", len(rows), written, rep)
	}
}
