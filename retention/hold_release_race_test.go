package retention

import (
	"errors"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// heldUnder lists every stored version under prefix that is under a
// storage (legal) hold, as key@version.
func heldUnder(t *testing.T, store objstore.Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := store.VersionsUnder(t.Context(), prefix, func(v objstore.Version) error {
		if v.DeleteMarker {
			return nil
		}
		held, err := store.LegalHold(t.Context(), v.Key, v.VersionID)
		if err != nil {
			return err
		}
		if held {
			out = append(out, v.Key+"@"+v.VersionID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Releasing a case hold listed the case's other holds and then, none
// active, cleared the storage (legal) hold of the case record, the
// vault's case-hold record and the message history: a case hold placed
// between the listing and the clearing set its storage holds and had
// them cleared, so the case stood under an active hold with its case
// record (and its messages) deletable in the bucket (third review, LOW).
// Now the release looks again once it has cleared them, and sets them
// again for a hold that appeared. The placement is forced in between by
// the releaseListed hook. On real MinIO (real legal holds). The setting
// again is audited as hold.restored, naming the hold it restores and
// the released one (review L2: before, only case.hold on=true by the
// person releasing, nothing linking it to the hold restored).
func TestCaseHoldPlacedDuringReleaseStaysOnStorage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := minioStore(t)
	e := newEnv(t, store)
	tc := e.newCase(t, nil)
	first, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Subpoena 2026-21", Authority: "Court order 3"})
	if err != nil {
		t.Fatal(err)
	}
	var second Hold
	var placeErr error
	e.ret.releaseListed = func() {
		e.ret.releaseListed = nil
		second, placeErr = e.ret.PlaceHold(ctx, e.records2, NewHold{Case: tc.id, Reason: "Complaint 2026-04", Authority: "Program rule 9"})
	}
	if _, err := e.ret.ReleaseHold(ctx, e.records, tc.id, first.ID, "Subpoena answered"); err != nil {
		t.Fatal(err)
	}
	if placeErr != nil || second.ID == "" {
		t.Fatalf("the hold placed during the release: %+v %v", second, placeErr)
	}
	if hs, err := e.ret.Holds(ctx, e.records, tc.id, false); err != nil || len(hs) != 1 || hs[0].ID != second.ID {
		t.Fatalf("active holds %+v %v: want the second hold only", hs, err)
	}
	for _, key := range []string{cases.RecordKey(tc.id), vault.CaseHoldKey(tc.id), holdKey(tc.id, second.ID)} {
		if held := storageHeld(t, store, key); !all(held, true) {
			t.Fatalf("%s with a case hold standing: storage holds %v, want every version held", key, held)
		}
	}
	if held, err := e.vault.CaseHeld(ctx, tc.id); err != nil || !held {
		t.Fatalf("the vault's case hold: %v %v, want held", held, err)
	}
	var batches, heldBatches int
	if err := store.VersionsUnder(ctx, caucus.HistoryPrefix(tc.id), func(v objstore.Version) error {
		if v.DeleteMarker {
			return nil
		}
		batches++
		if held, err := store.LegalHold(ctx, v.Key, v.VersionID); err != nil {
			return err
		} else if held {
			heldBatches++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if batches == 0 || heldBatches != batches {
		t.Fatalf("%d of the %d stored message batches held, want all", heldBatches, batches)
	}
	e.wantOneRestored(t, tc.id, restoration{actor: e.records.ID, restores: second.ID, released: first.ID, cause: causeRelease,
		scope: "case", objects: []string{second.ID}})
}

// As for a case hold, so for a document hold: releasing one listed the
// document's other holds and then, none active, released the document in
// the vault; a hold on the same document placed in between was left
// recorded and active with the document released (its record not saying
// held, no storage hold on its versions). Now the release looks again
// and holds the document again (audited as hold.restored naming the
// hold restored and the one released: review L2). Forced by the
// releaseListed hook, on real MinIO.
func TestDocumentHoldPlacedDuringReleaseStaysOnStorage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store, e, tc, doc, first := heldExhibit(t, "Subpoena 2026-23", "Court order 6")
	var second Hold
	var placeErr error
	e.ret.releaseListed = func() {
		e.ret.releaseListed = nil
		second, placeErr = e.ret.PlaceHold(ctx, e.records2, NewHold{Case: tc.id, Doc: doc, Reason: "Complaint 2026-05", Authority: "Program rule 9"})
	}
	if _, err := e.ret.ReleaseHold(ctx, e.records, tc.id, first.ID, "Subpoena answered"); err != nil {
		t.Fatal(err)
	}
	if placeErr != nil || second.ID == "" {
		t.Fatalf("the hold placed during the release: %+v %v", second, placeErr)
	}
	if hs, err := e.ret.Holds(ctx, e.records, tc.id, false); err != nil || len(hs) != 1 || hs[0].ID != second.ID {
		t.Fatalf("active holds %+v %v: want the second hold only", hs, err)
	}
	if d, err := e.vault.Get(ctx, e.records, tc.id, doc); err != nil || !d.Held {
		t.Fatalf("the document with a hold on it standing: %+v %v, want held", d, err)
	}
	for _, key := range []string{docObject(tc.id, doc, 1), versionObject(tc.id, doc, 1), holdKey(tc.id, second.ID)} {
		if held := storageHeld(t, store, key); !all(held, true) {
			t.Fatalf("%s with a document hold standing: storage holds %v, want every version held", key, held)
		}
	}
	e.wantOneRestored(t, tc.id, restoration{actor: e.records.ID, restores: second.ID, released: first.ID, cause: causeRelease,
		scope: "document", objects: []string{second.ID, doc}})
}

// The other order: a document hold placed as another hold on the same
// document is released, the release coming wholly between the vault's
// hold on the document (set before the new hold is recorded) and the new
// hold's record. The release, finding no other hold, released the
// document, and looked again before the new hold was recorded; the new
// hold then stood, recorded and active, with the document released.
// Now a document hold, once recorded, checks that the vault still holds
// the document, and holds it again if not. Forced by the placeStep hook,
// on real MinIO.
func TestDocumentHoldReleasedAsAnotherIsPlacedStaysOnStorage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store, e, tc, doc, first := heldExhibit(t, "Subpoena 2026-24", "Court order 8")
	var releaseErr error
	e.ret.placeStep = func(step string, _ Hold) {
		if step != "doc-held" {
			return
		}
		e.ret.placeStep = nil
		_, releaseErr = e.ret.ReleaseHold(ctx, e.records, tc.id, first.ID, "Subpoena answered")
	}
	second, err := e.ret.PlaceHold(ctx, e.records2, NewHold{Case: tc.id, Doc: doc, Reason: "Complaint 2026-06", Authority: "Program rule 9"})
	if err != nil || releaseErr != nil {
		t.Fatalf("placing the second hold: %+v %v; releasing the first meanwhile: %v", second, err, releaseErr)
	}
	if hs, err := e.ret.Holds(ctx, e.records, tc.id, false); err != nil || len(hs) != 1 || hs[0].ID != second.ID {
		t.Fatalf("active holds %+v %v: want the second hold only", hs, err)
	}
	if d, err := e.vault.Get(ctx, e.records, tc.id, doc); err != nil || !d.Held {
		t.Fatalf("the document with a hold on it standing: held %v (%v), want held", d.Held, err)
	}
	for _, key := range []string{docObject(tc.id, doc, 1), versionObject(tc.id, doc, 1), holdKey(tc.id, second.ID)} {
		if held := storageHeld(t, store, key); !all(held, true) {
			t.Fatalf("%s with a document hold standing: storage holds %v, want every version held", key, held)
		}
	}
}

// A document hold whose own record a disposal of the case deleted while
// it was being placed is undone (unplace): its record deleted, its
// hold.placed corrected, the caller told nothing is held. But the
// document's own hold, set in the vault before the hold was recorded,
// stayed — the document record saying held and every version's
// ciphertext and key record under a storage (legal) hold — with no hold
// left to release it, so the case could not be disposed of (third
// review, LOW). Now unplace releases the document too, unless another
// hold covers it. The record's deletion is forced where a disposal would
// make it, between its writing and its storage hold (the placeStep
// hook). On real MinIO.
func TestDocumentHoldOvertakenLeavesNothingHeld(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := minioStore(t)
	e := dueWorld(t, store)
	if _, err := e.setRule(ctx, policy.RetentionRule{Class: string(vault.ClassEvidence), Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
		t.Fatal(err)
	}
	tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
	doc := tc.docs["exhibit"].ID
	e.ret.placeStep = func(step string, h Hold) {
		if step != "recorded" {
			return
		}
		e.ret.placeStep = nil
		key := holdKey(h.Case, h.ID)
		vs, err := store.Versions(ctx, key)
		if err != nil {
			t.Error(err)
			return
		}
		infos := make([]objstore.Info, len(vs))
		for i, v := range vs {
			infos[i] = v.Info
		}
		if err := errors.Join(store.DeleteVersions(ctx, infos)...); err != nil {
			t.Error(err)
		}
	}
	h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Doc: doc, Reason: "Subpoena 2026-22", Authority: "Court order 5"})
	if !errors.Is(err, fault.ErrGone) || h.ID != "" {
		t.Fatalf("a document hold whose record went while it was being placed: %+v %v, want ErrGone", h, err)
	}
	d, err := e.vault.Get(ctx, e.records, tc.id, doc)
	if err != nil {
		t.Fatal(err)
	}
	if d.Held {
		t.Fatal("the document is still held after its hold was undone")
	}
	for _, key := range []string{docObject(tc.id, doc, 1), versionObject(tc.id, doc, 1)} {
		if held := storageHeld(t, store, key); !all(held, false) {
			t.Fatalf("%s after the hold was undone: storage holds %v, want none", key, held)
		}
	}

	// And the case is disposed of, nothing of it left, held or not.
	p := e.planClosed(t, tc)
	if o, _ := e.applyCollect(t, p.ID, tc.id); o.Result != OutcomeDestroyed {
		t.Fatalf("the case record's outcome %+v, want destroyed", o)
	}
	for _, prefix := range []string{"docs/" + tc.id + "/", "vault/" + tc.id + "/", holdPrefix(tc.id)} {
		if held := heldUnder(t, store, prefix); len(held) > 0 {
			t.Fatalf("under a storage hold after the case was disposed of: %v", held)
		}
		if vs, err := e.ret.storedVersions(ctx, []string{prefix}, nil); err != nil || len(vs) > 0 {
			t.Fatalf("%d versions under %s after the case was disposed of: %v", len(vs), prefix, err)
		}
	}
}

// heldExhibit is a case on real MinIO with one evidence document under a
// document hold placed by the records person (reason, authority).
func heldExhibit(t *testing.T, reason, authority string) (store objstore.Store, e *env, tc *testCase, doc string, first Hold) {
	t.Helper()
	store = minioStore(t)
	e = newEnv(t, store)
	tc = e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
	doc = tc.docs["exhibit"].ID
	first, err := e.ret.PlaceHold(t.Context(), e.records, NewHold{Case: tc.id, Doc: doc, Reason: reason, Authority: authority})
	if err != nil {
		t.Fatal(err)
	}
	return store, e, tc, doc, first
}
