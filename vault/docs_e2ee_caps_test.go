package vault

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// TestE2EEWrapCaps: the wraps kept in a version's record are bounded: a
// device gets one live copy of a version's key (a second wrap for it is
// refused, so a member cannot pile wraps on the record every download
// reads), and a wrap over MaxStoredWrap is refused, each with a problem
// that says why.
func TestE2EEWrapCaps(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		a := k.who["partyA"]
		docID, nonce := e2eeDocID(k.caseID, a.ID)
		ct, wrap := clientSide(t, k.caseID, docID, a.ID, 1, "caucus:A", []byte("side A's figures"))
		if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nonce, NewDocument{Name: "offer.pdf", Audience: k.audience(t, "caucus:A"), Class: ClassEvidence},
			wrap, bytes.NewReader(ct)); err != nil {
			t.Fatal(err)
		}
		dev, err := e2ee.NewDeviceKeys(a.ID, e2ee.KEMX25519, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		wrapFor := func(created int64, to ...*e2ee.DeviceRecord) []byte {
			w, err := e2ee.WrapDocKey(dev, e2ee.DocKeyContext{Case: k.caseID, Doc: docID, Version: 1, Audience: "caucus:A",
				StatementSeq: 1, Account: a.ID, Device: dev.ID, Created: created, Name: testDocName}, e2ee.NewDocKey(), to)
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		// The uploader's device already holds a copy: a second is refused.
		other, err := e2ee.NewDeviceKeys(a.ID, e2ee.KEMX25519, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.vault.AddKeys(ctx, a, k.caseID, docID, []VersionWrap{{Version: 1, Wrap: wrapFor(2, other.Record())}}); err != nil {
			t.Fatalf("a wrap for a device without a copy: %v", err)
		}
		var inv *fault.InvalidError
		for i := range 3 {
			if err := e.vault.AddKeys(ctx, a, k.caseID, docID, []VersionWrap{{Version: 1, Wrap: wrapFor(int64(3+i), other.Record())}}); !errors.As(err, &inv) {
				t.Fatalf("wrap %d more for a device that holds a copy: %v", i+1, err)
			}
		}
		// A wrap over the cap (many devices at once) is refused.
		var many []*e2ee.DeviceRecord
		for len(many)*100 < MaxStoredWrap {
			d, err := e2ee.NewDeviceKeys(a.ID, e2ee.KEMX25519, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			many = append(many, d.Record())
		}
		if err := e.vault.AddKeys(ctx, a, k.caseID, docID, []VersionWrap{{Version: 1, Wrap: wrapFor(9, many...)}}); !errors.As(err, &inv) {
			t.Fatalf("a wrap of over %d bytes: %v", MaxStoredWrap, err)
		}
		_, wraps, err := e.vault.Keys(ctx, a, k.caseID, docID, 1)
		if err != nil || len(wraps) != 2 {
			t.Fatalf("the version keeps %d wraps, want 2: %v", len(wraps), err)
		}
	})
}
