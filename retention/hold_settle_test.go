package retention

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/vault"
)

// gatedStore is a real store (a directory or MinIO) that calls a test's
// function before a Put or a SetLegalHold, so the test can run another
// hold operation at that exact point, or hold the call until it has: the
// interleavings of concurrent placements and releases, forced.
type gatedStore struct {
	objstore.Store
	mu      sync.Mutex
	onPut   func(key string)          // before a Put, called outside mu
	onLegal func(key string, on bool) // before a SetLegalHold, called outside mu
}

func (s *gatedStore) setOnPut(f func(key string)) {
	s.mu.Lock()
	s.onPut = f
	s.mu.Unlock()
}

func (s *gatedStore) setOnLegal(f func(key string, on bool)) {
	s.mu.Lock()
	s.onLegal = f
	s.mu.Unlock()
}

func (s *gatedStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	s.mu.Lock()
	f := s.onPut
	s.mu.Unlock()
	if f != nil {
		f(key)
	}
	return s.Store.Put(ctx, key, r, size, opts)
}

func (s *gatedStore) SetLegalHold(ctx context.Context, key, vid string, on bool) error {
	s.mu.Lock()
	f := s.onLegal
	s.mu.Unlock()
	if f != nil {
		f(key, on)
	}
	return s.Store.SetLegalHold(ctx, key, vid, on)
}

// restoration is what a hold.restored entry should say.
type restoration struct {
	actor, restores, released, cause, scope string
	objects                                 []string
}

// wantOneRestored checks that the case has exactly one hold.restored
// entry, saying what w says, and that the same person's next hold entry
// about the case is the vault's setting again of the hold it restores.
func (e *env) wantOneRestored(t *testing.T, caseID string, w restoration) {
	t.Helper()
	restored, next := e.restoredEntries(t, caseID)
	if len(restored) != 1 {
		t.Fatalf("hold.restored entries: %+v, want one", restored)
	}
	r := restored[0]
	if r.Actor != w.actor || r.Attrs["restores"] != w.restores || r.Attrs["released"] != w.released ||
		r.Attrs["cause"] != w.cause || r.Attrs["scope"] != w.scope || !slices.Equal(r.Objects, w.objects) {
		t.Fatalf("hold.restored %+v: want %+v", r, w)
	}
	kind := "case.hold"
	if w.scope == "document" {
		kind = "doc.hold"
	}
	if want := kind + " on=true by " + w.actor; next[0] != want {
		t.Fatalf("after hold.restored: %q, want %q", next[0], want)
	}
}

// restoredEntries returns the hold.restored entries about a case, in
// order, and for each the first later entry of the same person about
// the case that is a doc.hold or case.hold (the vault's entry of the
// restoration it explains), as "type on=… by actor".
func (e *env) restoredEntries(t *testing.T, caseID string) (restored []audit.Event, next []string) {
	t.Helper()
	var evs []audit.Event
	for i := range e.log.Size() {
		ev, err := e.log.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	for i, ev := range evs {
		if ev.Type != "hold.restored" || ev.Case != caseID {
			continue
		}
		restored = append(restored, ev)
		following := ""
		for _, nx := range evs[i+1:] {
			if nx.Actor == ev.Actor && nx.Case == caseID && (nx.Type == "doc.hold" || nx.Type == "case.hold") {
				following = nx.Type + " on=" + nx.Attrs["on"] + " by " + nx.Actor
				break
			}
		}
		next = append(next, following)
	}
	return restored, next
}

// Review M1: releasing a document's hold through HoldDocument (POST
// …/documents/{id}/hold, on false) when no hold record on it is active
// takes the path kept for documents held before holds had records: it
// released the document in the vault outright. A document hold being
// placed at that moment has the vault hold the document before its
// record is written, so the release read the document held (because of
// that placement) and found no record; the placement's own check that the
// vault still held the document ran before the release's write landed.
// The hold then stood, recorded and active, with the document released
// (its record not saying held, its versions out of storage hold). Now
// that release, too, looks at the holds again after clearing and holds
// the document again for a hold that appeared, audited as hold.restored
// naming it (review L2). Forced: the release's write of the document
// record waits, in the gated store, until the placement has returned.
func TestUnrecordedDocumentReleaseKeepsHoldPlacedMeanwhile(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		st := &gatedStore{Store: store}
		e := newEnv(t, st)
		tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
		doc := tc.docs["exhibit"].ID
		docRecord := "vault/" + tc.id + "/docs/" + doc
		blocked := make(chan struct{}) // the release's write of the document record is waiting
		proceed := make(chan struct{}) // and may go on
		done := make(chan struct{})    // the release returned
		var releaseErr error
		e.ret.placeStep = func(step string, _ Hold) {
			if step != "doc-held" {
				return
			}
			e.ret.placeStep = nil
			var once sync.Once
			st.setOnPut(func(key string) {
				if key == docRecord {
					once.Do(func() {
						close(blocked)
						<-proceed
					})
				}
			})
			go func() {
				defer close(done)
				_, releaseErr = e.ret.HoldDocument(ctx, e.records2, tc.id, doc, false, "No longer needed", "")
			}()
			select {
			case <-blocked:
			case <-done:
				t.Errorf("the release returned (%v) without writing the document record", releaseErr)
			}
		}
		h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Doc: doc, Reason: "Subpoena 2026-31", Authority: "Court order 11"})
		close(proceed)
		<-done
		st.setOnPut(nil)
		if err != nil || releaseErr != nil {
			t.Fatalf("placing: %+v %v; releasing meanwhile: %v", h, err, releaseErr)
		}
		if hs, err := e.ret.Holds(ctx, e.records, tc.id, false); err != nil || len(hs) != 1 || hs[0].ID != h.ID {
			t.Fatalf("active holds %+v %v: want the one placed", hs, err)
		}
		if d, err := e.vault.Get(ctx, e.records, tc.id, doc); err != nil || !d.Held {
			t.Fatalf("the document with a hold on it standing: held %v (%v), want held", d.Held, err)
		}
		for _, key := range []string{docObject(tc.id, doc, 1), versionObject(tc.id, doc, 1), holdKey(tc.id, h.ID)} {
			if held := storageHeld(t, store, key); !all(held, true) {
				t.Fatalf("%s with a document hold standing: storage holds %v, want every version held", key, held)
			}
		}
		e.wantOneRestored(t, tc.id, restoration{actor: e.records2.ID, restores: h.ID, cause: causeUnrecordedDoc,
			scope: "document", objects: []string{h.ID, doc}})
	})
}

// Review L1: a case hold's release that found, looking again after
// clearing, a case hold placed meanwhile set the storage holds again; if
// that hold was itself released between that look and the setting, its
// release (finding no other hold) cleared them first, and the setting
// then left the case held — the vault's case-hold record there, the case
// record under a storage hold — with no active hold, so no plan could
// ever dispose of the case. Now the release looks again after setting
// and clears again for a hold gone meanwhile. Forced: the second hold is
// placed once the first release has listed the holds (releaseListed),
// and released wholly at the first release's first setting of the case
// record's storage hold (the gated store). The setting is audited as
// hold.restored naming the hold it restored and the release that had
// cleared it (review L2).
func TestReleaseRestoringAHoldReleasedMeanwhileLeavesNothingHeld(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		st := &gatedStore{Store: store}
		e := newEnv(t, st)
		tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
		doc := tc.docs["exhibit"].ID
		first, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Subpoena 2026-41", Authority: "Court order 21"})
		if err != nil {
			t.Fatal(err)
		}
		rec := cases.RecordKey(tc.id)
		var second Hold
		var placeErr, releaseErr error
		e.ret.releaseListed = func() {
			e.ret.releaseListed = nil
			second, placeErr = e.ret.PlaceHold(ctx, e.records2, NewHold{Case: tc.id, Reason: "Complaint 2026-41", Authority: "Program rule 9"})
			if placeErr != nil {
				return
			}
			var once sync.Once
			st.setOnLegal(func(key string, on bool) {
				if key == rec && on {
					once.Do(func() {
						st.setOnLegal(nil)
						_, releaseErr = e.ret.ReleaseHold(ctx, e.records2, tc.id, second.ID, "Withdrawn")
					})
				}
			})
		}
		if _, err := e.ret.ReleaseHold(ctx, e.records, tc.id, first.ID, "Answered"); err != nil {
			t.Fatal(err)
		}
		st.setOnLegal(nil)
		if placeErr != nil || releaseErr != nil || second.ID == "" {
			t.Fatalf("the hold placed during the release: %+v %v; released again meanwhile: %v", second, placeErr, releaseErr)
		}
		if hs, err := e.ret.Holds(ctx, e.records, tc.id, false); err != nil || len(hs) != 0 {
			t.Fatalf("active holds %+v %v: want none", hs, err)
		}
		if held, err := e.vault.CaseHeld(ctx, tc.id); err != nil || held {
			t.Fatalf("the vault's case hold with no hold standing: %v %v, want released", held, err)
		}
		for _, key := range []string{rec, vault.CaseHoldKey(tc.id), docObject(tc.id, doc, 1), versionObject(tc.id, doc, 1),
			holdKey(tc.id, first.ID), holdKey(tc.id, second.ID)} {
			if held := storageHeld(t, store, key); !all(held, false) {
				t.Fatalf("%s with no hold standing: storage holds %v, want none", key, held)
			}
		}
		e.wantOneRestored(t, tc.id, restoration{actor: e.records.ID, restores: second.ID, released: first.ID, cause: causeRelease,
			scope: "case", objects: []string{second.ID}})
	})
}

// A hold released while it is still being placed — listed once recorded,
// and released by another person before the placement set its storage
// holds — was left with them set: the release cleared what was not yet
// set, and the placement then set the case record's (or the document's)
// storage holds, the vault's hold and its own released record's storage
// hold, with no hold standing, so no plan could dispose of the case. Now
// a placement, once it has set them, reads its hold again and, released
// meanwhile, clears them as the release would have (clearUncovered).
// Forced by the placeStep hook ("recorded"), for a case hold and a
// document hold, on each store.
func TestHoldReleasedWhilePlacedLeavesNothingHeld(t *testing.T) {
	t.Parallel()
	for _, scope := range []string{"case", "document"} {
		t.Run(scope, func(t *testing.T) {
			t.Parallel()
			onEachStore(t, func(t *testing.T, store objstore.Store) {
				ctx := t.Context()
				e := newEnv(t, store)
				tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
				doc := tc.docs["exhibit"].ID
				n := NewHold{Case: tc.id, Reason: "Subpoena 2026-51", Authority: "Court order 31"}
				if scope == "document" {
					n.Doc = doc
				}
				var releaseErr error
				e.ret.placeStep = func(step string, h Hold) {
					if step != "recorded" {
						return
					}
					e.ret.placeStep = nil
					_, releaseErr = e.ret.ReleaseHold(ctx, e.records2, tc.id, h.ID, "Entered in error")
				}
				h, err := e.ret.PlaceHold(ctx, e.records, n)
				if err != nil || releaseErr != nil {
					t.Fatalf("placing: %+v %v; releasing it meanwhile: %v", h, err, releaseErr)
				}
				if hs, err := e.ret.Holds(ctx, e.records, tc.id, false); err != nil || len(hs) != 0 {
					t.Fatalf("active holds %+v %v: want none", hs, err)
				}
				if held, err := e.vault.CaseHeld(ctx, tc.id); err != nil || held {
					t.Fatalf("the vault's case hold with no hold standing: %v %v", held, err)
				}
				if d, err := e.vault.Get(ctx, e.records, tc.id, doc); err != nil || d.Held {
					t.Fatalf("the document with no hold standing: held %v (%v)", d.Held, err)
				}
				keys := []string{cases.RecordKey(tc.id), docObject(tc.id, doc, 1), versionObject(tc.id, doc, 1), holdKey(tc.id, h.ID)}
				if scope == "case" {
					keys = append(keys, vault.CaseHoldKey(tc.id))
				}
				for _, key := range keys {
					if held := storageHeld(t, store, key); !all(held, false) {
						t.Fatalf("%s with no hold standing: storage holds %v, want none", key, held)
					}
				}
				if h.Active() {
					t.Fatalf("the placement answered %+v: want the hold as released meanwhile", h)
				}
			})
		})
	}
}
