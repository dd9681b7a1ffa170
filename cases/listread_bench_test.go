package cases

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// copyCases stores n cases more like tmpl (its record re-sealed under a
// new id each): a program of many cases without paying for n Creates,
// joins and audit appends. They count for the case list as any case
// does (the list reads records; it does not check how they came to be).
func (e *env) copyCases(t testing.TB, tmpl *Case, n int) {
	t.Helper()
	for range n {
		c := *tmpl
		c.ID = ids.New("c")
		if _, err := e.meta.Create(t.Context(), caseKey(c.ID), c); err != nil {
			t.Fatal(err)
		}
	}
}

// listBenchProgram is a program of n cases held by med: one made through
// the service (created, a party joined, another invited by address),
// the rest copies of it. It returns the first's id.
func listBenchProgram(t testing.TB, e *env, med account.Account, n int) string {
	t.Helper()
	c := e.newCase(t, med, "Flat 1")
	e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", "pat@example.test")
	e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam", Email: "sam@example.test"})
	stored, err := e.svc.reload(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.copyCases(t, stored, n-1)
	return c.ID
}

// lateReads is a store whose reads of case records each wait late first.
type lateReads struct {
	objstore.Store
	late time.Duration
}

func (l lateReads) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if strings.HasPrefix(key, "cases/") {
		time.Sleep(l.late)
	}
	return l.Store.Get(ctx, key, opts)
}

// BenchmarkCaseList: a mediator's case list (GET /api/v1/cases) in a
// program of 1,000 and 2,000 cases they hold, on the directory store
// ("dir") and the test MinIO ("s3", skipped without it:
// scripts/services.sh), where each read is a round trip, and "far" (the
// directory store with each case record read 10 ms late): "cold", the
// node's first list (every record read), and "warm", a list of records
// unchanged since the node's last (caseListCache: none read).
func BenchmarkCaseList(b *testing.B) {
	dir := func(testing.TB) func(objstore.Store) objstore.Store { return nil }
	s3 := func(b testing.TB) func(objstore.Store) objstore.Store {
		s3, err := objstore.OpenS3(b.Context(), testenv.S3(b))
		if err != nil {
			b.Fatal(err)
		}
		return func(objstore.Store) objstore.Store { return s3 }
	}
	// "far": the directory store with every read of a case record 10 ms
	// late, as a round trip to a remote S3 is (MinIO here shares the
	// benchmark's CPU, so its reads are bound by that, not by waiting).
	far := func(testing.TB) func(objstore.Store) objstore.Store {
		return func(s objstore.Store) objstore.Store { return lateReads{s, 10 * time.Millisecond} }
	}
	for _, store := range []struct {
		name  string
		store func(testing.TB) func(objstore.Store) objstore.Store
	}{{"dir", dir}, {"s3", s3}, {"far", far}} {
		for _, n := range []int{1000, 2000} {
			b.Run(fmt.Sprintf("%s/%d", store.name, n), func(b *testing.B) {
				e := newEnvWith(b, store.store(b))
				med := staff(policy.RoleMediator, "Mia")
				tmpl := listBenchProgram(b, e, med, n)
				info, err := e.meta.Objects().Stat(b.Context(), caseKey(tmpl))
				if err != nil {
					b.Fatal(err)
				}
				for _, run := range []struct {
					name string
					cold bool
				}{{"cold", true}, {"warm", false}} {
					b.Run(run.name, func(b *testing.B) {
						for b.Loop() {
							if run.cold {
								b.StopTimer()
								e.svc.forgetListed()
								b.StartTimer()
							}
							list, err := e.svc.List(b.Context(), med)
							if err != nil || len(list) != n {
								b.Fatalf("%d cases listed, %v; want %d", len(list), err, n)
							}
						}
						b.ReportMetric(float64(info.Size), "B/record")
					})
				}
			})
		}
	}
}
