package cases

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// fenceOnSurvey runs fence just before the first survey answer reaches
// the store; with cut, that write lands but reports
// context.DeadlineExceeded (cut short).
type fenceOnSurvey struct {
	objstore.Store
	once  sync.Once
	fence func(context.Context)
	cut   bool
}

func (f *fenceOnSurvey) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	first := false
	if strings.HasPrefix(key, "surveys/responses/") && f.fence != nil {
		f.once.Do(func() { first = true; f.fence(ctx) })
	}
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if first && f.cut && err == nil {
		return objstore.Info{}, context.DeadlineExceeded
	}
	return info, err
}

// surveyVersions counts every stored version under surveys/responses/.
func surveyVersions(t *testing.T, store objstore.Store) int {
	t.Helper()
	n := 0
	if err := store.VersionsUnder(t.Context(), "surveys/responses/", func(objstore.Version) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// A survey answer to a case fenced for disposal is refused and stores
// nothing; one the fence overtook (landed, or cut short) is taken back,
// and its link given back, so that once the fence is lifted (the case
// kept) the same link answers. Before, SubmitSurvey looked at no fence:
// the answer stayed under the disposed case's id.
func TestSurveyRefusedAndTakenBackForACaseBeingDisposedOf(t *testing.T) {
	was := lateSurveyWait
	lateSurveyWait = 10 * time.Millisecond
	t.Cleanup(func() { lateSurveyWait = was })
	for _, tc := range []struct {
		name         string
		before, race bool
		cut          bool
	}{
		{name: "fenced before", before: true},
		{name: "fence lands meanwhile", race: true},
		{name: "fence lands meanwhile, write cut short", race: true, cut: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &fenceOnSurvey{cut: tc.cut}
			var store objstore.Store
			e := newEnvWith(t, func(s objstore.Store) objstore.Store { fs.Store = s; store = s; return fs })
			ctx := t.Context()
			m := staff(policy.RoleMediator, "Morgan Reyes")
			c := e.newCase(t, m, "Deposit dispute")
			e.join(t, m, c.ID, RoleParty, "A", "Alex Tenant")
			e.join(t, m, c.ID, RoleParty, "B", "Blair Landlord")
			if _, err := e.svc.SetStage(ctx, m, c.ID, StageClosure, ""); err != nil {
				t.Fatal(err)
			}
			_, links, err := e.svc.RecordOutcome(ctx, m, c.ID, FullAgreement, 2, 3)
			if err != nil {
				t.Fatal(err)
			}
			fence := func(ctx context.Context) {
				if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_test"); err != nil {
					t.Error(err)
				}
			}
			if tc.before {
				fence(ctx)
			}
			if tc.race {
				fs.fence = fence
			}
			if err := e.svc.SubmitSurvey(ctx, links[0].Token, surveyScores(), "fair"); !errors.Is(err, fault.ErrGone) {
				t.Fatalf("survey answer to a case fenced for disposal: %v, want gone (410)", err)
			}
			if n := surveyVersions(t, store); n != 0 {
				t.Fatalf("%d stored versions under surveys/responses/ of a fenced case", n)
			}
			if err := e.svc.EndDisposal(ctx, c.ID, "p_test"); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.SubmitSurvey(ctx, links[0].Token, surveyScores(), "fair"); err != nil {
				t.Fatalf("the link once the fence was lifted: %v", err)
			}
		})
	}
}
