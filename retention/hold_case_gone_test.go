package retention

import (
	"errors"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// A case hold whose placement read the case just before a disposal
// deleted the case record, and went on once the disposal had finished
// (review 2, HIGH): the hold's record was written and put under a storage
// (legal) hold before the case record was found gone, so a held record of
// a case certified destroyed survived it, under a storage hold nothing
// could release (ReleaseHold answers "case not found"), with its
// hold.placed entry uncorrected, and the caller told the hold was not
// placed. Now the case record is checked (and held) first, and a gone
// one undoes the placement: the hold's record is deleted, every version,
// hold.place.failed follows hold.placed, and the caller gets a plain 410.
// On real MinIO (real legal holds).
func TestHoldPlacedAfterDisposalLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := minioStore(t)
	e := dueWorld(t, store)
	tc := e.newCase(t, nil)
	p := e.planClosed(t, tc)

	loaded := make(chan struct{})
	goOn := make(chan struct{})
	var goOnce sync.Once
	release := func() { goOnce.Do(func() { close(goOn) }) }
	e.ret.placeLoaded = func() { close(loaded); <-goOn }
	type result struct {
		h   Hold
		err error
	}
	done := make(chan result, 1)
	var wg sync.WaitGroup
	t.Cleanup(func() { release(); wg.Wait() }) // the placement is this test's
	e.ret.hook = func(step string) error {
		if step == "accounts" { // the case record's own deletion is next
			e.ret.hook = nil
			wg.Add(1)
			go func() {
				defer wg.Done()
				h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Subpoena 2026-12", Authority: "Court order 7"})
				done <- result{h, err}
			}()
			<-loaded // the case was read (LoadFor) before its record goes
		}
		return nil
	}
	o, _ := e.applyCollect(t, p.ID, tc.id)
	if o.Result != OutcomeDestroyed {
		t.Fatalf("the case record's outcome %+v: want destroyed (the hold came after)", o)
	}
	if _, err := e.cases.Load(ctx, tc.id); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("the case record after the apply: %v, want gone", err)
	}
	placedFrom := e.log.Size()
	release()
	r := <-done

	if !errors.Is(r.err, fault.ErrGone) || r.h.ID != "" {
		t.Fatalf("placing the hold on a case disposed of meanwhile: %+v %v, want ErrGone and no hold", r.h, r.err)
	}
	var left []string
	if err := store.VersionsUnder(ctx, holdPrefix(tc.id), func(v objstore.Version) error {
		held, _ := store.LegalHold(ctx, v.Key, v.VersionID)
		left = append(left, v.Key+"@"+v.VersionID+map[bool]string{true: " held", false: ""}[held])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("left under the case's hold prefix after the case was certified destroyed: %v", left)
	}
	if vs, err := store.Versions(ctx, cases.RecordKey(tc.id)); err != nil && !errors.Is(err, objstore.ErrNotFound) || len(vs) != 0 {
		t.Fatalf("the case record's versions: %d %v, want none", len(vs), err)
	}
	if hs, err := e.ret.Holds(ctx, e.records, tc.id, true); err != nil || len(hs) != 0 {
		t.Fatalf("holds of the case: %+v %v, want none", hs, err)
	}

	// hold.placed, and after it its correction, naming the same op.
	var placed *audit.Event
	corrected := false
	for i := placedFrom; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Case != tc.id {
			continue
		}
		switch ev.Type {
		case "hold.placed":
			placed = &ev
		case "hold.place.failed":
			if placed == nil {
				t.Fatalf("hold.place.failed at %d before hold.placed", i)
			}
			if ev.Attrs[audit.OpAttr] != placed.Attrs[audit.OpAttr] || ev.Attrs["cause"] != "gone" || len(ev.Objects) == 0 || ev.Objects[0] != placed.Objects[0] {
				t.Fatalf("correction %+v does not name hold.placed %+v (cause gone)", ev, *placed)
			}
			corrected = true
		}
	}
	if placed == nil || !corrected {
		t.Fatalf("after the disposal: hold.placed %v, its correction %v; want both", placed != nil, corrected)
	}
	if want := "this case was disposed of while the hold was being placed; nothing is held: " + fault.ErrGone.Error(); r.err.Error() != want {
		t.Fatalf("the caller is told %q, want %q", r.err, want)
	}
}
