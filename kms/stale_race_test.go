package kms

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

// rotateBeforePut is a real store whose first Put of key runs a whole
// rotation just before the write: a node on the old master key passed
// LoadOrCreateKey's check of the records key, then the rotation ran to the
// end, then the node's write landed.
type rotateBeforePut struct {
	objstore.Store
	key    string
	rotate func(context.Context) error
	fired  atomic.Bool
	rotErr error
}

func (s *rotateBeforePut) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if key == s.key && s.fired.CompareAndSwap(false, true) {
		s.rotErr = s.rotate(ctx)
	}
	return s.Store.Put(ctx, key, r, size, opts)
}

// TestKeyCreatedAcrossARotationIsTakenBack: a key a stale node writes after
// checking the records key, while a rotation completes in between, is
// refused and taken back, so the rotation's success stands: everything
// under keys/ opens with the new master key (review: check then create).
func TestKeyCreatedAcrossARotationIsTakenBack(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		oldKey, newKey := freshMasterKey(t), freshMasterKey(t)
		seed(t, store, oldKey, 1)
		obj := CaseKeyPrefix + "c_late"
		label, err := LabelFor(obj)
		if err != nil {
			t.Fatal(err)
		}
		hook := &rotateBeforePut{Store: store, key: obj}
		hook.rotate = func(ctx context.Context) error {
			_, err := RotateMasterKey(ctx, store, oldKey, newKey, RotateOptions{})
			return err
		}
		_, err = LoadOrCreateKey(ctx, hook, oldKey, obj, label)
		if !hook.fired.Load() || hook.rotErr != nil {
			t.Fatalf("the rotation between check and write: fired %v, %v", hook.fired.Load(), hook.rotErr)
		}
		if !errors.Is(err, ErrStaleMasterKey) {
			t.Fatalf("a key written across a rotation: err = %v, want ErrStaleMasterKey", err)
		}
		if _, err := VerifyWrapped(ctx, store, newKey); err != nil {
			t.Fatalf("after the rotation reported success: %v", err)
		}
		// A node on the new key then makes the case's key as usual.
		if _, err := LoadOrCreateKey(ctx, store, newKey, obj, label); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRotationRewrapsTheRecordsKeyFirst: the records key is settled before
// any other key, so a stale node is refused from the listing of the rest on.
func TestRotationRewrapsTheRecordsKeyFirst(t *testing.T) {
	store := newStore(t)
	oldKey, newKey := freshMasterKey(t), freshMasterKey(t)
	seed(t, store, oldKey, 3)
	var first string
	_, err := RotateMasterKey(t.Context(), store, oldKey, newKey, RotateOptions{Workers: 4, AfterEach: func(obj string, done, _ int) error {
		if done == 1 {
			first = obj
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if first != RecordsKeyObject {
		t.Fatalf("first key settled: %s, want %s", first, RecordsKeyObject)
	}
}
