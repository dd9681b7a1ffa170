package cases

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/policy"
)

// TestCaseReference: a reference is checked and normalized, unique in the
// program ignoring case, and records staff see it in the case list (never
// the title); a claim left by a case that was never stored is taken over
// once its grace has passed.
func TestCaseReference(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Morgan Reyes")
	rec := staff(policy.RoleRecords, "Rita Records")
	create := func(title, ref string) (*Case, error) {
		return e.svc.Create(ctx, med, NewCase{Title: title, Type: "family", SideLabels: []string{"A", "B"}, Reference: ref})
	}
	for _, bad := range []string{"-2026", "2026-CV-0142-", "2026  CV", "2026<CV>", "Ä-1", strings.Repeat("1", MaxReferenceLen+1), "   -  "} {
		if _, err := create("Bad", bad); err == nil {
			t.Errorf("reference %q accepted", bad)
		} else if ie, ok := fault.AsInvalid(err); !ok || ie.Field != "reference" {
			t.Errorf("reference %q: %v", bad, err)
		}
	}
	c, err := create("Rivera v. Chen", " 2026-cv-0142 ")
	if err != nil {
		t.Fatal(err)
	}
	if c.Reference != "2026-CV-0142" {
		t.Fatalf("stored reference %q", c.Reference)
	}
	if _, err := create("Someone else", "2026-CV-0142"); err == nil || !strings.Contains(err.Error(), "another case already has the reference 2026-CV-0142") {
		t.Fatalf("duplicate reference: %v", err)
	}
	if _, err := create("Someone else", "2026-Cv-0142"); err == nil {
		t.Fatal("duplicate reference in other letter case accepted")
	}
	if _, err := create("No reference", ""); err != nil {
		t.Fatalf("a case without a reference: %v", err)
	}
	list, err := e.svc.List(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range list {
		if l.ID == c.ID {
			found = true
			if l.Reference != "2026-CV-0142" || l.Title != "" {
				t.Fatalf("records staff see %+v", l)
			}
		}
	}
	if !found {
		t.Fatal("records staff do not list the case")
	}
	// A claim whose case was never stored: respected for a minute, then taken over.
	if err := e.svc.claimReference(ctx, "2026-CV-0999", ids.New("c")); err != nil {
		t.Fatal(err)
	}
	if _, err := create("Too soon", "2026-CV-0999"); err == nil {
		t.Fatal("a claim in flight was taken over")
	}
	e.svc.now = func() time.Time { return time.Now().Add(2 * referenceGrace) }
	if _, err := create("Later", "2026-cv-0999"); err != nil {
		t.Fatalf("an abandoned claim was not taken over: %v", err)
	}
}
