package cases

import (
	"errors"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// BeginDisposal fences a case: every event pending in it is appended (a
// young one too: no request will change the case again, and a duplicate
// is allowed, a gap never), every change after it is refused
// (ErrDisposing, 410), reads work; EndDisposal lifts it.
func TestDisposalFenceRefusesChanges(t *testing.T) {
	e, fo, _ := outboxEnv(t)
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	before := e.log.Size()
	fo.down.Store(true)
	if _, err := e.svc.Disclose(t.Context(), med, c.ID, "I once worked with Lee"); err != nil {
		t.Fatal(err)
	}
	fo.down.Store(false)

	got, err := e.svc.BeginDisposal(t.Context(), c.ID)
	if err != nil || got.Disposing == nil || len(got.Unaudited) != 0 {
		t.Fatalf("BeginDisposal: %v, disposing %v, %d pending; want fenced and emptied", err, got.Disposing, len(got.Unaudited))
	}
	if n := count(e.entryTypes(t, before), "case.disclosure"); n != 1 {
		t.Fatalf("%d case.disclosure entries after BeginDisposal, want 1", n)
	}
	if _, err := e.svc.AddObjective(t.Context(), med, c.ID, KindObjective, "agree on repairs"); !errors.Is(err, ErrDisposing) || !errors.Is(err, fault.ErrGone) {
		t.Fatalf("a change of a fenced case: %v, want ErrDisposing (gone)", err)
	}
	if _, err := e.svc.Get(t.Context(), med, c.ID); err != nil {
		t.Fatalf("reading a fenced case: %v", err)
	}
	if again, err := e.svc.BeginDisposal(t.Context(), c.ID); err != nil || !again.Disposing.Equal(*got.Disposing) {
		t.Fatalf("fencing again: %v; want the first fence kept", err)
	}
	if err := e.svc.EndDisposal(t.Context(), c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddObjective(t.Context(), med, c.ID, KindObjective, "agree on repairs"); err != nil {
		t.Fatalf("a change after EndDisposal: %v", err)
	}
}
