package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where the S3 store lives.
type S3Config struct {
	Endpoint  string // host:port, no scheme
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string // "" lets the server decide (MinIO: us-east-1)
	Insecure  bool   // plain http: only for a server on loopback or in tests
}

// S3 is a Store on an S3 bucket (MinIO in Parley's deployments), through
// minio-go. The bucket has object locking on, which implies versioning:
// every Put makes a new version, Delete(key, "") adds a delete marker, and a
// version under legal hold cannot be deleted by anyone, Parley included,
// until the hold is released.
//
// Conditional writes are the server's If-None-Match / If-Match, so they are
// safe across processes and machines, not only within this one.
type S3 struct {
	client *minio.Client
	core   minio.Core // for GetObject that fails eagerly and exposes headers
	bucket string
}

// s3PartSize is the part size for multipart uploads, used when Put gets size
// -1 (or a body over one part). minio-go holds one part in memory at a time,
// so this bounds a streaming Put's memory; 16 MiB keeps the part count of a
// 1 GiB document at 64, far below S3's limit of 10,000 parts.
const s3PartSize = 16 << 20

var _ Store = (*S3)(nil)

// OpenS3 connects to the endpoint and makes sure the bucket exists with
// object locking on, creating it if missing.
//
// An existing bucket without object locking is refused rather than used: on
// such a bucket PutObjectLegalHold fails and, worse, nothing on the server
// would stop a held version from being deleted. Object locking can only be
// chosen when a bucket is created, so the fix is a new bucket.
func OpenS3(ctx context.Context, cfg S3Config) (*S3, error) {
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: s3 %s: %w", cfg.Endpoint, err)
	}
	s := &S3{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket}
	exists, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("objstore: s3 bucket %s: %w", cfg.Bucket, err)
	}
	if !exists {
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region, ObjectLocking: true})
		// Another instance starting at the same moment may win the race.
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return nil, fmt.Errorf("objstore: s3 create bucket %s: %w", cfg.Bucket, err)
		}
	}
	lock, _, _, _, err := client.GetObjectLockConfig(ctx, cfg.Bucket)
	if err != nil || lock != "Enabled" {
		return nil, fmt.Errorf("objstore: s3 bucket %s has no object lock (legal holds would not be enforced); "+
			"object locking can only be enabled when a bucket is created: %v", cfg.Bucket, err)
	}
	return s, nil
}

// Get implements Store. Info.Size is the whole version's size even when a
// range is read.
func (s *S3) Get(ctx context.Context, key string, opts GetOptions) (io.ReadCloser, Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Info{}, err
	}
	if !plausibleVersionID(opts.VersionID) {
		return nil, Info{}, fmt.Errorf("%w: %s@%s", ErrNotFound, key, opts.VersionID)
	}
	o := minio.GetObjectOptions{VersionID: opts.VersionID}
	var err error
	switch {
	case opts.Offset < 0 || opts.Length < 0:
		err = fmt.Errorf("%w: offset %d length %d", errRange, opts.Offset, opts.Length)
	case opts.Length > 0:
		err = o.SetRange(opts.Offset, opts.Offset+opts.Length-1)
	case opts.Offset > 0:
		err = o.SetRange(opts.Offset, 0)
	}
	if err != nil {
		return nil, Info{}, err
	}
	rc, oi, h, err := s.core.GetObject(ctx, s.bucket, key, o)
	if err != nil && opts.Offset == 0 && opts.Length > 0 && minio.ToErrorResponse(err).Code == "InvalidRange" {
		// Only an empty object makes "bytes=0-N" unsatisfiable, but
		// reading an empty object is fine: ask again without the range,
		// and keep the limit in case it was replaced in between.
		o = minio.GetObjectOptions{VersionID: opts.VersionID}
		if rc, oi, h, err = s.core.GetObject(ctx, s.bucket, key, o); err == nil {
			rc = limitReadCloser(rc, opts.Length)
		}
	}
	if err != nil {
		return nil, Info{}, s3Error("get", key, err)
	}
	info := objectInfo(key, oi)
	// A ranged response's Content-Length is the range's; the version's size
	// is after the slash of "Content-Range: bytes 10-14/100".
	if cr := h.Get("Content-Range"); cr != "" {
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				info.Size = n
			}
		}
	}
	return rc, info, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s3Error("stat", key, err)
	}
	return objectInfo(key, oi), nil
}

// Put implements Store. With size -1 the body is streamed as a multipart
// upload, one s3PartSize part in memory at a time; the object appears only
// when the upload completes, and a failed upload is aborted. The conditions
// hold for multipart uploads too (checked on this MinIO). Info.Modified is
// zero: S3 does not return it from a PUT (use Stat if it matters).
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if opts.IfNoneMatch && opts.IfMatch != "" {
		return Info{}, errors.New("objstore: put: IfNoneMatch and IfMatch are exclusive")
	}
	po := minio.PutObjectOptions{ContentType: opts.ContentType, PartSize: s3PartSize}
	if po.ContentType == "" {
		po.ContentType = "application/octet-stream"
	}
	if opts.IfNoneMatch {
		po.SetMatchETagExcept("*")
	}
	if opts.IfMatch != "" {
		po.SetMatchETag(opts.IfMatch) // minio-go adds the quotes
	}
	ui, err := s.client.PutObject(ctx, s.bucket, key, r, size, po)
	if err != nil {
		// If-Match on a missing key is answered 404 NoSuchKey, not 412;
		// for the caller it is the same lost race.
		if opts.IfMatch != "" && minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return Info{}, fmt.Errorf("%w: s3 put %q: %w", ErrPrecondition, key, err)
		}
		return Info{}, s3Error("put", key, err)
	}
	// The PUT response carries no Last-Modified, so Modified stays zero
	// rather than guessed from our clock; Stat has the server's time.
	return Info{Key: key, ETag: ui.ETag, VersionID: ui.VersionID, Size: ui.Size, Modified: ui.LastModified}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key, versionID string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if !plausibleVersionID(versionID) {
		return nil // names no version, so there is nothing to delete
	}
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: versionID})
	if err == nil {
		return nil
	}
	if versionID != "" {
		// MinIO refuses a held version with 400 InvalidRequest "Object is
		// WORM protected and cannot be overwritten" (AWS says 403
		// AccessDenied). Neither code is specific to holds, so look
		// before calling it one.
		if held, herr := s.LegalHold(ctx, key, versionID); herr == nil && held {
			return fmt.Errorf("%w: %s@%s: %w", ErrHeld, key, versionID, err)
		}
	}
	err = s3Error("delete", key, err)
	if errors.Is(err, ErrNotFound) {
		return nil // already gone
	}
	return err
}

// List implements Store. The listing is S3's (lexical, live objects only),
// and, as S3 listings do not carry version IDs, Info.VersionID is empty and
// Info.Modified has millisecond precision.
func (s *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	return s.ListAfter(ctx, prefix, "", fn)
}

// ListAfter implements AfterLister with S3's StartAfter: the listing
// begins past startAfter on the server.
func (s *S3) ListAfter(ctx context.Context, prefix, startAfter string, fn func(Info) error) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true, StartAfter: startAfter}
	for oi := range s.client.ListObjectsIter(ctx, s.bucket, opts) {
		if oi.Err != nil {
			return s3Error("list", prefix, oi.Err)
		}
		if err := fn(objectInfo(oi.Key, oi)); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Versions implements Store. S3 can only list versions by prefix, so this
// lists versions under the prefix key and stops at the first other key:
// key itself sorts before every longer key that starts with it.
func (s *S3) Versions(ctx context.Context, key string) ([]Version, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	var out []Version
	opts := minio.ListObjectsOptions{Prefix: key, Recursive: true, WithVersions: true}
	for oi := range s.client.ListObjectsIter(ctx, s.bucket, opts) {
		if oi.Err != nil {
			return nil, s3Error("versions", key, oi.Err)
		}
		if oi.Key != key {
			break
		}
		out = append(out, Version{Info: objectInfo(key, oi), IsLatest: oi.IsLatest, DeleteMarker: oi.IsDeleteMarker})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return out, nil
}

// VersionsUnder implements Store, with S3's versioned listing.
func (s *S3) VersionsUnder(ctx context.Context, prefix string, fn func(Version) error) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}
	for oi := range s.client.ListObjectsIter(ctx, s.bucket, opts) {
		if oi.Err != nil {
			return s3Error("versions", prefix, oi.Err)
		}
		if err := fn(Version{Info: objectInfo(oi.Key, oi), IsLatest: oi.IsLatest, DeleteMarker: oi.IsDeleteMarker}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// DeleteVersions implements Store with S3's multi-object delete (up to
// 1,000 versions a request; minio-go batches).
func (s *S3) DeleteVersions(ctx context.Context, versions []Info) []error {
	errs := make([]error, len(versions))
	index := map[[2]string]int{}
	var objs []minio.ObjectInfo
	for i, v := range versions {
		if err := ValidateKey(v.Key); err != nil {
			errs[i] = err
			continue
		}
		if !plausibleVersionID(v.VersionID) || v.VersionID == "" {
			continue // names no version: nothing to delete
		}
		index[[2]string{v.Key, v.VersionID}] = i
		objs = append(objs, minio.ObjectInfo{Key: v.Key, VersionID: v.VersionID})
	}
	if len(objs) == 0 {
		return errs
	}
	results, err := s.client.RemoveObjectsWithIter(ctx, s.bucket, slices.Values(objs), minio.RemoveObjectsOptions{})
	if err != nil {
		return fillErrs(errs, index, s3Error("delete", versions[0].Key, err))
	}
	for r := range results {
		if r.Err == nil {
			continue
		}
		i, ok := index[[2]string{r.ObjectName, r.ObjectVersionID}]
		if !ok {
			return fillErrs(errs, index, s3Error("delete", r.ObjectName, r.Err))
		}
		v := versions[i]
		if held, herr := s.LegalHold(ctx, v.Key, v.VersionID); herr == nil && held {
			errs[i] = fmt.Errorf("%w: %s@%s: %w", ErrHeld, v.Key, v.VersionID, r.Err)
		} else if err := s3Error("delete", v.Key, r.Err); !errors.Is(err, ErrNotFound) {
			errs[i] = err
		}
	}
	return errs
}

// fillErrs sets err for every indexed version that has no error yet.
func fillErrs(errs []error, index map[[2]string]int, err error) []error {
	for _, i := range index {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	return errs
}

// SetLegalHold implements Store.
func (s *S3) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if !plausibleVersionID(versionID) {
		return fmt.Errorf("%w: %s@%s", ErrNotFound, key, versionID)
	}
	status := minio.LegalHoldDisabled
	if on {
		status = minio.LegalHoldEnabled
	}
	err := s.client.PutObjectLegalHold(ctx, s.bucket, key, minio.PutObjectLegalHoldOptions{VersionID: versionID, Status: &status})
	return s3Error("set legal hold", key, err)
}

// LegalHold implements Store. A version that never had a hold set reports
// false.
func (s *S3) LegalHold(ctx context.Context, key, versionID string) (bool, error) {
	if err := ValidateKey(key); err != nil {
		return false, err
	}
	if !plausibleVersionID(versionID) {
		return false, fmt.Errorf("%w: %s@%s", ErrNotFound, key, versionID)
	}
	st, err := s.client.GetObjectLegalHold(ctx, s.bucket, key, minio.GetObjectLegalHoldOptions{VersionID: versionID})
	if minio.ToErrorResponse(err).Code == "NoSuchObjectLockConfiguration" {
		return false, nil // never held: S3 reports it as an error
	}
	if err != nil {
		return false, s3Error("legal hold", key, err)
	}
	return st != nil && *st == minio.LegalHoldEnabled, nil
}

// Ping implements Store: the bucket must be reachable and exist.
func (s *S3) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("objstore: s3 ping: %w", err)
	}
	if !ok {
		return fmt.Errorf("objstore: s3 ping: bucket %s does not exist", s.bucket)
	}
	return nil
}

// plausibleVersionID screens version IDs before they reach the server. They
// come from callers, and MinIO rejects a whole request whose query holds a
// "." or ".." path component (XMinioInvalidResourceName) instead of saying
// the version does not exist. Other malformed IDs get "Invalid version id
// specified", which s3Error maps to ErrNotFound.
func plausibleVersionID(vid string) bool {
	for seg := range strings.SplitSeq(vid, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func limitReadCloser(rc io.ReadCloser, n int64) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, n), rc}
}

func objectInfo(key string, oi minio.ObjectInfo) Info {
	return Info{Key: key, ETag: oi.ETag, VersionID: oi.VersionID, Size: oi.Size, Modified: oi.LastModified}
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// s3Error maps an S3 error response onto the package's sentinel errors,
// keeping the original in the chain for logs. nil stays nil.
func s3Error(op, key string, err error) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	var sentinel error
	switch {
	case resp.Code == "NoSuchKey" || resp.Code == "NoSuchVersion":
		sentinel = ErrNotFound
	case resp.Code == "MethodNotAllowed" && resp.StatusCode == http.StatusMethodNotAllowed:
		// GET of a version that is a delete marker.
		sentinel = ErrNotFound
	case resp.Code == "PreconditionFailed" || resp.StatusCode == http.StatusPreconditionFailed:
		sentinel = ErrPrecondition
	case resp.Code == "InvalidRange":
		sentinel = errRange
	case resp.Code == "InvalidArgument" && strings.Contains(resp.Message, "version id"):
		// MinIO version IDs are UUIDs; anything else ("Invalid version id
		// specified") cannot name an existing version.
		sentinel = ErrNotFound
	case !errors.Is(err, context.Canceled) && (resp.StatusCode >= 500 || (resp.StatusCode == 0 && resp.Code == "") || isNetError(err)):
		// No S3 answer at all (refused, reset, timed out) or a server
		// error (e.g. MinIO still starting).
		sentinel = ErrUnavailable
	default:
		return fmt.Errorf("objstore: s3 %s %q: %w", op, key, err)
	}
	return fmt.Errorf("%w: s3 %s %q: %w", sentinel, op, key, err)
}
