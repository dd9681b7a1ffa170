package web_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/server"
)

// recordWriteFailing is the node's real store, except that while fail is
// set, writing a document record under prefix fails with what fail makes
// of the key (the store's own errors carry the key they failed on).
type recordWriteFailing struct {
	objstore.Store
	mu     sync.Mutex
	prefix string
	fail   func(key string) error
}

func (s *recordWriteFailing) arm(prefix string, fail func(key string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prefix, s.fail = prefix, fail
}

func (s *recordWriteFailing) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	s.mu.Lock()
	prefix, fail := s.prefix, s.fail
	s.mu.Unlock()
	if fail != nil && strings.HasPrefix(key, prefix) {
		if err := fail(key); err != nil {
			return objstore.Info{}, err
		}
	}
	return s.Store.Put(ctx, key, r, size, opts)
}

// TestUploadRecordWriteFailureSaysNoKey: an upload whose document record
// write fails without being refused (the store unreachable, a deadline,
// any other store error, each naming the record's internal key) is
// answered with a problem in plain words that names no internal key,
// store or raw error, and says what happened: the document may still
// appear, so look for it before uploading it again (before: 500
// "Something went wrong on the server" for a deadline or any other store
// error, and 503 "try it again shortly" when unreachable, which could add
// the document twice; no key leaked either way).
func TestUploadRecordWriteFailureSaysNoKey(t *testing.T) {
	fs := &recordWriteFailing{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fs.Store = s; return fs }})
	k := newVaultCast(t, n)
	for _, tc := range []struct {
		name string
		err  func(key string) error
	}{
		{"unreachable", func(key string) error {
			return fmt.Errorf("%w: s3 put %q: connection reset by peer", objstore.ErrUnavailable, key)
		}},
		{"deadline", func(key string) error { return fmt.Errorf("objstore: s3 put %q: %w", key, context.DeadlineExceeded) }},
		{"other", func(key string) error {
			return fmt.Errorf("objstore: s3 put %q: %w", key, errors.New("We encountered an internal error, please try again."))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs.arm("vault/"+k.caseID+"/docs/", tc.err)
			defer fs.arm("", nil)
			_, err := k.as["mediator"].UploadDocument(t.Context(), k.caseID, client.Upload{Name: "offer.txt", MediaType: "text/plain",
				Audience: "joint", Class: "evidence", Body: bytes.NewReader([]byte("our offer")), Size: 9})
			var ce *client.Error
			if !errors.As(err, &ce) {
				t.Fatalf("upload whose record write failed: %v", err)
			}
			p := ce.Problem
			body := p.Type + " " + p.Title + " " + p.Detail
			for _, e := range p.Errors {
				body += " " + e.Field + " " + e.Detail
			}
			for _, leak := range []string{"vault/", "/docs/", k.caseID, "objstore", "s3 ", "connection reset", "deadline", "internal error"} {
				if strings.Contains(body, leak) {
					t.Errorf("the problem says %q: %+v", leak, p)
				}
			}
			// What happened, plainly: the document may still appear, so
			// look before uploading it again (not "try it again", which
			// could add it twice, nor "something went wrong").
			if ce.Status != 503 || p.Type != "urn:parley:problem:upload-unconfirmed" || !strings.Contains(p.Detail, "documents list") {
				t.Errorf("status %d, problem %+v: want 503 upload-unconfirmed (not unavailable, which the browser reads as \"nothing was saved\") saying to look at the documents list before uploading again", ce.Status, p)
			}
		})
	}
}

// TestAgreementSaveNotConfirmedSaysSo: saving an agreement's text adds a
// version to its document; when that version's record write may still
// land, the mediator is told so in the same words as for an upload (look
// before saving again), not "try it again shortly", which could add the
// version twice (review: the save path answered the store's fault kind).
func TestAgreementSaveNotConfirmedSaysSo(t *testing.T) {
	fs := &recordWriteFailing{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fs.Store = s; return fs }})
	k := newVaultCast(t, n)
	med := k.as["mediator"]
	a, err := med.StartAgreement(t.Context(), k.caseID, api.AgreementStartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// The save reserves its version number in the document's record
	// first (a failure there adds nothing: "try again" is right); the
	// record write that lists the version is the second.
	var writes atomic.Int32
	fs.arm("vault/"+k.caseID+"/docs/", func(key string) error {
		if writes.Add(1) == 1 {
			return nil
		}
		return fmt.Errorf("%w: s3 put %q: connection reset by peer", objstore.ErrUnavailable, key)
	})
	defer fs.arm("", nil)
	_, err = med.SaveAgreement(t.Context(), k.caseID, a.Current.Version, "The parties agree to a payment plan.")
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("save whose version record write failed: %v", err)
	}
	p := ce.Problem
	if ce.Status != 503 || p.Type != "urn:parley:problem:upload-unconfirmed" || !strings.Contains(p.Detail, "documents list") ||
		strings.Contains(p.Detail+p.Title, "vault/") || strings.Contains(p.Detail+p.Title, "connection reset") {
		t.Errorf("status %d, problem %+v: want 503 upload-unconfirmed saying to look before saving again, naming nothing internal", ce.Status, p)
	}
}
