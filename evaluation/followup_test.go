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
// answer, or none) are not released.
func TestExportCountsFollowUps(t *testing.T) {
	svc, _ := seed(t, 30, t.TempDir())
	for _, tc := range []struct {
		src  Source
		want [3]string
	}{{withCheckIns{svc}, [3]string{"3-4", "1", "5+"}}, {oneCheckIn{svc}, [3]string{"", "", ""}}, {svc, [3]string{"", "", ""}}} {
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
			if got != tc.want {
				t.Fatalf("follow-up cells %v, want %v", got, tc.want)
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
