package vault

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/objstore"
)

// How versionTakeBackStore answers the take-back's write of the
// document's record.
const (
	takeBackWrites  = iota // written, answered
	takeBackRefused        // not written, an error answered
	takeBackLate           // written, an error answered all the same
)

var (
	errPutRefused = errors.New("test: the store refused the write")
	errLateAnswer = errors.New("test: the write landed, then its answer was lost")
)

// versionTakeBackStore is a real store watching one document's record
// (key). Its first write reserves a new version's number, its second
// lists the version: before that one it runs beforeVisible (a case hold
// placed meanwhile) and from then on refuses storage holds, so the new
// version is taken back. Its third write is that take-back, answered as
// takeBack says.
type versionTakeBackStore struct {
	objstore.Store
	key           string
	beforeVisible func()
	takeBack      int
	puts          atomic.Int32
	failing       atomic.Bool
}

func (s *versionTakeBackStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if s.key == "" || key != s.key {
		return s.Store.Put(ctx, key, r, size, opts)
	}
	switch s.puts.Add(1) {
	case 2:
		s.beforeVisible()
		s.failing.Store(true)
	case 3:
		switch s.takeBack {
		case takeBackRefused:
			return objstore.Info{}, errPutRefused
		case takeBackLate:
			if _, err := s.Store.Put(ctx, key, r, size, opts); err != nil {
				return objstore.Info{}, err
			}
			return objstore.Info{}, errLateAnswer
		}
	}
	return s.Store.Put(ctx, key, r, size, opts)
}

func (s *versionTakeBackStore) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if s.failing.Load() && on {
		return errHoldRefused
	}
	return s.Store.SetLegalHold(ctx, key, versionID, on)
}

// warnedTakeBack reports whether a WARN in out says doc could not be
// taken back.
func warnedTakeBack(out, doc string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, doc) && strings.Contains(line, "taken back") {
			return true
		}
	}
	return false
}

// wantUploadCorrected fails unless the entries from from hold a doc.upload
// naming doc followed by its doc.upload.failed (paired by op, with a
// cause), whatever else came between (the case hold placed meanwhile).
func (e *env) wantUploadCorrected(t *testing.T, from int64, doc string, corrected bool) {
	t.Helper()
	var up, failed *audit.Event
	var types []string
	for _, ev := range e.entries(t, from) {
		types = append(types, ev.Type)
		switch {
		case ev.Type == "doc.upload" && slices.Contains(ev.Objects, doc):
			up = &ev
		case strings.HasPrefix(ev.Type, "doc.upload.") && slices.Contains(ev.Objects, doc):
			failed = &ev
		}
	}
	if up == nil {
		t.Fatalf("no doc.upload names document %s: %v", doc, types)
	}
	if !corrected {
		if failed != nil {
			t.Fatalf("the upload of document %s, still listed, is corrected (%s): %v", doc, failed.Type, types)
		}
		return
	}
	if failed == nil || failed.Type != "doc.upload.failed" {
		t.Fatalf("entries after an upload taken back = %v, want doc.upload followed by doc.upload.failed", types)
	}
	if op := up.Attrs[audit.OpAttr]; op == "" || failed.Attrs[audit.OpAttr] != op || failed.Attrs["cause"] == "" {
		t.Fatalf("correction %+v is not paired with %+v by op, or names no cause", *failed, *up)
	}
}

// TestNewVersionTakeBack: a case hold is placed while a new version
// uploads (after AddVersion looked for one, before the version is
// listed), and the storage hold then fails, so the version is taken back
// (review 376 L2: AddVersion's take-back had no test of its own).
//
//   - The take-back's write succeeds: a plain error, the version is no
//     longer listed, its staged bytes are gone and doc.upload.failed
//     follows its doc.upload.
//   - The store refuses that write: the version stays listed, a WARN
//     names the document, the answer is unconfirmed naming the version,
//     and doc.upload stands uncorrected (it happened).
//   - The store writes it and then answers an error (review 376 L3): the
//     record, read back, no longer lists the version, so it was taken
//     back, as when the write answers (before: unconfirmed, a WARN and
//     doc.upload left uncorrected although the version was gone).
func TestNewVersionTakeBack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		takeBack int
	}{{"written", takeBackWrites}, {"refused", takeBackRefused}, {"landed", takeBackLate}} {
		t.Run(tc.name, func(t *testing.T) {
			onEachStore(t, func(t *testing.T, store objstore.Store) {
				vs := &versionTakeBackStore{Store: store, takeBack: tc.takeBack}
				e := newEnv(t, vs)
				var logs syncBuffer
				e.vault.log = slog.New(slog.NewTextHandler(&logs, nil))
				k := e.newCast(t)
				ctx := t.Context()
				med := k.who["mediator"]
				d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "joint"), ClassCorrespondence, []byte("offer v1"))
				vs.beforeVisible = func() {
					if err := e.vault.SetCaseHold(ctx, "retention", k.caseID, true); err != nil {
						t.Error(err)
					}
				}
				from := e.log.Size()
				vs.key = docKey(k.caseID, d.ID)
				_, err := e.vault.AddVersion(ctx, med, k.caseID, d.ID, NewVersion{}, strings.NewReader("offer v2"))
				if !errors.Is(err, errHoldRefused) {
					t.Fatalf("new version whose hold failed: %v", err)
				}
				var ue *UnconfirmedError
				unconf := errors.As(err, &ue)
				listed := e.listedVersions(t, k.caseID, d.ID)
				rec, obj := e.stagedBytes(t, k.caseID, d.ID, 2)
				if tc.takeBack != takeBackRefused {
					if unconf {
						t.Errorf("a version taken back answered unconfirmed: %v", err)
					}
					if !slices.Equal(listed, []int{1}) {
						t.Errorf("listed versions after the take-back = %v, want [1]", listed)
					}
					if rec || obj {
						t.Errorf("a version taken back kept its record (%v) or its ciphertext (%v)", rec, obj)
					}
					if warnedTakeBack(logs.String(), d.ID) {
						t.Errorf("a WARN says the version taken back stays listed; log:\n%s", logs.String())
					}
					e.wantUploadCorrected(t, from, d.ID, true)
					return
				}
				if !unconf || ue.Doc != d.ID || ue.Version != 2 {
					t.Errorf("a version left listed answered %v, want unconfirmed naming document %s version 2", err, d.ID)
				}
				if !slices.Equal(listed, []int{1, 2}) {
					t.Errorf("listed versions after a refused take-back = %v, want [1 2]", listed)
				}
				if !rec || !obj {
					t.Errorf("a version left listed lost its record (%v) or its ciphertext (%v)", !rec, !obj)
				}
				if !warnedTakeBack(logs.String(), d.ID) {
					t.Errorf("no WARN names document %s left listed after its take-back failed; log:\n%s", d.ID, logs.String())
				}
				e.wantUploadCorrected(t, from, d.ID, false)
			})
		})
	}
}
