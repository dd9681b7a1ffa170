package cases

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// readCounter counts the reads of case records made through it.
type readCounter struct {
	objstore.Store
	caseGets atomic.Int64
}

func (r *readCounter) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if strings.HasPrefix(key, "cases/") {
		r.caseGets.Add(1)
	}
	return r.Store.Get(ctx, key, opts)
}

// A party's case list reads their own case only, however many cases the
// program holds (before, GET /api/v1/cases read every case record for
// anyone: 2.8 s with 1,001 cases, 5.3 s with 2,001). A participant
// account from before the case was recorded on it still gets its case
// (every record read), and a mediator still sees every case of theirs.
func TestPartyCaseListReadsOneCase(t *testing.T) {
	rc := &readCounter{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { rc.Store = s; return rc })
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	const others = 30
	for range others {
		e.newCase(t, med, "Another")
	}
	mine := e.newCase(t, med, "Flat 12")
	party := e.join(t, med, mine.ID, RoleParty, "A", "Pat")
	if party.CaseID != mine.ID {
		t.Fatalf("the joined account records case %q, want %q", party.CaseID, mine.ID)
	}

	rc.caseGets.Store(0)
	list, err := e.svc.List(ctx, party)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != mine.ID || list[0].Title != "Flat 12" || list[0].Relation != string(RoleParty) {
		t.Fatalf("the party's list: %+v", list)
	}
	if n := rc.caseGets.Load(); n > 2 {
		t.Fatalf("the party's list read %d case objects with %d cases stored, want at most 2", n, others+1)
	}

	// An account from before CaseID: its case is found by reading all.
	old := party
	old.CaseID = ""
	if list, err := e.svc.List(ctx, old); err != nil || len(list) != 1 || list[0].ID != mine.ID {
		t.Fatalf("a participant account without its case recorded: %v %+v", err, list)
	}
	if list, err := e.svc.List(ctx, med); err != nil || len(list) != others+1 {
		t.Fatalf("the mediator's list: %v, %d cases, want %d", err, len(list), others+1)
	}
}
