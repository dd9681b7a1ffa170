package evaluation

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
)

// withCheckIns is a Source with agreement check-ins: every case has 3
// honoured, 1 partly and 6 not-honoured answers.
type withCheckIns struct{ *cases.Service }

func (withCheckIns) FollowUpCounts(ctx context.Context, caseID string) (int, int, int, error) {
	return 3, 1, 6, nil
}

// oneCheckIn is a Source whose every case has one answer: one person's.
type oneCheckIn struct{ *cases.Service }

func (oneCheckIn) FollowUpCounts(ctx context.Context, caseID string) (int, int, int, error) {
	return 0, 0, 1, nil
}

// The check-in counts are exported banded, in the columns the dictionary
// documents, only from MinSurveyResponses answers; fewer (one person's
// answer, or none) are not released. A row in a group too small for its
// exact number of answers has them generalized to "0", "some" or "all"
// (followups:some-or-all), its only other form.
func TestExportCountsFollowUps(t *testing.T) {
	svc, _ := seed(t, 30, t.TempDir())
	for _, tc := range []struct {
		src        Source
		want, also [3]string
	}{{withCheckIns{svc}, [3]string{"3-4", "1", "5+"}, [3]string{"some", "some", "some"}},
		{oneCheckIn{svc}, [3]string{"", "", ""}, [3]string{"", "", ""}}, {svc, [3]string{"", "", ""}, [3]string{"", "", ""}}} {
		var out bytes.Buffer
		if _, err := Run(context.Background(), tc.src, &out, Options{To: time.Now().Add(time.Hour), K: 2}); err != nil {
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
		if len(recs) < 2 {
			t.Fatal("no rows")
		}
		for _, rec := range recs[1:] {
			got := [3]string{rec[col["followup_honoured"]], rec[col["followup_partly"]], rec[col["followup_not"]]}
			if got != tc.want && got != tc.also {
				t.Fatalf("follow-up cells %v, want %v or %v", got, tc.want, tc.also)
			}
		}
	}
	dict := Dictionary(5, "csv")
	for _, c := range []string{"followup_honoured", "followup_partly", "followup_not"} {
		if !strings.Contains(dict, "| "+c+" | ") {
			t.Fatalf("dictionary lacks %s", c)
		}
	}
}

// fourAlike is a Source of four cases equal on every quasi-identifier;
// only the first has follow-up check-ins (3 answered).
type fourAlike struct{ cs []*cases.Case }

func (s fourAlike) All(ctx context.Context, fn func(*cases.Case) error) error {
	for _, c := range s.cs {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (fourAlike) SurveyResponses(ctx context.Context, caseID string) ([]cases.SurveyResponse, error) {
	return nil, nil
}

func (s fourAlike) FollowUpCounts(ctx context.Context, caseID string) (int, int, int, error) {
	if caseID == s.cs[0].ID {
		return 2, 1, 0, nil
	}
	return 0, 0, 0, nil
}

// Records staff know which case has follow-ups (the followup.set audit
// entry names it): among cases alike on every other quasi-identifier, the
// one row with follow-up cells would be that case. Whether the cells are
// released is grouped on, so no row stands out by them.
func TestFollowUpsDoNotSingleOutARow(t *testing.T) {
	opened := time.Now().Add(-48 * time.Hour).UTC()
	src := fourAlike{}
	for _, id := range []string{"c_one", "c_two", "c_three", "c_four"} {
		src.cs = append(src.cs, &cases.Case{ID: id, Type: "family", Created: opened})
	}
	var out bytes.Buffer
	rep, err := Run(context.Background(), src, &out, Options{To: time.Now().Add(time.Hour), K: 4})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || rep.Suppressed != 0 {
		t.Fatalf("rows %d, suppressed %d: want the 4 cases", len(recs)-1, rep.Suppressed)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	for _, rec := range recs[1:] {
		for _, c := range []string{"followup_honoured", "followup_partly", "followup_not"} {
			if rec[col[c]] != "" {
				t.Fatalf("a row of the group of 4 has %s=%q: it is the case with follow-ups", c, rec[col[c]])
			}
		}
	}
	if rep.Generalized["followups:any"] == 0 {
		t.Fatalf("generalized %v: followups:any not reported", rep.Generalized)
	}
}
