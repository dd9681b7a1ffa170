// Package testenv connects tests to the real services they need (MinIO,
// Redis) through PARLEY_TEST_* environment variables, which
// `scripts/services.sh start` writes and `make test` sources.
//
// A test that needs a missing service skips, so `go test ./...` works on a
// bare checkout. CI sets PARLEY_TEST_REQUIRE_SERVICES=1 to turn those skips
// into failures: a suite that silently skipped its storage tests would pass
// without testing anything.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

// S3 returns the test MinIO's config with a fresh bucket name on every call
// (parley-test-<hex>), so tests never see each other's objects and need no
// cleanup: the bucket is created by objstore.OpenS3, and the services'
// state directory is thrown away with the rest.
func S3(t testing.TB) objstore.S3Config {
	t.Helper()
	v := need(t, "PARLEY_TEST_S3_ENDPOINT", "PARLEY_TEST_S3_ACCESS_KEY", "PARLEY_TEST_S3_SECRET_KEY")
	return objstore.S3Config{
		Endpoint:  v[0],
		AccessKey: v[1],
		SecretKey: v[2],
		Bucket:    "parley-test-" + randomHex(8),
		Insecure:  true, // services.sh serves plain http on 127.0.0.1
	}
}

// FlushableRedisURL is RedisURL with database db (1–15). A test that
// flushes Redis uses a database of its own and FLUSHDB, never FLUSHALL:
// the tests of other packages run at the same time against the same
// server and keep what they hold in database 0 (TestNoPlaintextReachesTheServer
// looks for its control message there). Pub/sub channels are not per
// database; tests' topics differ by their random case and node ids.
func FlushableRedisURL(t testing.TB, db int) string {
	t.Helper()
	u, err := url.Parse(RedisURL(t))
	if err != nil || db < 1 || db > 15 {
		t.Fatalf("redis url %v, database %d", err, db)
	}
	u.Path = "/" + strconv.Itoa(db)
	return u.String()
}

// RedisURL returns the test Redis URL (redis://127.0.0.1:<port>/0).
func RedisURL(t testing.TB) string {
	t.Helper()
	return need(t, "PARLEY_TEST_REDIS_URL")[0]
}

// need returns the named variables' values, or ends the test when any is
// missing: t.Fatal under PARLEY_TEST_REQUIRE_SERVICES=1, else t.Skip.
func need(t testing.TB, names ...string) []string {
	t.Helper()
	var vals, missing []string
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			missing = append(missing, n)
		}
		vals = append(vals, v)
	}
	if len(missing) == 0 {
		return vals
	}
	msg := strings.Join(missing, ", ") + " not set"
	if os.Getenv("PARLEY_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s, and PARLEY_TEST_REQUIRE_SERVICES=1", msg)
	}
	t.Skipf("%s; run `make test` to start MinIO and Redis", msg)
	return nil
}

// randomHex is lowercase on purpose: S3 bucket names must be.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return hex.EncodeToString(b)
}

// OnEachStore runs f on a local directory store and on S3 (the test
// MinIO), as subtests "dir" and "s3": the same code on both stores.
func OnEachStore(t *testing.T, f func(t *testing.T, store objstore.Store)) {
	t.Run("dir", func(t *testing.T) {
		store, err := objstore.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		f(t, store)
	})
	t.Run("s3", func(t *testing.T) {
		store, err := objstore.OpenS3(t.Context(), S3(t))
		if err != nil {
			t.Fatal(err)
		}
		f(t, store)
	})
}

// BucketsCopyable reports whether CopyBucket can copy a bucket here: the
// test MinIO's address and its data directory (PARLEY_TEST_MINIO_DATA,
// which scripts/services.sh sets) are both known.
func BucketsCopyable() bool {
	for _, n := range []string{"PARLEY_TEST_S3_ENDPOINT", "PARLEY_TEST_S3_ACCESS_KEY", "PARLEY_TEST_S3_SECRET_KEY", "PARLEY_TEST_MINIO_DATA"} {
		if os.Getenv(n) == "" {
			return false
		}
	}
	return true
}

// CopyBucket makes a new bucket of the test MinIO holding what bucket src
// holds: every version of every object with its version id, its legal
// hold and its time, and every delete marker, which no S3 request can
// copy (a copied object is a new version with a new id). It copies src's
// directory in MinIO's data directory into the new bucket's: the MinIO
// that scripts/services.sh starts runs on one drive, where a bucket is a
// directory holding a directory per object (its xl.meta, which records its
// versions, and the data of those too large to be inlined). src must not
// change while it is copied. The copy is checked (both buckets list the
// same versions) before it is returned, so a MinIO that lays its drive out
// otherwise fails the test rather than give it another world. Only where
// BucketsCopyable.
func CopyBucket(t testing.TB, src objstore.S3Config) (objstore.S3Config, *objstore.S3) {
	t.Helper()
	data := need(t, "PARLEY_TEST_MINIO_DATA")[0]
	ctx := t.Context()
	from, err := objstore.OpenS3(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	cfg := S3(t)
	cfg.Region = src.Region
	to, err := objstore.OpenS3(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(data, src.Bucket)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("copying bucket %s in MinIO's data directory: %v", src.Bucket, err)
	}
	for _, ent := range entries {
		if err := os.CopyFS(filepath.Join(data, cfg.Bucket, ent.Name()), os.DirFS(filepath.Join(dir, ent.Name()))); err != nil {
			t.Fatalf("copying bucket %s in MinIO's data directory: %v", src.Bucket, err)
		}
	}
	versions := func(s *objstore.S3) []string {
		var out []string
		if err := s.VersionsUnder(ctx, "", func(v objstore.Version) error {
			out = append(out, fmt.Sprintf("%s@%s %v %d", v.Key, v.VersionID, v.DeleteMarker, v.Size))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want, got := versions(from), versions(to)
	if !slices.Equal(got, want) {
		t.Fatalf("bucket %s copied by its directory in MinIO's data directory lists %d versions, not the %d of %s: this MinIO does not keep a bucket as a directory",
			cfg.Bucket, len(got), len(want), src.Bucket)
	}
	return cfg, to
}
