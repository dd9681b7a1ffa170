package objstore_test

import (
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/objstore/storetest"
)

// TestS3Contract runs the contract suite against the test MinIO, one fresh
// bucket per subtest. Without PARLEY_TEST_S3_* it skips (see testenv).
func TestS3Contract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) objstore.Store {
		s, err := objstore.OpenS3(t.Context(), testenv.S3(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestS3RefusesBucketWithoutLock: a bucket made without object locking
// cannot enforce legal holds, and it cannot be fixed after the fact, so
// OpenS3 must refuse it instead of running on it.
func TestS3RefusesBucketWithoutLock(t *testing.T) {
	cfg := testenv.S3(t)
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(t.Context(), cfg.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.OpenS3(t.Context(), cfg); err == nil {
		t.Fatal("OpenS3 accepted a bucket without object lock")
	}
}

// TestS3OpenExisting: opening an existing (locked) bucket again works, as
// every restart of Parley does.
func TestS3OpenExisting(t *testing.T) {
	cfg := testenv.S3(t)
	for range 2 {
		s, err := objstore.OpenS3(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}
