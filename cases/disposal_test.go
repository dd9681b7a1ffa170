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

	got, err := e.svc.BeginDisposal(t.Context(), c.ID, "p_test")
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
	if again, err := e.svc.BeginDisposal(t.Context(), c.ID, "p_test"); err != nil || !again.Disposing.Equal(*got.Disposing) {
		t.Fatalf("fencing again: %v; want the first fence kept", err)
	}
	if err := e.svc.EndDisposal(t.Context(), c.ID, "p_test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddObjective(t.Context(), med, c.ID, KindObjective, "agree on repairs"); err != nil {
		t.Fatalf("a change after EndDisposal: %v", err)
	}
}

// A fence names its plan: another plan neither takes it over
// (ErrDisposalUnderWay, 409), pauses it nor lifts it; the plan that set
// it does; a pause stays through a later plan's fence and its end.
func TestDisposalFenceIsItsPlans(t *testing.T) {
	e, _, _ := outboxEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	fenced := func(want string) {
		t.Helper()
		got, err := e.svc.reload(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if (got.Disposing != nil) != (want != "") || got.DisposingPlan != want {
			t.Fatalf("disposing %v by %q, want fenced by %q", got.Disposing, got.DisposingPlan, want)
		}
	}
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_one"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_two"); !errors.Is(err, ErrDisposalUnderWay) || !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("another plan's BeginDisposal: %v, want ErrDisposalUnderWay", err)
	}
	if err := e.svc.EndDisposal(ctx, c.ID, "p_two"); err != nil {
		t.Fatal(err)
	}
	if paused, err := e.svc.PauseDisposal(ctx, c.ID, "p_two"); err != nil || paused {
		t.Fatalf("another plan's PauseDisposal: %v %v, want left alone", paused, err)
	}
	fenced("p_one")
	if paused, err := e.svc.PauseDisposal(ctx, c.ID, "p_one"); err != nil || !paused {
		t.Fatalf("its own plan's PauseDisposal: %v %v", paused, err)
	}
	fenced("")
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_two"); err != nil {
		t.Fatal(err)
	}
	fenced("p_two")
	if err := e.svc.EndDisposal(ctx, c.ID, "p_two"); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.reload(ctx, c.ID)
	if err != nil || got.Disposing != nil || got.DisposalPaused == nil {
		t.Fatalf("after a later plan fenced and kept the paused case: %v disposing %v paused %v, want unfenced, still paused", err, got.Disposing, got.DisposalPaused)
	}
}

// CheckFence says whether a case is fenced for disposal (or gone),
// following the fence as it is set, lifted, paused and set again, and an
// unchanged record gives back what the last call saw.
func TestCheckFence(t *testing.T) {
	e, _, _ := outboxEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	var seen FenceSeen
	step := func(what string, want bool) {
		t.Helper()
		got, err := e.svc.CheckFence(ctx, c.ID, seen)
		if err != nil || got.Fenced != want {
			t.Fatalf("%s: fenced %v (%v), want %v", what, got.Fenced, err, want)
		}
		again, err := e.svc.CheckFence(ctx, c.ID, got)
		if err != nil || again != got {
			t.Fatalf("%s, unchanged: %+v (%v), want %+v", what, again, err, got)
		}
		seen = got
	}
	step("a new case", false)
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_test"); err != nil {
		t.Fatal(err)
	}
	step("fenced", true)
	if err := e.svc.EndDisposal(ctx, c.ID, "p_test"); err != nil {
		t.Fatal(err)
	}
	step("lifted", false)
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "p_test"); err != nil {
		t.Fatal(err)
	}
	step("fenced again", true)
	if _, err := e.svc.PauseDisposal(ctx, c.ID, "p_test"); err != nil {
		t.Fatal(err)
	}
	step("paused", false)
	if got, err := e.svc.CheckFence(ctx, "c_"+"nosuchcaseatall", FenceSeen{}); err != nil || !got.Fenced {
		t.Fatalf("a case that is not there: %+v %v, want fenced (gone)", got, err)
	}
}
