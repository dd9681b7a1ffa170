package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/objstore"
)

// clientSide is what an uploading device does: a content key, the
// ciphertext in the stream format, and a wrap signed by its device.
// testDocName is the name binding of the test documents: "offer.pdf"
// uploaded without a media type (stored as application/octet-stream).
var testDocName = e2ee.BindName("offer.pdf", "application/octet-stream")

func clientSide(t *testing.T, caseID, docID, actor string, version int, aud string, plain []byte) ([]byte, []byte) {
	t.Helper()
	dev, err := e2ee.NewDeviceKeys(actor, e2ee.KEMX25519, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key := e2ee.NewDocKey()
	var ct bytes.Buffer
	w, err := e2ee.NewStreamWriter(&ct, key, e2ee.StreamBinding{Case: caseID, Doc: docID, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	w.Close()
	wrap, err := e2ee.WrapDocKey(dev, e2ee.DocKeyContext{Case: caseID, Doc: docID, Version: version, Audience: aud,
		StatementSeq: 1, Account: actor, Device: dev.ID, Created: 1, Name: testDocName}, key, []*e2ee.DeviceRecord{dev.Record()})
	if err != nil {
		t.Fatal(err)
	}
	return ct.Bytes(), wrap
}

// TestE2EEUploadChecks: the server refuses an end-to-end encrypted upload
// that is not shaped like a stream (its header, a length some plaintext
// has: it cannot authenticate the content, which devices do), or whose wrap names another document,
// audience or sender, before anything becomes visible; refuses it to
// someone policy refuses, before looking at the wrap; stores a good one
// with the ciphertext's SHA-256 and the plaintext size, serves the
// ciphertext whole under its own envelope, and keeps the wrap.
func TestE2EEUploadChecks(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		a := k.who["partyA"]
		aud := k.audience(t, "caucus:A")
		plain := randomBytes(SegmentSize + 7)
		docID := ids.New("d")
		ct, wrap := clientSide(t, k.caseID, docID, a.ID, 1, "caucus:A", plain)
		nd := NewDocument{Name: "offer.pdf", Audience: aud, Class: ClassEvidence}

		// Side B's party: refused by policy, whatever the wrap says.
		if _, err := e.vault.UploadE2EE(ctx, k.who["partyB"], k.caseID, docID, nd, []byte("junk"), bytes.NewReader(ct)); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("side B uploading to A's caucus: %v", err)
		}
		var inv *fault.InvalidError
		_, otherWrap := clientSide(t, k.caseID, ids.New("d"), a.ID, 1, "caucus:A", plain)
		_, jointWrap := clientSide(t, k.caseID, docID, a.ID, 1, "joint", plain)
		_, medWrap := clientSide(t, k.caseID, docID, k.who["mediator"].ID, 1, "caucus:A", plain)
		for name, w := range map[string][]byte{"another document's wrap": otherWrap, "a wrap for the joint room": jointWrap,
			"someone else's wrap": medWrap, "no wrap": []byte("not a wrap")} {
			if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nd, w, bytes.NewReader(ct)); !errors.As(err, &inv) {
				t.Fatalf("%s: %v", name, err)
			}
		}
		// A wrap binding another name than the one sent, or none: refused
		// (no device would open it under the stored name).
		relabelled := nd
		relabelled.Name = "Hearing schedule.pdf"
		if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, relabelled, wrap, bytes.NewReader(ct)); !errors.As(err, &inv) {
			t.Fatalf("a wrap binding another name: %v", err)
		}
		if k, err := e2ee.DecodeDocKey(wrap); err != nil || !k.Ctx.Name.Bound() {
			t.Fatalf("the test wrap binds no name: %v", err)
		}
		for name, body := range map[string][]byte{"plaintext": plain, "a length no stream has": ct[:HeaderSize+segmentCTSize+5], "a header only": ct[:HeaderSize]} {
			if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nd, wrap, bytes.NewReader(body)); !errors.As(err, &inv) {
				t.Fatalf("%s accepted as a stream: %v", name, err)
			}
		}
		if list, err := e.vault.List(ctx, k.who["mediator"], k.caseID); err != nil || len(list) != 0 {
			t.Fatalf("a refused upload is visible: %v %v", list, err)
		}

		d, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nd, wrap, bytes.NewReader(ct))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256hex(ct)
		if d.ID != docID || d.Size != int64(len(plain)) || d.SHA256 != sum || !d.Versions[0].E2EE {
			t.Fatalf("stored: %+v", d)
		}
		if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nd, wrap, bytes.NewReader(ct)); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("the same id twice: %v", err)
		}
		dl, err := e.vault.Open(ctx, k.who["mediator"], k.caseID, docID, 0, Bytes(0, 10))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(dl.Body)
		dl.Body.Close()
		if err != nil || !bytes.Equal(got, ct) || !dl.Verified {
			t.Fatalf("served %d bytes (verified %v), want the whole ciphertext: %v", len(got), dl.Verified, err)
		}
		n, wraps, err := e.vault.Keys(ctx, k.who["mediator"], k.caseID, docID, 0)
		if err != nil || n != 1 || len(wraps) != 1 || !bytes.Equal(wraps[0], wrap) {
			t.Fatalf("keys: %d %d %v", n, len(wraps), err)
		}
		if _, _, err := e.vault.Keys(ctx, k.who["partyB"], k.caseID, docID, 0); err == nil {
			t.Fatal("side B read the wraps")
		}
		// A share needs side A's approval (its party added the document)
		// and a re-wrap per version for the new audience.
		e.sideApproves(t, k, docID, k.audience(t, "joint"))
		if _, err := e.vault.Share(ctx, k.who["mediator"], k.caseID, docID, k.audience(t, "joint"), false); !errors.Is(err, ErrRewrapNeeded) {
			t.Fatalf("a share without wraps: %v", err)
		}
		_, rewrap := clientSide(t, k.caseID, docID, k.who["mediator"].ID, 1, "joint", plain)
		if _, err := e.vault.ShareWithKeys(ctx, k.who["mediator"], k.caseID, docID, k.audience(t, "joint"), false,
			[]VersionWrap{{Version: 1, Wrap: rewrap}}); err != nil {
			t.Fatal(err)
		}
		if _, wraps, _ := e.vault.Keys(ctx, k.who["partyB"], k.caseID, docID, 0); len(wraps) != 1 || !bytes.Equal(wraps[0], rewrap) {
			t.Fatal("after the share the old audience's wrap is still served, or the new one is not")
		}
		// A holder adds wraps for the current audience only.
		if err := e.vault.AddKeys(ctx, a, k.caseID, docID, []VersionWrap{{Version: 1, Wrap: wrap}}); !errors.As(err, &inv) {
			t.Fatalf("a wrap for the old audience added: %v", err)
		}
	})
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
