package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
)

// Errors every Store returns in the same situations, so callers can rely on
// errors.Is whichever implementation is configured.
var (
	// ErrNotFound: no such key (or no such version, or the latest version is
	// a delete marker).
	ErrNotFound = errors.New("objstore: object not found")
	// ErrPrecondition: a conditional write lost — the object already exists
	// (IfNoneMatch) or its ETag changed (IfMatch).
	ErrPrecondition = errors.New("objstore: precondition failed")
	// ErrHeld: the version is under legal hold and cannot be deleted.
	ErrHeld = errors.New("objstore: object version is under legal hold")
	// ErrInvalidKey: the key is empty, too long, or has characters outside
	// the portable set [A-Za-z0-9._-/] (or a "." / ".." segment).
	ErrInvalidKey = errors.New("objstore: invalid object key")
	// ErrUnavailable: the store did not answer (unreachable, or a server
	// error). Nothing the failed call wrote may be relied on.
	ErrUnavailable = fmt.Errorf("objstore: storage unavailable: %w", fault.ErrUnavailable)
)

// Info describes one stored object version.
type Info struct {
	Key       string
	ETag      string // opaque; compare for equality only
	VersionID string
	Size      int64
	Modified  time.Time
}

// Version is one entry of an object's version history, newest first.
type Version struct {
	Info
	IsLatest     bool
	DeleteMarker bool
}

// PutOptions makes a Put conditional. At most one of IfNoneMatch and IfMatch
// may be set.
type PutOptions struct {
	// IfNoneMatch makes the write create-only: it fails with ErrPrecondition
	// when a live object exists under the key.
	IfNoneMatch bool
	// IfMatch makes the write an update of exactly this ETag: it fails with
	// ErrPrecondition when the current object has another ETag or is absent.
	IfMatch string
	// ContentType is stored as the object's media type (default
	// application/octet-stream). Parley stores ciphertext or JSON records.
	ContentType string
}

// GetOptions selects a version and a byte range. The zero value reads the
// whole latest version.
type GetOptions struct {
	VersionID string
	// Offset and Length select a byte range; Length 0 means to the end.
	Offset int64
	Length int64
}

// Store is the object-store seam. Implementations are safe for concurrent use.
type Store interface {
	// Get opens an object for reading. The caller closes the reader.
	Get(ctx context.Context, key string, opts GetOptions) (io.ReadCloser, Info, error)
	// Stat returns the latest version's Info without its content.
	Stat(ctx context.Context, key string) (Info, error)
	// Put stores r under key. size is the exact length, or -1 if unknown
	// (the S3 implementation then streams in parts). The object becomes
	// visible only once wholly written.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error)
	// Delete removes the latest version (versionID "") by hiding it behind a
	// delete marker, or permanently deletes one version. Deleting a held
	// version fails with ErrHeld. Deleting a missing key is not an error.
	Delete(ctx context.Context, key, versionID string) error
	// List calls fn for each live object whose key starts with prefix, in
	// lexical key order. Returning an error from fn stops the walk.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Versions lists every version and delete marker of key, newest first.
	Versions(ctx context.Context, key string) ([]Version, error)
	// VersionsUnder calls fn for every version and delete marker of every
	// key starting with prefix, in lexical key order and, within a key,
	// newest first. Returning an error from fn stops the walk. Disposal
	// uses it to learn, in one listing, every stored version of a case's
	// records.
	VersionsUnder(ctx context.Context, prefix string, fn func(Version) error) error
	// DeleteVersions permanently deletes the given versions (Key and
	// VersionID of each), in bulk where the store can, and returns one
	// error per version: nil when it is deleted or was already gone,
	// ErrHeld when it is under legal hold.
	DeleteVersions(ctx context.Context, versions []Info) []error
	// SetLegalHold turns the legal hold of one version on or off.
	SetLegalHold(ctx context.Context, key, versionID string, on bool) error
	// LegalHold reports whether a version is under legal hold.
	LegalHold(ctx context.Context, key, versionID string) (bool, error)
	// Ping checks the store is reachable (readiness).
	Ping(ctx context.Context) error
}

// AfterLister is a Store that can begin a listing part-way: S3's
// StartAfter, or a directory walk that skips reading the metadata of the
// keys before it. Both stores here are.
type AfterLister interface {
	// ListAfter is List, visiting only the keys that sort after
	// startAfter (which need not exist).
	ListAfter(ctx context.Context, prefix, startAfter string, fn func(Info) error) error
}

// ListAfter calls fn for each live object whose key starts with prefix
// and sorts after startAfter, in lexical key order: through s's own
// ListAfter where it has one, else by List, skipping the keys before.
// Returning an error from fn stops the walk.
func ListAfter(ctx context.Context, s Store, prefix, startAfter string, fn func(Info) error) error {
	if l, ok := s.(AfterLister); ok {
		return l.ListAfter(ctx, prefix, startAfter, fn)
	}
	return s.List(ctx, prefix, func(i Info) error {
		if i.Key <= startAfter {
			return nil
		}
		return fn(i)
	})
}

// DeleteEveryVersion permanently deletes every stored version of key
// (delete markers too); a key with none is no error. It is how something
// written where it must not stay (to a case being disposed of) is taken
// back whole in a versioned bucket.
func DeleteEveryVersion(ctx context.Context, s Store, key string) error {
	vs, err := s.Versions(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	infos := make([]Info, len(vs))
	for i, v := range vs {
		infos[i] = v.Info
	}
	return errors.Join(s.DeleteVersions(ctx, infos)...)
}
