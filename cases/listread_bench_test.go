package cases

import (
	"fmt"
	"testing"

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
// the service (created, a party joined, another invited by address,
// moved to the opening stage is not needed), the rest copies of it.
func listBenchProgram(t testing.TB, e *env, med account.Account, n int) {
	t.Helper()
	c := e.newCase(t, med, "Flat 1")
	e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", "pat@example.test")
	e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam", Email: "sam@example.test"})
	stored, err := e.svc.reload(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.copyCases(t, stored, n-1)
}

// BenchmarkCaseList: a mediator's case list (GET /api/v1/cases) in a
// program of 1,000 and 2,000 cases they hold, on the directory store
// ("dir") and the test MinIO ("s3", skipped without it:
// scripts/services.sh), where each read is a round trip.
func BenchmarkCaseList(b *testing.B) {
	dir := func(testing.TB) func(objstore.Store) objstore.Store { return nil }
	s3 := func(b testing.TB) func(objstore.Store) objstore.Store {
		s3, err := objstore.OpenS3(b.Context(), testenv.S3(b))
		if err != nil {
			b.Fatal(err)
		}
		return func(objstore.Store) objstore.Store { return s3 }
	}
	for _, store := range []struct {
		name  string
		store func(testing.TB) func(objstore.Store) objstore.Store
	}{{"dir", dir}, {"s3", s3}} {
		for _, n := range []int{1000, 2000} {
			b.Run(fmt.Sprintf("%s/%d", store.name, n), func(b *testing.B) {
				e := newEnvWith(b, store.store(b))
				med := staff(policy.RoleMediator, "Mia")
				listBenchProgram(b, e, med, n)
				for b.Loop() {
					list, err := e.svc.List(b.Context(), med)
					if err != nil || len(list) != n {
						b.Fatalf("%d cases listed, %v; want %d", len(list), err, n)
					}
				}
			})
		}
	}
}
