package metastore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/parley-mediation/parley/objstore"
)

// MaxRecordSize bounds one sealed record. Records are metadata; a case with
// hundreds of participants and disclosures stays far below it.
const MaxRecordSize = 1 << 20

const sealMagic = "PMS1"

var (
	// ErrNotFound: no record under the key.
	ErrNotFound = objstore.ErrNotFound
	// ErrExists: Create found a record already there.
	ErrExists = errors.New("metastore: record already exists")
	// ErrConflict: a conditional write lost to a concurrent writer.
	ErrConflict = errors.New("metastore: record changed concurrently")
	// ErrTooLarge: the record would exceed MaxRecordSize.
	ErrTooLarge = errors.New("metastore: record too large")
)

// Store seals and stores JSON records.
type Store struct {
	obj      objstore.Store
	aead     cipher.AEAD
	indexKey []byte
}

// New makes a Store over obj, sealing with the 32-byte records key.
func New(obj objstore.Store, recordsKey []byte) (*Store, error) {
	if len(recordsKey) != 32 {
		return nil, errors.New("metastore: records key must be 32 bytes")
	}
	sealKey, err := hkdf.Key(sha256.New, recordsKey, nil, "parley/metastore/seal/v1", 32)
	if err != nil {
		return nil, err
	}
	indexKey, err := hkdf.Key(sha256.New, recordsKey, nil, "parley/metastore/index/v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Store{obj: obj, aead: aead, indexKey: indexKey}, nil
}

// Objects returns the underlying object store.
func (s *Store) Objects() objstore.Store { return s.obj }

// IndexKey returns a keyed hash (hex, 128 bits) of parts, for object keys
// that must be findable from a secret or personal value (an email, a token)
// without revealing it. Parts are length-prefixed so ("ab","c") ≠ ("a","bc").
func (s *Store) IndexKey(parts ...string) string {
	mac := hmac.New(sha256.New, s.indexKey)
	for _, p := range parts {
		fmt.Fprintf(mac, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// Get reads the record at key into v and returns its ETag.
func (s *Store) Get(ctx context.Context, key string, v any) (etag string, err error) {
	return s.GetVersion(ctx, key, "", v)
}

// GetVersion reads one stored version of the record at key ("" the
// latest) into v: retention reads an old version of a record to learn
// what it belonged to before deleting every version.
func (s *Store) GetVersion(ctx context.Context, key, versionID string, v any) (etag string, err error) {
	rc, info, err := s.obj.Get(ctx, key, objstore.GetOptions{VersionID: versionID})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	sealed, err := io.ReadAll(io.LimitReader(rc, MaxRecordSize+64))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	plain, err := s.open(key, sealed)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return "", fmt.Errorf("record %s: %w", key, err)
	}
	return info.ETag, nil
}

// Stat returns the etag of the record at key (the one Get returns with
// it) without reading or opening it: ErrNotFound when there is none. An
// etag is the stored bytes' (a sealed record's bytes differ with every
// write), so an unchanged etag is an unchanged record.
func (s *Store) Stat(ctx context.Context, key string) (etag string, err error) {
	info, err := s.obj.Stat(ctx, key)
	if err != nil {
		return "", err
	}
	return info.ETag, nil
}

// Create writes v at key only if no record exists there.
func (s *Store) Create(ctx context.Context, key string, v any) (etag string, err error) {
	etag, err = s.put(ctx, key, v, objstore.PutOptions{IfNoneMatch: true})
	if errors.Is(err, objstore.ErrPrecondition) {
		return "", fmt.Errorf("%s: %w", key, ErrExists)
	}
	return etag, err
}

// Replace writes v at key only if the record still has ETag ifMatch.
func (s *Store) Replace(ctx context.Context, key string, v any, ifMatch string) (etag string, err error) {
	etag, err = s.put(ctx, key, v, objstore.PutOptions{IfMatch: ifMatch})
	if errors.Is(err, objstore.ErrPrecondition) {
		return "", fmt.Errorf("%s: %w", key, ErrConflict)
	}
	return etag, err
}

// Delete removes the record (its latest version).
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.obj.Delete(ctx, key, "")
}

// List calls fn with the key of every record under prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string) error) error {
	return s.obj.List(ctx, prefix, func(info objstore.Info) error { return fn(info.Key) })
}

func (s *Store) put(ctx context.Context, key string, v any, opts objstore.PutOptions) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("record %s: %w", key, err)
	}
	if len(plain) > MaxRecordSize {
		return "", fmt.Errorf("%s: %w", key, ErrTooLarge)
	}
	sealed := s.seal(key, plain)
	opts.ContentType = "application/octet-stream"
	info, err := s.obj.Put(ctx, key, bytes.NewReader(sealed), int64(len(sealed)), opts)
	if err != nil {
		return "", err
	}
	return info.ETag, nil
}

func (s *Store) seal(key string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := append([]byte(sealMagic), nonce...)
	return s.aead.Seal(out, nonce, plain, aad(key))
}

func (s *Store) open(key string, sealed []byte) ([]byte, error) {
	head := len(sealMagic) + s.aead.NonceSize()
	if len(sealed) < head+s.aead.Overhead() || string(sealed[:len(sealMagic)]) != sealMagic {
		return nil, fmt.Errorf("record %s: not a sealed record", key)
	}
	plain, err := s.aead.Open(nil, sealed[len(sealMagic):head], sealed[head:], aad(key))
	if err != nil {
		return nil, fmt.Errorf("record %s: integrity check failed (tampered, moved, or wrong records key)", key)
	}
	return plain, nil
}

func aad(key string) []byte { return []byte("parley/metastore/v1\x00" + key) }
