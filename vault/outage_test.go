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

// outageStore is a real store that, once the addition's record is
// written (the first write under prefix, or the visible-th write of
// key), runs afterWrite (once) and then answers the next calls that
// match as a store that does not answer does (objstore.ErrUnavailable),
// outage of them, and then answers again.
type outageStore struct {
	objstore.Store
	prefix     string
	key        string
	visible    int32
	afterWrite func()
	match      func(op, key string) bool

	puts    atomic.Int32
	once    sync.Once
	armed   atomic.Bool
	outage  atomic.Int32 // calls still to fail
	dropped atomic.Int32 // calls failed
}

func (s *outageStore) fail(op, key string) error {
	if !s.armed.Load() || !s.match(op, key) || s.outage.Add(-1) < 0 {
		return nil
	}
	s.dropped.Add(1)
	return fmt.Errorf("%w: test: %s %s: connection refused", objstore.ErrUnavailable, op, key)
}

func (s *outageStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if err := s.fail("Put", key); err != nil {
		return objstore.Info{}, err
	}
	info, err := s.Store.Put(ctx, key, r, size, opts)
	written := s.prefix != "" && strings.HasPrefix(key, s.prefix) ||
		s.key != "" && key == s.key && s.puts.Add(1) == s.visible
	if err == nil && written {
		s.once.Do(func() {
			if s.afterWrite != nil {
				s.afterWrite()
			}
			s.armed.Store(true)
		})
	}
	return info, err
}

func (s *outageStore) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if err := s.fail("Get", key); err != nil {
		return nil, objstore.Info{}, err
	}
	return s.Store.Get(ctx, key, opts)
}

func (s *outageStore) Stat(ctx context.Context, key string) (objstore.Info, error) {
	if err := s.fail("Stat", key); err != nil {
		return objstore.Info{}, err
	}
	return s.Store.Stat(ctx, key)
}

func (s *outageStore) Delete(ctx context.Context, key, versionID string) error {
	if err := s.fail("Delete", key); err != nil {
		return err
	}
	return s.Store.Delete(ctx, key, versionID)
}

func (s *outageStore) Versions(ctx context.Context, key string) ([]objstore.Version, error) {
	if err := s.fail("Versions", key); err != nil {
		return nil, err
	}
	return s.Store.Versions(ctx, key)
}

func (s *outageStore) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if err := s.fail("SetLegalHold", key); err != nil {
		return err
	}
	return s.Store.SetLegalHold(ctx, key, versionID, on)
}

// TestAdditionOutlivesShortOutage: right after a new document's record
// is written (or a new version is listed in its document's record), the
// store stops answering for a few calls, then answers again. The checks
// that follow (is the case held, the storage hold, the fence) are tried
// again, so the addition stands: the upload answers it, it is listed, and
// held when a case hold was placed meanwhile; nothing is corrected in the
// log and no WARN says it stays listed (review 372's fix a; before, the
// first failed check took the addition back, and with the store still
// down the take-back failed too and the uploader got "unconfirmed").
func TestAdditionOutlivesShortOutage(t *testing.T) {
	t.Parallel()
	anything := func(string, string) bool { return true }
	for _, tc := range []struct {
		name  string
		hold  bool // a case hold is placed right after the write
		match func(e *env, caseID string) func(op, key string) bool
		calls int32
	}{
		{name: "store down", calls: 4,
			match: func(*env, string) func(string, string) bool { return anything }},
		{name: "case record unreadable", calls: 3,
			match: func(_ *env, caseID string) func(string, string) bool {
				return func(op, key string) bool { return op == "Get" && strings.HasPrefix(key, "cases/"+caseID+"/") }
			}},
		{name: "storage hold not set", calls: 3, hold: true,
			match: func(*env, string) func(string, string) bool {
				return func(op, _ string) bool { return op == "SetLegalHold" }
			}},
	} {
		for _, version := range []bool{false, true} {
			name := tc.name + "/new document"
			if version {
				name = tc.name + "/new version"
			}
			t.Run(name, func(t *testing.T) {
				onEachStore(t, func(t *testing.T, store objstore.Store) {
					st := &outageStore{Store: store}
					e := newEnv(t, st)
					var logs syncBuffer
					e.vault.log = slog.New(slog.NewTextHandler(&logs, nil))
					k := e.newCast(t)
					ctx := t.Context()
					med := k.who["mediator"]
					st.match = tc.match(e, k.caseID)
					st.outage.Store(tc.calls)
					if tc.hold {
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
						from := e.log.Size()
						d, err = e.vault.AddVersion(ctx, med, k.caseID, first.ID, NewVersion{}, strings.NewReader("offer v2"))
						if err == nil {
							e.wantNotCorrected(t, from)
						}
					} else {
						st.prefix = docPrefix(k.caseID)
						from := e.log.Size()
						d, err = e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "outage.pdf", Audience: k.audience(t, "joint"), Class: ClassEvidence},
							strings.NewReader("stored as the store went down"))
						if err == nil {
							e.wantNotCorrected(t, from)
						}
					}
					if got := st.dropped.Load(); got != tc.calls {
						t.Fatalf("the store failed %d calls after the write, want %d (err %v)", got, tc.calls, err)
					}
					if err != nil {
						t.Fatalf("an addition whose checks met a short outage: %v", err)
					}
					if vs := e.listedVersions(t, k.caseID, d.ID); !slices.Contains(vs, num) {
						t.Fatalf("listed versions of %s = %v, want %d among them", d.ID, vs, num)
					}
					if warnedTakeBack(logs.String(), d.ID) {
						t.Errorf("a WARN says the addition stays listed; log:\n%s", logs.String())
					}
					if !tc.hold {
						return
					}
					var vr versionRecord
					if _, err := e.meta.Get(ctx, versionKey(k.caseID, d.ID, num), &vr); err != nil {
						t.Fatal(err)
					}
					if on, err := store.LegalHold(ctx, vr.Object, vr.ObjectVID); err != nil || !on {
						t.Fatalf("version %d added under the case hold is not held (%v)", num, err)
					}
				})
			})
		}
	}
}

// wantNotCorrected fails if an upload's correction (doc.upload.failed or
// .unknown) is among the entries from from.
func (e *env) wantNotCorrected(t *testing.T, from int64) {
	t.Helper()
	for _, ev := range e.entries(t, from) {
		if strings.HasPrefix(ev.Type, "doc.upload.") {
			t.Errorf("an upload that stands is corrected: %s %v", ev.Type, ev.Attrs)
		}
	}
}
