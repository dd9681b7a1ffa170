package objstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/parley-mediation/parley/internal/fault"
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

// TestS3UnreachableIsUnavailable: once the store stops answering, calls
// fail with ErrUnavailable (which the web layer answers with 503), not an
// unnamed error.
func TestS3UnreachableIsUnavailable(t *testing.T) {
	cfg := testenv.S3(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	target := cfg.Endpoint
	go func() { // a proxy to MinIO that the test can cut
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			go io.Copy(out, in)
			go io.Copy(in, out)
		}
	}()
	cfg.Endpoint = ln.Addr().String()
	s, err := objstore.OpenS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "k", strings.NewReader("v"), 1, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	ln.Close()
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err = s.Put(ctx, "k2", strings.NewReader("v"), 1, objstore.PutOptions{})
	if !errors.Is(err, objstore.ErrUnavailable) || !errors.Is(err, fault.ErrUnavailable) {
		t.Fatalf("put with the store gone: %v, want ErrUnavailable", err)
	}
	_, _, err = s.Get(ctx, "k", objstore.GetOptions{})
	if !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("get with the store gone: %v, want ErrUnavailable", err)
	}
}
