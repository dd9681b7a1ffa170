package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
)

// The key hierarchy below the master key:
//
//	master key ──wraps──▶ case key (keys/cases/<case>, one per case)
//	case key   ──wraps──▶ data key (in the version's metadata record)
//	data key   ──HKDF───▶ stream key and nonce prefix (stream.go)
//
// Destroying a version's wrapped data key makes its ciphertext unreadable
// for good (crypto-erase), without touching the case key or other versions.

const (
	dataKeyWrapVersion = 1
	maxWrappedCaseKey  = 4096
)

// The case key's object and label come from kms's registry of wrapped
// keys, so master key rotation finds and rewraps every case key. The label
// binds the case id: a wrapped case key copied to another case's object
// does not unwrap there.
func caseKeyObject(caseID string) string { return kms.CaseKeyPrefix + caseID }

func caseKeyLabel(caseID string) string { return kms.CaseKeyLabel(caseID) }

// caseKeyForWrite returns the case's key, creating it on the first upload
// (create-only, so nodes racing to create it agree on one key).
func caseKeyForWrite(ctx context.Context, store objstore.Store, mk *kms.MasterKey, caseID string) ([]byte, error) {
	return kms.LoadOrCreateKey(ctx, store, mk, caseKeyObject(caseID), caseKeyLabel(caseID))
}

// caseKeyForRead returns the case's key, which must exist: a download never
// creates one.
func caseKeyForRead(ctx context.Context, store objstore.Store, mk *kms.MasterKey, caseID string) ([]byte, error) {
	rc, _, err := store.Get(ctx, caseKeyObject(caseID), objstore.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("case key of %s: %w", caseID, err)
	}
	defer rc.Close()
	wrapped, err := io.ReadAll(io.LimitReader(rc, maxWrappedCaseKey))
	if err != nil {
		return nil, fmt.Errorf("case key of %s: %w", caseID, err)
	}
	key, err := mk.Unwrap(wrapped, caseKeyLabel(caseID))
	if err != nil {
		return nil, fmt.Errorf("case key of %s: %w", caseID, err)
	}
	return key, nil
}

func dataKeyAAD(b Binding) []byte {
	return append([]byte("parley/vault/data-key/v1\x00"), b.Info()...)
}

func caseAEAD(caseKey []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(caseKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// wrapDataKey seals a data key under the case key (AES-256-GCM), binding
// the document version it belongs to.
func wrapDataKey(caseKey, dataKey []byte, b Binding) ([]byte, error) {
	aead, err := caseAEAD(caseKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	out := append([]byte{dataKeyWrapVersion}, nonce...)
	return aead.Seal(out, nonce, dataKey, dataKeyAAD(b)), nil
}

// errKeyUnwrap: a wrapped data key did not open under its case key.
var errKeyUnwrap = errors.New("data key does not unwrap (wrong case key, moved, or tampered)")

func unwrapDataKey(caseKey, wrapped []byte, b Binding) ([]byte, error) {
	aead, err := caseAEAD(caseKey)
	if err != nil {
		return nil, err
	}
	head := 1 + aead.NonceSize()
	if len(wrapped) < head+aead.Overhead() || wrapped[0] != dataKeyWrapVersion {
		return nil, fmt.Errorf("%s: %w: %w", describe(b), ErrIntegrity, errKeyUnwrap)
	}
	key, err := aead.Open(nil, wrapped[1:head], wrapped[head:], dataKeyAAD(b))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s: %w: %w", describe(b), ErrIntegrity, errKeyUnwrap)
	}
	return key, nil
}
