package vault

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// clearGateStore is a real store that stops the first storage-hold
// release of an object under prefix (a clearing pass over a document's
// versions, before it has cleared anything) until the test lets it go:
// the test runs a placement to its end in between.
type clearGateStore struct {
	objstore.Store
	prefix  string
	once    sync.Once
	reached chan struct{} // closed when the release is stopped
	resume  chan struct{} // closed by the test to let it go on
	// Once armed, the first storage-hold setting under prefix is stopped
	// the same way (setReached, setResume).
	setArmed              atomic.Bool
	setOnce               sync.Once
	setReached, setResume chan struct{}
}

func newClearGate(store objstore.Store) *clearGateStore {
	return &clearGateStore{Store: store, reached: make(chan struct{}), resume: make(chan struct{}),
		setReached: make(chan struct{}), setResume: make(chan struct{})}
}

func (s *clearGateStore) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if on && s.setArmed.Load() && strings.HasPrefix(key, s.prefix) {
		stop := false
		s.setOnce.Do(func() { stop = true })
		if stop {
			close(s.setReached)
			select {
			case <-s.setResume:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if !on && s.prefix != "" && strings.HasPrefix(key, s.prefix) {
		stop := false
		s.once.Do(func() { stop = true })
		if stop {
			close(s.reached)
			select {
			case <-s.resume:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return s.Store.SetLegalHold(ctx, key, versionID, on)
}

// waitReached waits (bounded) until the gated release is stopped.
func (s *clearGateStore) waitReached(t *testing.T) {
	t.Helper()
	select {
	case <-s.reached:
	case <-time.After(30 * time.Second):
		t.Fatal("the clearing pass never reached the document's storage holds")
	}
}

// wantAllHeld fails unless every stored version of every live version's
// ciphertext and key record of document docID is under the storage hold.
func wantAllHeld(t *testing.T, e *env, store objstore.Store, caseID, docID string) {
	t.Helper()
	ctx := t.Context()
	var d docRecord
	if _, err := e.meta.Get(ctx, docKey(caseID, docID), &d); err != nil {
		t.Fatal(err)
	}
	if d.Hold == nil {
		t.Fatal("the document's record does not say held")
	}
	for _, v := range d.Versions {
		for _, key := range []string{objectKey(caseID, docID, v.Version), versionKey(caseID, docID, v.Version)} {
			vs, err := store.Versions(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			for _, sv := range vs {
				if sv.DeleteMarker {
					continue
				}
				on, err := store.LegalHold(ctx, key, sv.VersionID)
				if err != nil {
					t.Fatal(err)
				}
				if !on {
					t.Errorf("version %d (%s): the record says held, the store does not hold it", v.Version, key)
				}
			}
		}
	}
}

// TestCaseHoldReleaseRacingDocumentHoldLeavesItHeld: a case hold is
// released while a hold on one of its documents is placed. The release
// read the document's record before the document hold was written (so
// it clears the document's storage holds), and the placement's own passes
// over the versions run wholly before the release clears them. The
// document must end held in storage as its record says (before: the
// release cleared them after the placement and left the record saying
// held over versions without their legal hold).
func TestCaseHoldReleaseRacingDocumentHoldLeavesItHeld(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		r := caseReleaseMeetsDocumentHold(t, store)
		close(r.gate.resume)
		if err := <-r.released; err != nil {
			t.Fatal(err)
		}
		wantAllHeld(t, r.e, store, r.k.caseID, r.doc)
	})
}

// racingRelease is a case hold's release stopped at its first clearing
// of a document's storage holds, with a hold on that document placed
// meanwhile (its record written, its versions held).
type racingRelease struct {
	gate     *clearGateStore
	e        *env
	k        *cast
	doc      string
	released chan error // the release's answer, once the gate lets it go
}

func caseReleaseMeetsDocumentHold(t *testing.T, store objstore.Store) *racingRelease {
	t.Helper()
	gate := newClearGate(store)
	e := newEnv(t, gate)
	k := e.newCast(t)
	ctx := t.Context()
	if err := e.vault.SetCaseHold(ctx, "retention", k.caseID, true); err != nil {
		t.Fatal(err)
	}
	d := e.upload(t, k.who["mediator"], k.caseID, "held.pdf", k.audience(t, "joint"), ClassEvidence, []byte("held by the case"))
	gate.prefix = "docs/" + k.caseID + "/" + d.ID + "/"
	released := make(chan error, 1)
	go func() { released <- e.vault.SetCaseHold(ctx, "retention", k.caseID, false) }()
	gate.waitReached(t)
	if _, err := e.vault.SetHold(ctx, k.who["records"], k.caseID, d.ID, true); err != nil {
		t.Fatal(err)
	}
	return &racingRelease{gate: gate, e: e, k: k, doc: d.ID, released: released}
}

// TestDocumentHoldReleaseRacingPlacementLeavesItHeld: SetHold's own
// release pass, overtaken the same way by a placement of the hold again
// (record written, versions held) before it clears the storage holds.
func TestDocumentHoldReleaseRacingPlacementLeavesItHeld(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		gate := newClearGate(store)
		e := newEnv(t, gate)
		k := e.newCast(t)
		ctx := t.Context()
		rec := k.who["records"]
		d := e.upload(t, k.who["mediator"], k.caseID, "held.pdf", k.audience(t, "joint"), ClassEvidence, []byte("held by itself"))
		if _, err := e.vault.SetHold(ctx, rec, k.caseID, d.ID, true); err != nil {
			t.Fatal(err)
		}
		gate.prefix = "docs/" + k.caseID + "/" + d.ID + "/"
		released := make(chan error, 1)
		go func() {
			_, err := e.vault.SetHold(ctx, rec, k.caseID, d.ID, false)
			released <- err
		}()
		gate.waitReached(t)
		if _, err := e.vault.SetHold(ctx, rec, k.caseID, d.ID, true); err != nil {
			t.Fatal(err)
		}
		close(gate.resume)
		if err := <-released; err != nil {
			t.Fatal(err)
		}
		wantAllHeld(t, e, store, k.caseID, d.ID)
	})
}

// TestReleaseSettingHoldsAgainForAHoldReleasedMeanwhileLeavesNothingHeld:
// a case hold's release clears a document's storage holds, finds a
// document hold placed meanwhile and sets them again; that hold is
// released before the setting lands. Before, the setting then stood with
// nothing holding the document (record and case not held, no hold
// standing), and every later disposal paused on a storage hold nobody
// could release. Now the release looks once more and clears them again.
func TestReleaseSettingHoldsAgainForAHoldReleasedMeanwhileLeavesNothingHeld(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		r := caseReleaseMeetsDocumentHold(t, store)
		gate, e, k, released := r.gate, r.e, r.k, r.released
		doc := r.doc
		ctx := t.Context()
		rec := k.who["records"]
		gate.setArmed.Store(true)
		close(gate.resume) // the case release clears, reads the document hold, sets again: stopped
		select {
		case <-gate.setReached:
		case <-time.After(30 * time.Second):
			t.Fatal("the release never set the document's storage holds again")
		}
		if _, err := e.vault.SetHold(ctx, rec, k.caseID, doc, false); err != nil {
			t.Fatal(err)
		}
		close(gate.setResume)
		if err := <-released; err != nil {
			t.Fatal(err)
		}
		var now docRecord
		if _, err := e.meta.Get(ctx, docKey(k.caseID, doc), &now); err != nil || now.Hold != nil {
			t.Fatalf("the document's record: hold %+v (%v), want none", now.Hold, err)
		}
		for _, v := range now.Versions {
			for _, key := range []string{objectKey(k.caseID, doc, v.Version), versionKey(k.caseID, doc, v.Version)} {
				vs, err := store.Versions(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				for _, sv := range vs {
					if on, err := store.LegalHold(ctx, key, sv.VersionID); err != nil || on {
						t.Errorf("%s: under storage hold (%v) with no hold standing on the document or its case", key, err)
					}
				}
			}
		}
	})
}
