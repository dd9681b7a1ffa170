package client

import (
	"slices"
	"testing"

	"github.com/parley-mediation/parley/e2ee"
)

// TestNewMediatorsNeedAdmission: which mediators of the case record a
// statement keeps without a person's confirmation. A mediator of the
// latest statement stays; one the record adds, one coming back after a
// recusal (absent from the latest statement) and, for a case's first
// statement, anyone but the signer wait, unless being admitted. Parties
// and removals are untouched.
func TestNewMediatorsNeedAdmission(t *testing.T) {
	t.Parallel()
	med := func(a string) e2ee.Person { return e2ee.Person{Account: a, Role: e2ee.RoleMediator} }
	party := e2ee.Person{Account: "pa", Role: "party", Side: "A"}
	record := []e2ee.Person{med("m1"), med("back"), med("new"), party}
	latest := e2ee.StatementFor("c", []e2ee.Person{med("m1"), party}, []string{"A"}, map[string]int64{"joint": 2})
	accounts := func(ps []e2ee.Person) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Account)
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		latest       *e2ee.Statement
		signer       string
		admit        string
		kept, waitIn []string
	}{
		{"later statement", latest, "m1", "", []string{"m1", "pa"}, []string{"back", "new"}},
		{"admitting one", latest, "m1", "new", []string{"m1", "new", "pa"}, []string{"back"}},
		{"first statement", nil, "m1", "", []string{"m1", "pa"}, []string{"back", "new"}},
		{"a newcomer signing", latest, "new", "", []string{"m1", "pa"}, []string{"back", "new"}},
	} {
		kept, pending := newMediators(tc.latest, record, tc.signer, tc.admit)
		if !slices.Equal(accounts(kept), tc.kept) || !slices.Equal(pending, tc.waitIn) {
			t.Errorf("%s: kept %v, pending %v; want %v, %v", tc.name, accounts(kept), pending, tc.kept, tc.waitIn)
		}
	}
}
