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
	})
}
