package vault

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// A case retention is disposing of (fenced by cases.BeginDisposal) takes
// no new document and no new version: either would go with the case
// without vault.Dispose.
func TestFencedCaseTakesNoUpload(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		d := e.upload(t, med, k.caseID, "before.pdf", k.audience(t, "joint"), ClassEvidence, []byte("before"))
		if _, err := e.cases.BeginDisposal(ctx, k.caseID, "p_test"); err != nil {
			t.Fatal(err)
		}
		_, err := e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "late.pdf", MediaType: "application/pdf",
			Audience: k.audience(t, "joint"), Class: ClassEvidence}, bytes.NewReader([]byte("late")))
		if !errors.Is(err, cases.ErrNothingAdded) || !errors.Is(err, fault.ErrGone) {
			t.Fatalf("upload to a fenced case: %v", err)
		}
		_, err = e.vault.AddVersion(ctx, med, k.caseID, d.ID, NewVersion{}, bytes.NewReader([]byte("v2")))
		if !errors.Is(err, cases.ErrNothingAdded) {
			t.Fatalf("new version in a fenced case: %v", err)
		}
		if !strings.Contains(err.Error(), "nothing can be added") {
			t.Fatalf("refusal reads %q", err)
		}
		if err := e.cases.EndDisposal(ctx, k.caseID, "p_test"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.AddVersion(ctx, med, k.caseID, d.ID, NewVersion{}, bytes.NewReader([]byte("v2"))); err != nil {
			t.Fatalf("after the fence is lifted: %v", err)
		}
	})
}
