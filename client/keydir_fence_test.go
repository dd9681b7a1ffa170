package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/objstore"
)

// TestFencedCaseTakesNoKeyDirectoryRecord: once retention has fenced a
// case (cases.BeginDisposal), its key directory takes no new membership
// statement and no device admission — 410, the problem type of every
// other change to a fenced case — and nothing is stored under the case's
// statements (MinIO, versioned: every version counted).
func TestFencedCaseTakesNoKeyDirectoryRecord(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Scale(t))
	tc := seedE2EE(t, n)
	ctx := context.Background()
	// A participant's new device, waiting for a mediator's admission.
	fresh := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMXWing)
	if err := fresh.Register(ctx); err != nil {
		t.Fatal(err)
	}
	// The mediator's first statement, signed before the fence.
	k, err := tc.med.c.Case(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	var sides []string
	for _, s := range k.Sides {
		sides = append(sides, s.ID)
	}
	people := []e2ee.Person{{Account: tc.med.id, Role: e2ee.RoleMediator}}
	for _, p := range k.Participants {
		people = append(people, e2ee.Person{Account: p.AccountID, Role: string(p.Role), Side: p.Side})
	}
	st := e2ee.StatementFor(tc.caseID, people, sides, map[string]int64{})
	st.Seq = 1
	raw, err := st.Sign(tc.med.x.Me)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := n.Cases.BeginDisposal(ctx, tc.caseID, "p_test"); err != nil {
		t.Fatal(err)
	}
	gone := func(what string, err error) {
		t.Helper()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusGone || ce.Problem.Type != api.ProblemTypeBase+string(api.ProblemGone) {
			t.Fatalf("%s in a fenced case: %v, want 410 %s", what, err, api.ProblemGone)
		}
	}
	var v any
	gone("a membership statement", tc.med.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/e2ee/statements", api.RecordRequest{Record: raw}, &v))
	gone("a device admission", tc.med.x.AdmitDevice(ctx, tc.caseID, tc.a.id, fresh.Me.ID))
	var left []string
	if err := n.Store.VersionsUnder(ctx, "keydir/statements/"+tc.caseID+"/", func(v objstore.Version) error {
		left = append(left, v.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := n.Store.VersionsUnder(ctx, "keydir/endorsements/"+tc.a.id+"/"+fresh.Me.ID+"/", func(v objstore.Version) error {
		left = append(left, v.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("stored in a fenced case's key directory: %v", left)
	}
	// Reading the chain still works (nothing was added to it).
	if err := tc.med.c.Do(ctx, http.MethodGet, "/api/v1/cases/"+tc.caseID+"/e2ee/statements", nil, &v); err != nil {
		t.Fatalf("reading a fenced case's statements: %v", err)
	}
}
