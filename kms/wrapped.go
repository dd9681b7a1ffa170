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

// LoadOrCreateKey returns the 32-byte key stored wrapped at objectKey, making
// one if none exists. It is safe for several nodes starting at once: the key
// is created with a create-only write, and a node that loses the race reads
// the winner's key, so every node ends up with the same key.
func LoadOrCreateKey(ctx context.Context, store objstore.Store, mk *MasterKey, objectKey, label string) ([]byte, error) {
	for range 3 {
		key, err := loadKey(ctx, store, mk, objectKey, label)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, objstore.ErrNotFound) {
			return nil, err
		}
		fresh := make([]byte, 32)
		rand.Read(fresh)
		wrapped := mk.Wrap(fresh, label)
		_, err = store.Put(ctx, objectKey, bytes.NewReader(wrapped), int64(len(wrapped)), objstore.PutOptions{IfNoneMatch: true})
		if err == nil {
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
