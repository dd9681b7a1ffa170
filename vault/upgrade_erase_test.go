package vault

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// beforeDocWrite runs hook once, just before the first conditional write
// to key once armed: a change landing between an update's read and its
// write.
type beforeDocWrite struct {
	objstore.Store
	key   string
	armed atomic.Bool
	hook  func(ctx context.Context)
}

func (s *beforeDocWrite) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if key == s.key && opts.IfMatch != "" && s.armed.CompareAndSwap(true, false) {
		s.hook(ctx)
	}
	return s.Store.Put(ctx, key, r, size, opts)
}

// TestUpgradeRacingAnErasureWritesNoHashesBack: a version erased while
// it was being upgraded stays erased: the upgrade's update of the
// document record finds it erased and answers gone, rather than writing
// the new hashes back onto the erased entry.
func TestUpgradeRacingAnErasureWritesNoHashesBack(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		st := &beforeDocWrite{Store: store}
		e := newEnv(t, st)
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		d, err := e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "offer.pdf", Audience: k.audience(t, "joint"), Class: ClassEvidence}, bytes.NewReader([]byte("the offer")))
		if err != nil {
			t.Fatal(err)
		}
		ct, wrap := clientSide(t, k.caseID, d.ID, med.ID, 1, "joint", []byte("the offer"))
		st.key = docKey(k.caseID, d.ID)
		var erased error
		st.hook = func(ctx context.Context) {
			erased = e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 1)
		}
		st.armed.Store(true)
		_, err = e.vault.UpgradeVersion(ctx, med, k.caseID, d.ID, 1, wrap, bytes.NewReader(ct))
		if erased != nil || st.armed.Load() {
			t.Fatalf("the erasure between the upgrade's read and write: %v (ran: %v)", erased, !st.armed.Load())
		}
		if !errors.Is(err, fault.ErrGone) {
			t.Errorf("upgrade of a version erased meanwhile: %v, want gone", err)
		}
		var raw docRecord
		if _, err := e.meta.Get(ctx, docKey(k.caseID, d.ID), &raw); err != nil {
			t.Fatal(err)
		}
		v, ok := raw.version(1)
		if !ok || !v.Erased || v.SHA256 != "" || v.PlainSHA256 != "" || v.Name != "" {
			t.Fatalf("the erased version's stored entry after the upgrade: %+v", v)
		}
		// Nor is any copy of its version record left (with the key wraps
		// and the plaintext's hash the upgrade wrote into it).
		if vs, err := store.Versions(ctx, versionKey(k.caseID, d.ID, 1)); err == nil && len(vs) > 0 {
			t.Fatalf("%d stored copies of the erased version's record after the upgrade", len(vs))
		}
	})
}

// landsThenConflicts lets the skip-th conditional write to key after
// arming land, runs hook, then answers a precondition failure: a write
// that landed, lost its answer and whose retry found the record changed.
type landsThenConflicts struct {
	objstore.Store
	key  string
	skip atomic.Int32
	hook func(ctx context.Context)
}

func (s *landsThenConflicts) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if key != s.key || opts.IfMatch == "" || s.skip.Load() <= 0 || s.skip.Add(-1) != 0 {
		return s.Store.Put(ctx, key, r, size, opts)
	}
	if _, err := s.Store.Put(ctx, key, r, size, opts); err != nil {
		return objstore.Info{}, err
	}
	s.hook(ctx)
	return objstore.Info{}, objstore.ErrPrecondition
}

// TestVersionLandedThenErasedIsNotListedTwice: a new version's record
// write landed but lost its answer, the version was erased, and the
// write was tried again: the version is found listed by its number
// (numbers are reserved, never reused), not appended a second time.
// Before, the retry compared hashes, blank once erased, and listed a
// second, non-erased version 2.
func TestVersionLandedThenErasedIsNotListedTwice(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		st := &landsThenConflicts{Store: store}
		e := newEnv(t, st)
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "joint"), ClassCorrespondence, []byte("offer v1"))
		st.key = docKey(k.caseID, d.ID)
		var erased error
		st.hook = func(ctx context.Context) {
			erased = e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 2)
		}
		st.skip.Store(2) // the first write reserves the number
		_, err := e.vault.AddVersion(ctx, med, k.caseID, d.ID, NewVersion{}, bytes.NewReader([]byte("offer v2")))
		t.Logf("AddVersion: %v", err)
		if erased != nil || st.skip.Load() != 0 {
			t.Fatalf("the erasure after the write landed: %v (left to skip: %d)", erased, st.skip.Load())
		}
		var raw docRecord
		if _, err := e.meta.Get(ctx, docKey(k.caseID, d.ID), &raw); err != nil {
			t.Fatal(err)
		}
		var twos []VersionInfo
		for _, v := range raw.Versions {
			if v.Version == 2 {
				twos = append(twos, v)
			}
		}
		if len(twos) != 1 || !twos[0].Erased {
			t.Fatalf("version 2 listed as %+v, want once, erased", twos)
		}
	})
}
