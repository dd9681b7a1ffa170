package vault

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

// holdFailingStore is a real store whose SetLegalHold fails while fail is
// set (the object lock refused, the store unreachable for that call).
type holdFailingStore struct {
	objstore.Store
	fail atomic.Bool
}

var errHoldRefused = errors.New("test: the store refused the legal hold")

func (s *holdFailingStore) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if s.fail.Load() {
		return errHoldRefused
	}
	return s.Store.SetLegalHold(ctx, key, versionID, on)
}

// TestUploadUnderCaseHoldFailingHoldIsNotListed: under a case-wide hold an
// upload whose storage hold cannot be placed fails, and the document is
// not listed (it never became visible without its hold). Once the store
// holds again, an upload is listed and held.
func TestUploadUnderCaseHoldFailingHoldIsNotListed(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		fs := &holdFailingStore{Store: store}
		e := newEnv(t, fs)
		k := e.newCast(t)
		ctx := t.Context()
		med := k.who["mediator"]
		if err := e.vault.SetCaseHold(ctx, "retention", k.caseID, true); err != nil {
			t.Fatal(err)
		}
		fs.fail.Store(true)
		_, err := e.vault.Upload(ctx, med, k.caseID, NewDocument{Name: "held.pdf", Audience: k.audience(t, "joint"), Class: ClassEvidence},
			strings.NewReader("under hold"))
		if !errors.Is(err, errHoldRefused) {
			t.Fatalf("upload whose hold failed: %v", err)
		}
		list, err := e.vault.List(ctx, med, k.caseID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			t.Errorf("listed after its hold failed: %s %q (held %v)", d.ID, d.Name, d.Held)
		}
		fs.fail.Store(false)
		d := e.upload(t, med, k.caseID, "held.pdf", k.audience(t, "joint"), ClassEvidence, []byte("under hold"))
		var vr versionRecord
		if _, err := e.meta.Get(ctx, versionKey(k.caseID, d.ID, 1), &vr); err != nil {
			t.Fatal(err)
		}
		if on, err := store.LegalHold(ctx, vr.Object, vr.ObjectVID); err != nil || !on {
			t.Fatalf("an upload under the case hold is not held (%v)", err)
		}
	})
}
