package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
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
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		a := k.who["partyA"]
		aud := k.audience(t, "caucus:A")
		plain := randomBytes(SegmentSize + 7)
		docID, nonce := e2eeDocID(k.caseID, a.ID)
		ct, wrap := clientSide(t, k.caseID, docID, a.ID, 1, "caucus:A", plain)
		nd := NewDocument{Name: "offer.pdf", Audience: aud, Class: ClassEvidence}

		// Side B's party, with an id of its own: refused by policy,
		// whatever the wrap says.
		bID, bNonce := e2eeDocID(k.caseID, k.who["partyB"].ID)
		if _, err := e.vault.UploadE2EE(ctx, k.who["partyB"], k.caseID, bID, bNonce, nd, []byte("junk"), bytes.NewReader(ct)); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("side B uploading to A's caucus: %v", err)
		}
		var inv *fault.InvalidError
		_, otherWrap := clientSide(t, k.caseID, ids.New("d"), a.ID, 1, "caucus:A", plain)
		_, jointWrap := clientSide(t, k.caseID, docID, a.ID, 1, "joint", plain)
		_, medWrap := clientSide(t, k.caseID, docID, k.who["mediator"].ID, 1, "caucus:A", plain)
		for name, w := range map[string][]byte{"another document's wrap": otherWrap, "a wrap for the joint room": jointWrap,
			"someone else's wrap": medWrap, "no wrap": []byte("not a wrap")} {
			if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nonce, nd, w, bytes.NewReader(ct)); !errors.As(err, &inv) {
				t.Fatalf("%s: %v", name, err)
			}
		}
		// A wrap binding another name than the one sent, or none: refused
		// (no device would open it under the stored name).
		relabelled := nd
		relabelled.Name = "Hearing schedule.pdf"
		if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nonce, relabelled, wrap, bytes.NewReader(ct)); !errors.As(err, &inv) {
			t.Fatalf("a wrap binding another name: %v", err)
		}
		if k, err := e2ee.DecodeDocKey(wrap); err != nil || !k.Ctx.Name.Bound() {
			t.Fatalf("the test wrap binds no name: %v", err)
		}
		for name, body := range map[string][]byte{"plaintext": plain, "a length no stream has": ct[:HeaderSize+segmentCTSize+5], "a header only": ct[:HeaderSize]} {
			if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nonce, nd, wrap, bytes.NewReader(body)); !errors.As(err, &inv) {
				t.Fatalf("%s accepted as a stream: %v", name, err)
			}
		}
		if list, err := e.vault.List(ctx, k.who["mediator"], k.caseID); err != nil || len(list) != 0 {
			t.Fatalf("a refused upload is visible: %v %v", list, err)
		}

		d, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nonce, nd, wrap, bytes.NewReader(ct))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256hex(ct)
		if d.ID != docID || d.Size != int64(len(plain)) || d.SHA256 != sum || !d.Versions[0].E2EE {
			t.Fatalf("stored: %+v", d)
		}
		if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nonce, nd, wrap, bytes.NewReader(ct)); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("the same id twice (a retry of one's own upload): %v", err)
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

// e2eeDocID is the id of a new end-to-end encrypted document as actor's
// client derives it (e2ee.DocumentID), and the nonce it sends with it.
func e2eeDocID(caseID, actor string) (string, []byte) {
	nonce := e2ee.NewDocIDNonce()
	return e2ee.DocumentID(caseID, actor, nonce), nonce
}

// TestE2EEUploadNamesOnlyItsOwnIDs: the client names a new end-to-end
// encrypted document's id, and party B used to learn whether any id
// existed in the case by naming it (side A's caucus document: 409
// "exists already"; an unused id: stored). Now an upload names only an id
// derived from its own account and the nonce it sends: B naming side A's
// documents (end to end or not) and naming an unused id B did not derive
// get the same refusal and the same audit entries, A's documents are
// untouched, and B's own upload (and its retry's conflict) work as before.
func TestE2EEUploadNamesOnlyItsOwnIDs(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		a, b, med := k.who["partyA"], k.who["partyB"], k.who["mediator"]
		aID, aNonce := e2eeDocID(k.caseID, a.ID)
		ct, wrap := clientSide(t, k.caseID, aID, a.ID, 1, "caucus:A", []byte("side A's bottom line"))
		if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, aID, aNonce, NewDocument{Name: "offer.pdf", Audience: k.audience(t, "caucus:A"), Class: ClassEvidence},
			wrap, bytes.NewReader(ct)); err != nil {
			t.Fatal(err)
		}
		plainA := e.upload(t, a, k.caseID, "a.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("caucus A only"))
		before, err := e.vault.List(ctx, med, k.caseID)
		if err != nil {
			t.Fatal(err)
		}
		nd := NewDocument{Name: "offer.pdf", Audience: k.audience(t, "caucus:B"), Class: ClassEvidence}
		try := func(id string) (string, int64) {
			ct, wrap := clientSide(t, k.caseID, id, b.ID, 1, "caucus:B", []byte("side B's own"))
			n := e.log.Size()
			_, err := e.vault.UploadE2EE(ctx, b, k.caseID, id, e2ee.NewDocIDNonce(), nd, wrap, bytes.NewReader(ct))
			if err == nil {
				return "stored", e.log.Size() - n
			}
			var inv *fault.InvalidError
			if !errors.As(err, &inv) {
				return "not refused as invalid: " + err.Error(), e.log.Size() - n
			}
			return strings.ReplaceAll(err.Error(), id, "ID"), e.log.Size() - n
		}
		unused, unusedAudit := try(ids.New("d"))
		for name, id := range map[string]string{"A's end-to-end document": aID, "A's document": plainA.ID} {
			got, audit := try(id)
			if got != unused || audit != unusedAudit {
				t.Errorf("party B naming %s: %q (%d audit entries); naming an unused id: %q (%d)", name, got, audit, unused, unusedAudit)
			}
		}
		if strings.HasPrefix(unused, "stored") || strings.HasPrefix(unused, "not refused") {
			t.Errorf("an id party B did not derive: %s", unused)
		}
		after, err := e.vault.List(ctx, med, k.caseID)
		if err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("the case's documents changed:\nbefore %+v\nafter  %+v (%v)", before, after, err)
		}
		// B's own upload, under the id its nonce makes.
		bID, bNonce := e2eeDocID(k.caseID, b.ID)
		ct, wrap = clientSide(t, k.caseID, bID, b.ID, 1, "caucus:B", []byte("side B's own"))
		d, err := e.vault.UploadE2EE(ctx, b, k.caseID, bID, bNonce, nd, wrap, bytes.NewReader(ct))
		if err != nil || d.ID != bID {
			t.Fatalf("party B's own upload: %+v %v", d, err)
		}
		if _, err := e.vault.UploadE2EE(ctx, b, k.caseID, bID, bNonce, nd, wrap, bytes.NewReader(ct)); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("party B's retry of its own upload: %v, want a conflict", err)
		}
	})
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
