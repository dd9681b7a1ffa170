package evaluation

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
)

// A case whose disposal stopped part way (paused at a storage hold:
// Case.DisposalPaused) keeps its record and already has its statistical
// stub. The export counted it twice, from the case and from the stub; now
// a stub of a case still stored is not counted, and a stub of a case that
// is gone still is.
func TestExportCountsPausedCaseOnce(t *testing.T) {
	ctx := context.Background()
	svc, _ := seed(t, 12, t.TempDir())
	var paused *cases.Case
	if err := svc.All(ctx, func(c *cases.Case) error {
		if paused == nil {
			paused = c
		}
		return nil
	}); err != nil || paused == nil {
		t.Fatalf("no case: %v", err)
	}
	// What retention does before a disposal that then pauses: the stub is
	// stored, the case record stays.
	resps, err := svc.SurveyResponses(ctx, paused.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SaveStub(ctx, MakeStub(paused, resps, time.Now())); err != nil {
		t.Fatal(err)
	}
	// And a case disposed of for good: only its stub is left.
	gone := *paused
	gone.ID = ids.New("c")
	if err := svc.SaveStub(ctx, MakeStub(&gone, resps, time.Now())); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := Run(ctx, svc, &out, Options{To: time.Now().Add(time.Hour), K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CasesInRange != 13 || rep.Stubs != 1 || rep.Rows+rep.Suppressed != 13 {
		t.Fatalf("report %+v: want 13 cases in range (12 stored, the paused one once, and 1 disposed of, counted from its stub)", rep)
	}
}
