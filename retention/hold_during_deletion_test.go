package retention

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// storageHeld reports, for every stored version of key that is not a
// delete marker, whether it is under a storage (legal) hold; it fails
// the test if key has no such version.
func storageHeld(t *testing.T, store objstore.Store, key string) []bool {
	t.Helper()
	vs, err := store.Versions(t.Context(), key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var out []bool
	for _, v := range vs {
		if v.DeleteMarker {
			continue
		}
		held, err := store.LegalHold(t.Context(), key, v.VersionID)
		if err != nil {
			t.Fatalf("%s@%s: %v", key, v.VersionID, err)
		}
		out = append(out, held)
	}
	if len(out) == 0 {
		t.Fatalf("no stored version of %s", key)
	}
	return out
}

// minioStore opens the test MinIO (real object-lock legal holds).
func minioStore(t *testing.T) objstore.Store {
	t.Helper()
	store, err := objstore.OpenS3(t.Context(), testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func all(bs []bool, want bool) bool {
	for _, b := range bs {
		if b != want {
			return false
		}
	}
	return true
}

// A legal hold placed through Parley while a case record is being deleted
// (the case fenced, its destruction audited, its participants' accounts
// gone; its records not yet deleted) put no storage hold on the case
// record's own versions, nor on the hold's own record: the apply, which
// had read the holds before, deleted them all, the new hold's record with
// them, and certified the case destroyed. Now a case hold sets the
// storage (object-lock legal) hold on every stored version of the case
// record, of its own record and of the vault's case-hold record, so the
// bucket refuses their deletion and the disposal pauses (outcome held,
// "storage hold"), with the hold standing; released, the storage holds
// go and the next plan finishes. On real MinIO.
func TestHoldPlacedDuringCaseRecordDeletion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := minioStore(t)
	e := dueWorld(t, store)
	tc := e.newCase(t, nil)
	p := e.planClosed(t, tc)
	var h Hold
	var placeErr error
	placed := map[string][]bool{} // key → storage holds of its versions, once the hold is placed
	e.ret.hook = func(step string) error {
		if step == "accounts" { // the case record's own deletion is next
			e.ret.hook = nil
			h, placeErr = e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Subpoena 2026-11", Authority: "Court order 12"})
			if placeErr == nil {
				for _, key := range []string{cases.RecordKey(tc.id), holdKey(tc.id, h.ID)} {
					placed[key] = storageHeld(t, store, key)
				}
			}
		}
		return nil
	}
	o, _ := e.applyCollect(t, p.ID, tc.id)
	if placeErr != nil {
		t.Fatalf("placing a hold on the case while its record was being deleted: %v", placeErr)
	}
	for key, held := range placed {
		if !all(held, true) {
			t.Fatalf("%s once the hold was placed: storage holds %v, want every version held", key, held)
		}
	}
	if o.Result != OutcomeHeld || len(o.Held) != 1 || o.Held[0] != "storage hold" {
		t.Fatalf("the case record's outcome %+v: want held by the storage hold the new legal hold set", o)
	}
	c, err := e.cases.Load(ctx, tc.id)
	if err != nil {
		t.Fatalf("the case record went despite the legal hold placed during its deletion: %v", err)
	}
	if c.Disposing != nil || c.DisposalPaused == nil {
		t.Fatalf("case disposing=%v paused=%v: want the disposal paused", c.Disposing, c.DisposalPaused)
	}
	holds, err := e.ret.Holds(ctx, e.records, tc.id, false)
	if err != nil || len(holds) != 1 || holds[0].ID != h.ID {
		t.Fatalf("active holds %+v %v: want the hold placed during the deletion", holds, err)
	}
	for key, before := range placed {
		// The versions held then are still there (the pause wrote a new
		// version of the case record since, not held: the hold's record
		// keeps the case out of every plan while it stands).
		if held := storageHeld(t, store, key); len(held) < len(before) || !all(held[len(held)-len(before):], true) {
			t.Fatalf("%s after the apply: storage holds %v, want the %d versions held at placement still there and held", key, held, len(before))
		}
	}
	if held, err := e.vault.CaseHeld(ctx, tc.id); err != nil || !held {
		t.Fatalf("the vault's case hold: %v %v, want held", held, err)
	}

	// Released, the storage holds go, and the next plan finishes.
	if _, err := e.ret.ReleaseHold(ctx, e.records, tc.id, h.ID, "Subpoena answered"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{cases.RecordKey(tc.id), holdKey(tc.id, h.ID)} {
		if held := storageHeld(t, store, key); !all(held, false) {
			t.Fatalf("%s after the release: storage holds %v, want none", key, held)
		}
	}
	e.clock = e.clock.Add(time.Hour)
	p2 := e.planApproved(t)
	if o, _ := e.applyCollect(t, p2.ID, tc.id); o.Result != OutcomeDestroyed {
		t.Fatalf("the next plan's outcome %+v, want destroyed", o)
	}
	if _, err := e.cases.Load(ctx, tc.id); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("the case record is still there after the next plan: %v", err)
	}
	prefixes, keys := classPlaces(policy.ClassCaseRecord, tc.id, &inventory{})
	if vs, err := e.ret.storedVersions(ctx, prefixes, keys); err != nil || len(vs) != 0 {
		t.Fatalf("%d versions of the case record's places left after the next plan: %v", len(vs), err)
	}
}
