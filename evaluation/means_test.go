package evaluation

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
)

// surveyed is a Source of cases alike on every quasi-identifier, with the
// survey responses the test gives each, and (as a StubSource) the
// statistical stubs of disposed cases.
type surveyed struct {
	cs    []*cases.Case
	resps map[string][]cases.SurveyResponse
	stubs []cases.Stub
}

func (s surveyed) All(ctx context.Context, fn func(*cases.Case) error) error {
	for _, c := range s.cs {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (s surveyed) SurveyResponses(ctx context.Context, caseID string) ([]cases.SurveyResponse, error) {
	return s.resps[caseID], nil
}

func (s surveyed) Stubs(ctx context.Context, fn func(*cases.Stub) error) error {
	for i := range s.stubs {
		if err := fn(&s.stubs[i]); err != nil {
			return err
		}
	}
	return nil
}

// answers makes one response per score, every item answered with that
// score, each with the comment (if any).
func answers(caseID, comment string, scores ...int) []cases.SurveyResponse {
	var out []cases.SurveyResponse
	for _, v := range scores {
		sc := map[string]int{}
		for _, it := range cases.SurveyItems {
			sc[it] = v
		}
		out = append(out, cases.SurveyResponse{CaseID: caseID, Day: "2026-11-02", Scores: sc, Comment: comment})
	}
	return out
}

func alikeCase(id string) *cases.Case {
	return &cases.Case{ID: id, Type: "family", Created: time.Now().Add(-48 * time.Hour).UTC()}
}

func exportRows(t *testing.T, src Source, k int) ([][]string, map[string]int, Report) {
	t.Helper()
	var out bytes.Buffer
	rep, err := Run(context.Background(), src, &out, Options{To: time.Now().Add(time.Hour), K: k})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	return recs[1:], col, rep
}

// rowMeans returns a row's mean cells, in SurveyItems order.
func rowMeans(row []string, col map[string]int) []string {
	var out []string
	for _, it := range cases.SurveyItems {
		out = append(out, row[col["mean_"+it]])
	}
	return out
}

// onHalfGrid fails unless every released mean is a whole or a half.
func onHalfGrid(t *testing.T, rows [][]string, col map[string]int) {
	t.Helper()
	for _, row := range rows {
		for _, m := range rowMeans(row, col) {
			if v, err := strconv.ParseFloat(m, 64); m != "" && (err != nil || v*2 != math.Trunc(v*2)) {
				t.Errorf("row %v: mean %q is not on the documented 0.5 grid (its decimals can say the response count)", row, m)
				break
			}
		}
	}
}

// fitsCount reports whether a mean cell could come from n answers on the
// 1–5 scale, as records staff (who know each case's n) read it: a whole
// or a half with one decimal is the documented rounding to the nearest
// 0.5; anything else is taken as the exact mean at the decimals printed.
func fitsCount(m string, n int) bool {
	v, err := strconv.ParseFloat(m, 64)
	if err != nil {
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

// Records staff know each case's response count (one survey.response
// audit entry each). Means printed as sum/n with two decimals gave n back
// (thirds for 3 responses, quarters for 4), so in a group of four alike
// cases, one with 3 responses and three with 4, the row with thirds was
// the 3-response case. Means are published rounded to the nearest 0.5:
// every row's means fit both counts, and here the four rows are alike.
func TestSurveyMeansDoNotGiveResponseCount(t *testing.T) {
	src := surveyed{resps: map[string][]cases.SurveyResponse{}}
	for i, id := range []string{"c_three", "c_four_a", "c_four_b", "c_four_c"} {
		src.cs = append(src.cs, alikeCase(id))
		if i == 0 {
			src.resps[id] = answers(id, "", 4, 5, 4)
		} else {
			src.resps[id] = answers(id, "", 4, 5, 4, 5)
		}
	}
	rows, col, rep := exportRows(t, src, 4)
	if len(rows) != 4 || rep.Suppressed != 0 {
		t.Fatalf("rows %d, suppressed %d: want the 4 cases in one group", len(rows), rep.Suppressed)
	}
	onHalfGrid(t, rows, col)
	first := rowMeans(rows[0], col)
	for _, row := range rows {
		ms := rowMeans(row, col)
		if strings.Join(ms, ",") != strings.Join(first, ",") {
			t.Errorf("row %v: means %v, another row's %v: the response counts show through", row, ms, first)
		}
		for _, n := range []int{3, 4} {
			for _, m := range ms {
				if m == "" || !fitsCount(m, n) {
					t.Errorf("row %v: mean %q cannot come from %d responses: records staff, who know each case's count, tell this row from its group", row, m, n)
					break
				}
			}
		}
	}
}

// oldStub is a stub as the code before the 0.5 rounding made it: the mean
// cells keep two decimals (thirds for a case with 3 responses).
func oldStub(t *testing.T, id string, resps []cases.SurveyResponse) cases.Stub {
	t.Helper()
	c := alikeCase(id)
	st := MakeStub(c, resps, time.Now())
	for i := range cases.SurveyItems {
		st.Cells[qiLast+i] = "4.33"
	}
	return st
}

// A disposed case's row comes from its stub, whose cells (means included)
// are kept at the precision of the code that made it. An old stub's
// "4.33" would stand out among rounded means; it is exported rounded the
// same way ("4.5").
func TestStubMeansRoundedLikeStoredOnes(t *testing.T) {
	src := surveyed{resps: map[string][]cases.SurveyResponse{}}
	for _, id := range []string{"c_a", "c_b", "c_c"} {
		src.cs = append(src.cs, alikeCase(id))
		src.resps[id] = answers(id, "", 4, 5, 4, 5)
	}
	src.stubs = append(src.stubs, oldStub(t, "c_gone", answers("c_gone", "", 4, 5, 4)))
	rows, col, rep := exportRows(t, src, 4)
	if len(rows) != 4 || rep.Stubs != 1 || rep.Suppressed != 0 {
		t.Fatalf("rows %d, stubs %d, suppressed %d: want the 3 cases and the stub in one group", len(rows), rep.Stubs, rep.Suppressed)
	}
	onHalfGrid(t, rows, col)
	for _, row := range rows {
		for _, m := range rowMeans(row, col) {
			if m != "4.5" {
				t.Errorf("row %v: mean %q, want 4.5 (4.33 of the old stub and 4.50 of the stored cases, rounded to the nearest 0.5)", row, m)
				break
			}
		}
	}
}

// Records staff know which cases were disposed of. A stub keeps no
// comments, while a stored case with 3+ responses usually has some: in a
// group with a stub row, the one row with means and no comments would be
// the disposed case. Comments are withheld from every row of a released
// group that holds a stub row.
func TestDisposedCaseRowDoesNotStandOutByComments(t *testing.T) {
	src := surveyed{resps: map[string][]cases.SurveyResponse{}}
	for _, id := range []string{"c_a", "c_b", "c_c"} {
		src.cs = append(src.cs, alikeCase(id))
		src.resps[id] = answers(id, "The process felt fair and calm.", 4, 5, 4)
	}
	st := MakeStub(alikeCase("c_gone"), answers("c_gone", "It was fine.", 4, 5, 4), time.Now())
	src.stubs = append(src.stubs, st)
	rows, col, rep := exportRows(t, src, 4)
	if len(rows) != 4 || rep.Stubs != 1 || rep.Suppressed != 0 {
		t.Fatalf("rows %d, stubs %d, suppressed %d: want the 3 cases and the stub in one group", len(rows), rep.Stubs, rep.Suppressed)
	}
	for _, row := range rows {
		if rowMeans(row, col)[0] == "" {
			t.Fatalf("row %v: means not released", row)
		}
		if c := row[col["comments"]]; c != "" {
			t.Errorf("row %v has comments %q in a group with a disposed case's row (which has none): the stub row stands out", row, c)
		}
	}
	// Without the stub, the stored cases' comments are released.
	src.stubs = nil
	rows, col, _ = exportRows(t, src, 3)
	for _, row := range rows {
		if row[col["comments"]] == "" {
			t.Errorf("row %v: comments withheld from a group without a disposed case", row)
		}
	}
}
