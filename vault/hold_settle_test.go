package vault

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

// releasingHoldStore is a real store that, once armed, runs onHold at the
// first SetLegalHold(on) it is asked (once), and then answers that call
// as a store that does not answer does (fail) or lets it through. It arms
// itself after the addition's record is written (the first write under
// prefix, or the visible-th write of key), once afterWrite has run, or
// is armed by the test.
type releasingHoldStore struct {
	objstore.Store
	prefix     string
	key        string
	visible    int32
	afterWrite func()
	onHold     func()
	fail       bool
	// refuseRelease: once onHold has run, every SetLegalHold(off) is
	// refused (errHoldRefused).
	refuseRelease bool

	puts   atomic.Int32
	once   sync.Once
	armed  atomic.Bool
	ran    atomic.Bool
	failed atomic.Int32
}

func (s *releasingHoldStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := s.Store.Put(ctx, key, r, size, opts)
	written := s.prefix != "" && strings.HasPrefix(key, s.prefix) ||
		s.key != "" && key == s.key && s.puts.Add(1) == s.visible
	if err == nil && written {
		s.once.Do(func() {
			if s.afterWrite != nil {
				s.afterWrite()
				s.armed.Store(true)
			}
		})
	}
	return info, err
}

func (s *releasingHoldStore) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if !on && s.refuseRelease && s.ran.Load() {
		return errHoldRefused
	}
	if on && s.armed.CompareAndSwap(true, false) {
		s.onHold()
		s.ran.Store(true)
		if s.fail {
			s.failed.Add(1)
			return fmt.Errorf("%w: test: SetLegalHold %s: connection refused", objstore.ErrUnavailable, key)
		}
	}
	return s.Store.SetLegalHold(ctx, key, versionID, on)
}

// TestAdditionUnderReleasedCaseHoldIsNotLeftHeld: an upload (or a new
// version) reads a case hold standing and sets its storage hold; records
// staff release the case hold at that moment (the release clears what it
// lists). The addition's storage hold is left to agree with the holds that
// stand once it is listed: the case hold released, the document record
// without a hold, its ciphertext and version record are not under legal
// hold (review 387; before, they stayed under a storage hold no hold stood
// for, no WARN said so, and a later disposal of the document paused).
// Cases: the hold placed after the write and released as the retried
// storage hold (store down for one call) is set; the same with no outage;
// the hold standing before the upload and released as the version is
// held before it is listed.
func TestAdditionUnderReleasedCaseHoldIsNotLeftHeld(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		afterPut bool // the hold is placed after the record is written
		fail     bool
	}{
		{name: "released during retried hold", afterPut: true, fail: true},
		{name: "released before hold", afterPut: true},
		{name: "released before listing"},
	} {
		for _, version := range []bool{false, true} {
			name := tc.name + "/new document"
			if version {
				name = tc.name + "/new version"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				onEachStore(t, func(t *testing.T, store objstore.Store) {
					st := &releasingHoldStore{Store: store, fail: tc.fail}
					e := newEnv(t, st)
					var logs syncBuffer
					e.vault.log = slog.New(slog.NewTextHandler(&logs, nil))
					k := e.newCast(t)
					ctx := t.Context()
					med := k.who["mediator"]
					st.onHold = func() {
						if err := e.vault.SetCaseHold(ctx, "retention", k.caseID, false); err != nil {
							t.Error(err)
						}
					}
					if tc.afterPut {
						st.afterWrite = func() {
							if err := e.vault.SetCaseHold(ctx, "retention", k.caseID, true); err != nil {
								t.Error(err)
							}
						}
					}
					var (
						d   Document
						err error
						num = 1
					)
					if version {
						first := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "joint"), ClassCorrespondence, []byte("offer v1"))
						st.key, st.visible, num = docKey(k.caseID, first.ID), 2, 2 // the first write reserves the number
						if !tc.afterPut {
							if err := e.vault.SetCaseHold(ctx, "retention", k.caseID, true); err != nil {
								t.Fatal(err)
							}
							st.armed.Store(true)
						}
						d, err = e.vault.AddVersion(ctx, med, k.caseID, first.ID, NewVersion{}, strings.NewReader("offer v2"))
					} else {
						st.prefix = docPrefix(k.caseID)
						if !tc.afterPut {
							if err := e.vault.SetCaseHold(ctx, "retention", k.caseID, true); err != nil {
								t.Fatal(err)
							}
							st.armed.Store(true)
						}
						d, err = e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "released.pdf", Audience: k.audience(t, "joint"), Class: ClassEvidence},
							strings.NewReader("held, then released"))
					}
					if err != nil {
						t.Fatalf("addition: %v", err)
					}
					if !st.ran.Load() {
						t.Fatal("the case hold was never released during the addition")
					}
					if tc.fail && st.failed.Load() != 1 {
						t.Fatalf("the store failed %d storage holds, want 1", st.failed.Load())
					}
					if vs := e.listedVersions(t, k.caseID, d.ID); !slices.Contains(vs, num) {
						t.Fatalf("listed versions of %s = %v, want %d among them", d.ID, vs, num)
					}
					if held, err := e.vault.CaseHeld(ctx, k.caseID); err != nil || held {
						t.Fatalf("case held %v (%v), want released", held, err)
					}
					var r docRecord
					if _, err := e.meta.Get(ctx, docKey(k.caseID, d.ID), &r); err != nil {
						t.Fatal(err)
					}
					if r.Hold != nil {
						t.Fatalf("document record holds it: %+v", r.Hold)
					}
					for n := 1; n <= num; n++ {
						for _, key := range []string{objectKey(k.caseID, d.ID, n), versionKey(k.caseID, d.ID, n)} {
							vs, err := store.Versions(ctx, key)
							if err != nil {
								t.Fatal(err)
							}
							for _, v := range vs {
								if v.DeleteMarker {
									continue
								}
								if on, err := store.LegalHold(ctx, key, v.VersionID); err != nil || on {
									t.Errorf("version %d: %s (%s) under legal hold %v (%v) with no hold standing", n, key, v.VersionID, on, err)
								}
							}
						}
					}
					if strings.Contains(logs.String(), "level=WARN") {
						t.Errorf("a WARN was logged; log:\n%s", logs.String())
					}
				})
			})
		}
	}
}

// TestAdditionWhoseHoldCannotBeClearedIsWarned: a case hold stands as a
// new document uploads and is released before the document is listed;
// the store then refuses to clear storage holds. The upload stands, its
// document under storage hold (the safe side), and a WARN names it so an
// operator can clear it (before: held, and nothing said so).
func TestAdditionWhoseHoldCannotBeClearedIsWarned(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		st := &releasingHoldStore{Store: store, refuseRelease: true}
		e := newEnv(t, st)
		var logs syncBuffer
		e.vault.log = slog.New(slog.NewTextHandler(&logs, nil))
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		st.onHold = func() {
			if err := e.vault.SetCaseHold(ctx, "retention", k.caseID, false); err != nil {
				t.Error(err)
			}
		}
		if err := e.vault.SetCaseHold(ctx, "retention", k.caseID, true); err != nil {
			t.Fatal(err)
		}
		st.armed.Store(true)
		d, err := e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "kept.pdf", Audience: k.audience(t, "joint"), Class: ClassEvidence},
			strings.NewReader("held, released, not cleared"))
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
		if !st.ran.Load() {
			t.Fatal("the case hold was never released during the upload")
		}
		var vr versionRecord
		if _, err := e.meta.Get(ctx, versionKey(k.caseID, d.ID, 1), &vr); err != nil {
			t.Fatal(err)
		}
		if on, err := store.LegalHold(ctx, vr.Object, vr.ObjectVID); err != nil || !on {
			t.Fatalf("ciphertext whose hold could not be cleared is not held (%v)", err)
		}
		warned := false
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, "left under storage hold") &&
				strings.Contains(line, d.ID) && strings.Contains(line, "why=release") {
				warned = true
			}
		}
		if !warned {
			t.Errorf("no WARN names the document left held; log:\n%s", logs.String())
		}
	})
}
