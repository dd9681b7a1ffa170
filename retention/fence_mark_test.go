package retention

import (
	"errors"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// A case's fence marker (cases/fencemarks.go) does not outlive it for
// long: the disposal, after the case record, deletes every stored version
// of it and writes it anew (for the watches: the case is gone), a node
// dying between the two leaving it to the rerun; ClearStaleFences then
// deletes every version once cases.GoneFenceAge old.
// A case kept (a hold met after the fence) has its marker deleted with
// the lift.
func TestFenceMarkGoesWithTheCase(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		for _, class := range policy.CaseClasses() {
			if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
				t.Fatal(err)
			}
		}
		tc := e.newCase(t, nil)
		p := e.planClosed(t, tc)
		marked := func() bool {
			t.Helper()
			found := false
			if err := e.cases.FenceMarks(ctx, func(id, _ string) { found = found || id == tc.id }); err != nil {
				t.Fatal(err)
			}
			return found
		}
		crashed := false
		e.ret.hook = func(step string) error {
			if step == "case-record-deleted" && !crashed {
				crashed = true
				return errors.New("injected crash")
			}
			return nil
		}
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err == nil || !crashed {
			t.Fatalf("want the injected crash: %v", err)
		}
		e.ret.hook = nil
		if !marked() {
			t.Fatal("no fence marker after a crash between the case record's deletion and the marker's")
		}
		fenceMark, err := store.Stat(ctx, cases.FenceMarkKey(tc.id))
		if err != nil {
			t.Fatal(err)
		}
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("apply again: %v %+v", err, pr)
		}
		// Written anew once the record is gone: one version, not the
		// fence's, so a watch that never listed the fence's sees one.
		vs, err := store.Versions(ctx, cases.FenceMarkKey(tc.id))
		if err != nil {
			t.Fatalf("no fence marker of a destroyed case: %v", err)
		}
		if len(vs) != 1 || vs[0].DeleteMarker || vs[0].ETag == fenceMark.ETag {
			t.Fatalf("versions of a destroyed case's fence marker: %+v, want one written anew (the fence's was %s)", vs, fenceMark.ETag)
		}
		// And deleted, every version, once cases.GoneFenceAge old.
		if _, err := e.cases.ClearStaleFences(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if marked() {
			t.Fatal("the fence marker of a destroyed case is left by ClearStaleFences")
		}
		vs, err = store.Versions(ctx, cases.FenceMarkKey(tc.id))
		if err != nil && !errors.Is(err, objstore.ErrNotFound) {
			t.Fatal(err)
		}
		if len(vs) != 0 {
			t.Fatalf("%d stored versions of a destroyed case's fence marker left", len(vs))
		}

		// Kept: a hold placed after the fence lifts it, and its marker.
		kept := e.newCase(t, nil)
		p2 := e.planClosed(t, kept)
		e.ret.hook = func(step string) error {
			if step == "case-journal" {
				return errors.New("injected crash")
			}
			return nil
		}
		if _, err := e.ret.ApplyAll(ctx, e.records, p2.ID, nil); err == nil {
			t.Fatal("want the injected crash")
		}
		e.ret.hook = nil
		found := false
		if err := e.cases.FenceMarks(ctx, func(id, _ string) { found = found || id == kept.id }); err != nil || !found {
			t.Fatalf("no fence marker of a fenced case: %v", err)
		}
		if _, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: kept.id, Reason: "Court order", Authority: "Order 7"}); err != nil {
			t.Fatal(err)
		}
		if pr, err := e.ret.ApplyAll(ctx, e.records, p2.ID, nil); err != nil || !pr.Done {
			t.Fatalf("apply again: %v %+v", err, pr)
		}
		found = false
		if err := e.cases.FenceMarks(ctx, func(id, _ string) { found = found || id == kept.id }); err != nil || found {
			t.Fatalf("the fence marker of a case kept is left (%v)", err)
		}
	})
}
