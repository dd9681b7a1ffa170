package evaluation

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
)

// twoCheckedIn is a Source of two cases alike on every quasi-identifier
// records staff cannot tell apart by (type, opening, no survey), closed
// 70 days apart, each with one check-in 30 days after closure. counts
// are their answers.
type twoCheckedIn struct {
	cs     []*cases.Case
	counts map[string][3]int
}

func (s twoCheckedIn) All(ctx context.Context, fn func(*cases.Case) error) error {
	for _, c := range s.cs {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (twoCheckedIn) SurveyResponses(ctx context.Context, caseID string) ([]cases.SurveyResponse, error) {
	return nil, nil
}

func (s twoCheckedIn) FollowUpCounts(ctx context.Context, caseID string) (int, int, int, error) {
	c := s.counts[caseID]
	return c[0], c[1], c[2], nil
}

// followUpFits reports whether a row's three follow-up cells can be a
// case's answers when the case had total answers in all: some honoured,
// partly and not counts summing to total fall in the cells' bands ("0",
// "1", "2", "3-4", "5+") or, generalized, are "some" (at least one, not
// all) or "all".
func followUpFits(cells [3]string, total int) bool {
	match := func(label string, x int) bool {
		switch label {
		case "some":
			return x > 0 && x < total
		case "all":
			return x == total
		}
		return itoaBand(x, countBands) == label
	}
	for h := 0; h <= total; h++ {
		for p := 0; h+p <= total; p++ {
			if match(cells[0], h) && match(cells[1], p) && match(cells[2], total-h-p) {
				return true
			}
		}
	}
	return false
}

// Records staff can count each case's check-in answers: followup.set
// names the case and its days, the summary its closure, each link opens
// at Due-24h and expires at Due+60d, and every followup.response entry
// has its time. Where two cases' windows do not overlap (closed 70 days
// apart, days=[30]), the entries in each window are that case's. A row
// whose follow-up cells fit only one case's count is that case, with its
// answers. Here A had three answers (one of each) and B six honoured:
// the row "1,1,1" sums to exactly 3, so it was A's. At k = 2 no row's
// follow-up cells may fit fewer than k of the cases records staff could
// not otherwise tell it from.
func TestFollowUpCountsDoNotGiveTheirCase(t *testing.T) {
	opened := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	closedA := opened.Add(20 * 24 * time.Hour)
	closedB := closedA.Add(70 * 24 * time.Hour)
	a := &cases.Case{ID: "c_a", Type: "family", ReferralSource: "court", Created: opened, Closed: &closedA,
		Outcome: &cases.Outcome{Result: cases.FullAgreement}}
	b := &cases.Case{ID: "c_b", Type: "family", ReferralSource: "court", Created: opened, Closed: &closedB,
		Outcome: &cases.Outcome{Result: cases.FullAgreement}}
	src := twoCheckedIn{cs: []*cases.Case{a, b}, counts: map[string][3]int{"c_a": {1, 1, 1}, "c_b": {6, 0, 0}}}
	// What records staff count from the audit log's times.
	totals := map[string]int{"c_a": 3, "c_b": 6}
	const k = 2
	var out bytes.Buffer
	rep, err := Run(context.Background(), src, &out, Options{To: time.Now().Add(time.Hour), K: k})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || rep.Suppressed != 0 {
		t.Fatalf("rows %d, suppressed %d: want both cases", len(recs)-1, rep.Suppressed)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	released := 0
	for _, rec := range recs[1:] {
		cells := [3]string{rec[col["followup_honoured"]], rec[col["followup_partly"]], rec[col["followup_not"]]}
		if cells == [3]string{"", "", ""} {
			continue
		}
		released++
		var fit []string
		for id, total := range totals {
			if followUpFits(cells, total) {
				fit = append(fit, id)
			}
		}
		if len(fit) < k {
			t.Errorf("row's follow-up cells %v fit only %v of the cases counted %v: the row is that case's", cells, fit, totals)
		}
	}
	if released == 0 {
		t.Errorf("no row released follow-up cells: the generalization should keep them, coarsened (generalized %v)", rep.Generalized)
	}
}

// Cases alike with as many check-in answers keep their count bands: the
// cells fit each of them, so nothing needs generalizing.
func TestFollowUpCountsKeptAmongEqualTotals(t *testing.T) {
	opened := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	closed := opened.Add(20 * 24 * time.Hour)
	var src twoCheckedIn
	for _, id := range []string{"c_a", "c_b"} {
		src.cs = append(src.cs, &cases.Case{ID: id, Type: "family", ReferralSource: "court", Created: opened, Closed: &closed,
			Outcome: &cases.Outcome{Result: cases.FullAgreement}})
	}
	src.counts = map[string][3]int{"c_a": {1, 1, 1}, "c_b": {2, 1, 0}}
	var out bytes.Buffer
	rep, err := Run(context.Background(), src, &out, Options{To: time.Now().Add(time.Hour), K: 2})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || rep.Generalized["followups:some-or-all"] != 0 {
		t.Fatalf("rows %d, generalized %v: want both cases, nothing generalized", len(recs)-1, rep.Generalized)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	got := map[string]bool{}
	for _, rec := range recs[1:] {
		got[rec[col["followup_honoured"]]+","+rec[col["followup_partly"]]+","+rec[col["followup_not"]]] = true
	}
	if !got["1,1,1"] || !got["2,1,0"] {
		t.Fatalf("follow-up cells %v, want 1,1,1 and 2,1,0", got)
	}
}
