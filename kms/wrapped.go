package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/parley-mediation/parley/objstore"
)

// maxWrappedKeySize bounds what LoadOrCreateKey reads: wrapped keys are tiny.
const maxWrappedKeySize = 4096

// ErrStaleMasterKey: a key was not created because the store's records key
// is wrapped by another master key than the one this process holds — the
// master key was rotated while this process kept running on the old one. A
// key it made now would be wrapped by the old master key, which nodes on the
// new one cannot unwrap (and which is to be destroyed).
var ErrStaleMasterKey = errors.New("the store's master key is not this process's (rotated while it ran?)")

// LoadOrCreateKey returns the 32-byte key stored wrapped at objectKey, making
// one if none exists. It is safe for several nodes starting at once: the key
// is created with a create-only write, and a node that loses the race reads
// the winner's key, so every node ends up with the same key.
//
// Before creating a key it checks that the records key (RecordsKeyObject),
// if there is one yet, is wrapped by mk, and refuses with ErrStaleMasterKey
// otherwise: a process left running through a master key rotation must not
// wrap new keys with the old master key. It checks again once its key is
// written, and takes that version back if the records key changed
// meanwhile (RotateMasterKey rewraps the records key first, then lists the
// rest: a key written before that listing is rewrapped with the rest, one
// written after it is taken back here).
func LoadOrCreateKey(ctx context.Context, store objstore.Store, mk *MasterKey, objectKey, label string) ([]byte, error) {
	for range 3 {
		key, err := loadKey(ctx, store, mk, objectKey, label)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, objstore.ErrNotFound) {
			return nil, err
		}
		if err := checkStoreMasterKey(ctx, store, mk, objectKey); err != nil {
			return nil, err
		}
		fresh := make([]byte, 32)
		rand.Read(fresh)
		wrapped := mk.Wrap(fresh, label)
		put, err := store.Put(ctx, objectKey, bytes.NewReader(wrapped), int64(len(wrapped)), objstore.PutOptions{IfNoneMatch: true})
		if err == nil {
			// Checked again after the write: a rotation may have
			// rewrapped the records key between the check above and
			// the write, and listed keys/ before it landed. The key
			// just made is then taken back (that version only).
			if err := checkStoreMasterKey(ctx, store, mk, objectKey); err != nil {
				if derr := store.Delete(ctx, objectKey, put.VersionID); derr != nil {
					err = errors.Join(err, fmt.Errorf("and the key made under the old master key could not be taken back: %w", derr))
				}
				clear(fresh)
				return nil, err
			}
			return fresh, nil
		}
		if !errors.Is(err, objstore.ErrPrecondition) {
			return nil, fmt.Errorf("store %s: %w", objectKey, err)
		}
		// Another node created it first: loop and read theirs.
	}
	return nil, fmt.Errorf("key %s: could not load or create", objectKey)
}

// LoadKey returns the 32-byte key stored wrapped at objectKey, and makes
// none: objstore.ErrNotFound when there is none. For a process that only
// reads the store (`parley audit key`).
func LoadKey(ctx context.Context, store objstore.Store, mk *MasterKey, objectKey, label string) ([]byte, error) {
	return loadKey(ctx, store, mk, objectKey, label)
}

func loadKey(ctx context.Context, store objstore.Store, mk *MasterKey, objectKey, label string) ([]byte, error) {
	rc, _, err := store.Get(ctx, objectKey, objstore.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	wrapped, err := io.ReadAll(io.LimitReader(rc, maxWrappedKeySize))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", objectKey, err)
	}
	key, err := mk.Unwrap(wrapped, label)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", objectKey, err)
	}
	return key, nil
}

// checkStoreMasterKey refuses (ErrStaleMasterKey) when the store's records
// key is wrapped by another master key than mk. A store without a records
// key yet (a new deployment, whose first node is creating it) passes.
func checkStoreMasterKey(ctx context.Context, store objstore.Store, mk *MasterKey, creating string) error {
	if creating == RecordsKeyObject {
		return nil // its create-only write is the check
	}
	rc, _, err := store.Get(ctx, RecordsKeyObject, objstore.GetOptions{})
	if errors.Is(err, objstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("key %s: read %s to check the master key: %w", creating, RecordsKeyObject, err)
	}
	defer rc.Close()
	blob, err := io.ReadAll(io.LimitReader(rc, maxWrappedKeySize))
	if err != nil {
		return fmt.Errorf("key %s: read %s to check the master key: %w", creating, RecordsKeyObject, err)
	}
	by, ok := WrappedBy(blob)
	if !ok {
		return fmt.Errorf("key %s: %s is not a wrapped key", creating, RecordsKeyObject)
	}
	if by != mk.ID() {
		return fmt.Errorf("key %s not created: %s is wrapped by master key %s, this is %s: %w", creating, RecordsKeyObject, by, mk.ID(), ErrStaleMasterKey)
	}
	return nil
}
