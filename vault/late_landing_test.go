package vault

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

// lateStore is a real store whose armed write is held back: the call
// answers context.DeadlineExceeded at once, having written nothing, and
// the write is made later, as sent (its conditions too), when the test
// calls land — a request the store carries out after its caller gave up.
// before, if set, runs once before the first write under beforePrefix (a
// version being staged).
type lateStore struct {
	objstore.Store
	mu           sync.Mutex
	key          string // armed: writes to keys under it
	skip         int    // writes under key that pass before the armed one
	pending      func() error
	beforePrefix string
	before       func()
}

func (s *lateStore) arm(key string, skip int) {
	s.mu.Lock()
	s.key, s.skip = key, skip
	s.mu.Unlock()
}

func (s *lateStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	s.mu.Lock()
	var before func()
	if s.before != nil && strings.HasPrefix(key, s.beforePrefix) {
		before, s.before = s.before, nil
	}
	hit := s.key != "" && strings.HasPrefix(key, s.key)
	if hit && s.skip > 0 {
		s.skip--
		hit = false
	}
	if hit {
		s.key = ""
	}
	s.mu.Unlock()
	if before != nil {
		before()
	}
	if !hit {
		return s.Store.Put(ctx, key, r, size, opts)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return objstore.Info{}, err
	}
	s.mu.Lock()
	s.pending = func() error {
		_, err := s.Store.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)), opts)
		return err
	}
	s.mu.Unlock()
	return objstore.Info{}, context.DeadlineExceeded
}

// land makes the held-back write now and returns what the store answered.
func (s *lateStore) land(t *testing.T) error {
	t.Helper()
	s.mu.Lock()
	p := s.pending
	s.pending = nil
	s.mu.Unlock()
	if p == nil {
		t.Fatal("no write was held back")
	}
	return p()
}

func newLateEnv(t *testing.T, store objstore.Store) (*env, *lateStore) {
	t.Helper()
	s := &lateStore{Store: store}
	return newEnv(t, s), s
}

// wantListedHeld fails unless every stored version of the ciphertext and
// key record of each live version document docID lists is under the
// storage hold.
func wantListedHeld(t *testing.T, e *env, caseID, docID string) {
	t.Helper()
	ctx := t.Context()
	var d docRecord
	if _, err := e.meta.Get(ctx, docKey(caseID, docID), &d); err != nil {
		t.Fatal(err)
	}
	for _, v := range d.Versions {
		for _, key := range []string{objectKey(caseID, docID, v.Version), versionKey(caseID, docID, v.Version)} {
			vs, err := e.store.Versions(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			for _, sv := range vs {
				if sv.DeleteMarker {
					continue
				}
				if on, err := e.store.LegalHold(ctx, key, sv.VersionID); err != nil {
					t.Fatal(err)
				} else if !on {
					t.Errorf("version %d (%s) is listed in a held case or document without its storage hold", v.Version, key)
				}
			}
		}
	}
}

// TestUnconfirmedAdditionLandingUnderCaseHoldIsHeld: a new version, and
// a new document, whose record change is answered with an error
// (ErrUnconfirmed) and carried out by the store only later, after a case
// hold was placed. Before, the hold's pass over the case's documents did
// not see the version (not listed yet) and its uploader had given up, so
// it was listed under the case hold without its storage hold. Now the
// case hold holds every staged version too (holdStored).
func TestUnconfirmedAdditionLandingUnderCaseHoldIsHeld(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e, s := newLateEnv(t, store)
		k := e.newCast(t)
		med := k.who["mediator"]
		ctx := t.Context()
		d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "joint"), ClassCorrespondence, []byte("offer v1"))

		s.arm(docKey(k.caseID, d.ID), 1) // the first write reserves the number
		if _, err := e.vault.AddVersion(ctx, med, k.caseID, d.ID, NewVersion{}, strings.NewReader("offer v2")); !errors.Is(err, ErrUnconfirmed) {
			t.Fatalf("AddVersion whose record write was held back: %v, want ErrUnconfirmed", err)
		}
		s.mu.Lock()
		addition := s.pending
		s.pending = nil
		s.mu.Unlock()

		s.arm(docPrefix(k.caseID), 0)
		if _, err := e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "late.pdf", MediaType: "application/pdf",
			Audience: k.audience(t, "joint"), Class: ClassEvidence}, strings.NewReader("late")); !errors.Is(err, ErrUnconfirmed) {
			t.Fatalf("Upload whose record write was held back: %v, want ErrUnconfirmed", err)
		}

		if err := e.vault.SetCaseHold(ctx, k.who["records"].ID, k.caseID, true); err != nil {
			t.Fatal(err)
		}
		if err := addition(); err != nil {
			t.Fatalf("the held-back version write: %v", err)
		}
		if err := s.land(t); err != nil {
			t.Fatalf("the held-back document write: %v", err)
		}

		if vs := e.listedVersions(t, k.caseID, d.ID); !slices.Equal(vs, []int{1, 2}) {
			t.Fatalf("listed versions = %v, want [1 2] (the write landed)", vs)
		}
		wantListedHeld(t, e, k.caseID, d.ID)
		list, err := e.vault.List(ctx, med, k.caseID)
		if err != nil {
			t.Fatal(err)
		}
		late := ""
		for _, doc := range list {
			if doc.Name == "late.pdf" {
				late = doc.ID
			}
		}
		if late == "" {
			t.Fatal("the document whose record landed late is not listed")
		}
		wantListedHeld(t, e, k.caseID, late)
	})
}

// TestUnconfirmedVersionLandingUnderDocumentHoldIsHeld: a hold is placed
// on a document while a new version of it is being staged (after its
// uploader read the document unheld), and the record change that lists
// the version is carried out by the store only after its uploader was
// answered ErrUnconfirmed. Before, that change was computed on the held
// record and landed: the version was listed in a held document without
// its storage hold. Now the change refuses to list an unheld version in
// a held document: the version is held first (errHoldFirst).
func TestUnconfirmedVersionLandingUnderDocumentHoldIsHeld(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e, s := newLateEnv(t, store)
		k := e.newCast(t)
		med := k.who["mediator"]
		ctx := t.Context()
		d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "joint"), ClassCorrespondence, []byte("offer v1"))

		var holdErr error
		s.mu.Lock()
		s.beforePrefix = objectKey(k.caseID, d.ID, 2)
		s.before = func() { _, holdErr = e.vault.SetHold(context.Background(), k.who["records"], k.caseID, d.ID, true) }
		s.mu.Unlock()
		s.arm(docKey(k.caseID, d.ID), 2) // the reservation and the hold pass
		_, err := e.vault.AddVersion(ctx, med, k.caseID, d.ID, NewVersion{}, strings.NewReader("offer v2"))
		if holdErr != nil {
			t.Fatal(holdErr)
		}
		if !errors.Is(err, ErrUnconfirmed) {
			t.Fatalf("AddVersion whose record write was held back: %v, want ErrUnconfirmed", err)
		}
		if err := s.land(t); err != nil {
			t.Fatalf("the held-back version write: %v", err)
		}
		if vs := e.listedVersions(t, k.caseID, d.ID); !slices.Equal(vs, []int{1, 2}) {
			t.Fatalf("listed versions = %v, want [1 2] (the write landed)", vs)
		}
		wantAllHeld(t, e, e.store, k.caseID, d.ID)
	})
}
