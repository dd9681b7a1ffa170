package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// gatedReader yields its first part, then waits for release before the
// rest: an upload caught mid-stream.
type gatedReader struct {
	first, rest io.Reader
	started     chan struct{}
	release     chan struct{}
	waited      bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	n, err := g.first.Read(p)
	if n > 0 || !errors.Is(err, io.EOF) {
		return n, err
	}
	if !g.waited {
		g.waited = true
		close(g.started)
		<-g.release
	}
	return g.rest.Read(p)
}

// A version that was uploading while its document was shared to a wider
// audience is refused, not slipped in under the share: the people who
// newly gained access would see a version nobody reviewed for them. The
// refused version leaves no object behind.
func TestVersionUploadRacingAShareIsRefused(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "caucus:A"), ClassCorrespondence, []byte("reviewed offer"))

		g := &gatedReader{first: strings.NewReader(strings.Repeat("draft ", 20000)), rest: strings.NewReader("unreviewed"),
			started: make(chan struct{}), release: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := e.vault.AddVersion(ctx, k.who["counselA"], k.caseID, d.ID, NewVersion{}, g)
			done <- err
		}()
		<-g.started
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "joint"), false); err != nil {
			close(g.release)
			t.Fatal(err)
		}
		close(g.release)
		if err := <-done; !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("version uploaded across a share: %v", err)
		}
		got, err := e.vault.Get(ctx, k.who["partyB"], k.caseID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Versions) != 1 || got.Versions[0].Version != 1 {
			t.Fatalf("side B sees versions %+v", got.Versions)
		}
		for _, key := range []string{objectKey(k.caseID, d.ID, 2), versionKey(k.caseID, d.ID, 2)} {
			if vs, err := store.Versions(ctx, key); err == nil && len(vs) > 0 {
				t.Errorf("refused version left %s behind: %+v", key, vs)
			}
		}
	})
}

// gatePuts holds every write to a key containing part until release is
// closed, saying on arrived that one began: a request caught between its
// checks and its write.
type gatePuts struct {
	objstore.Store
	part    string
	once    sync.Once
	arrived chan struct{}
	release chan struct{}
}

func (g *gatePuts) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.Contains(key, g.part) {
		g.once.Do(func() { close(g.arrived) })
		select {
		case <-g.release:
		case <-ctx.Done():
			return objstore.Info{}, ctx.Err()
		}
	}
	return g.Store.Put(ctx, key, r, size, opts)
}

// TestShareRequestRacingErasureGoesWithIt: a share request whose checks
// passed before its version was erased, and whose record is written only
// after the erasure deleted the version's requests, does not outlive the
// version: it is refused (410) and leaves no stored request, and its
// doc.share.requested entry is followed by doc.share.requested.failed.
// Both ways a version is erased: DestroyDataKeys (one version of two) and
// Dispose (the whole document). Before, the request was answered as made
// and its record stayed until the case went.
func TestShareRequestRacingErasureGoesWithIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		versions int
		erase    func(e *env, caseID, docID string) error
	}{
		{"DestroyDataKeys", 2, func(e *env, caseID, docID string) error {
			return e.vault.DestroyDataKey(context.Background(), "u-retention", caseID, docID, 2)
		}},
		{"Dispose", 1, func(e *env, caseID, docID string) error {
			errs, err := e.vault.Dispose(context.Background(), "u-retention", []VersionRef{{Case: caseID, Doc: docID, Version: 1}}, nil, 2, nil)
			if err == nil {
				err = errs[0]
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			onEachStore(t, func(t *testing.T, store objstore.Store) {
				g := &gatePuts{Store: store, part: "/approvals/", arrived: make(chan struct{}), release: make(chan struct{})}
				e := newEnv(t, g)
				k := e.newCast(t)
				ctx := t.Context()
				med, pA := k.who["mediator"], k.who["partyA"]
				d := e.upload(t, pA, k.caseID, "Lease.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("v1"))
				for v := 2; v <= tc.versions; v++ {
					if _, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{}, strings.NewReader(fmt.Sprintf("v%d", v))); err != nil {
						t.Fatal(err)
					}
				}
				from := e.log.Size()
				done := make(chan error, 1)
				go func() {
					_, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, k.audience(t, "joint"))
					done <- err
				}()
				<-g.arrived // checked, audited, its record not yet written
				if err := tc.erase(e, k.caseID, d.ID); err != nil {
					close(g.release)
					t.Fatalf("erase: %v", err)
				}
				close(g.release)
				if err := <-done; !errors.Is(err, fault.ErrGone) {
					t.Errorf("request made as its version was erased: %v", err)
				}
				n := 0
				if err := store.VersionsUnder(ctx, approvalPrefix(k.caseID), func(objstore.Version) error { n++; return nil }); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("%d stored versions of a request about an erased version", n)
				}
				var types []string
				for _, ev := range e.entries(t, from) {
					if strings.HasPrefix(ev.Type, "doc.share.requested") {
						types = append(types, ev.Type)
					}
				}
				if !slices.Equal(types, []string{"doc.share.requested", "doc.share.requested.failed"}) {
					t.Errorf("request entries %v, want the request and its correction", types)
				}
			})
		})
	}
}
