package vault

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/objstore"
)

// failKey fails every write to one key while armed: the record a change
// is about to update cannot be written, the rest of the store (the audit
// log included) works.
type failKey struct {
	objstore.Store
	mu  sync.Mutex
	key string
	// late: the write to key lands, and then the call answers
	// context.DeadlineExceeded (a deadline after the store committed).
	late bool
	// noRead fails reads of key too.
	noRead bool
	// prefix: key names every key under it (an id the test cannot know
	// beforehand, as Upload's document record).
	prefix bool
	// skip: this many writes to key pass before the fault.
	skip int
	// lateErr, when set, is what a late write answers instead of
	// context.DeadlineExceeded (a retried write that finds its own).
	lateErr error
}

func (f *failKey) arm(key string) {
	f.mu.Lock()
	f.key, f.late, f.noRead, f.prefix, f.skip, f.lateErr = key, false, false, false, 0, nil
	f.mu.Unlock()
}

// armLateAfter is armLate for the write to key after the first skip ones
// (AddVersion writes its document record twice: the number, then the
// version); with prefix, key is a prefix.
func (f *failKey) armLateAfter(key string, prefix bool, skip int, noRead bool) {
	f.mu.Lock()
	f.key, f.late, f.noRead, f.prefix, f.skip = key, true, noRead, prefix, skip
	f.mu.Unlock()
}

// armAfter is arm for the write to key after the first skip ones.
func (f *failKey) armAfter(key string, skip int) {
	f.mu.Lock()
	f.key, f.late, f.noRead, f.prefix, f.skip = key, false, false, false, skip
	f.mu.Unlock()
}

// matches reports whether key is the armed one; f.mu is held.
func (f *failKey) matches(key string) bool {
	if f.key == "" {
		return false
	}
	if f.prefix {
		return strings.HasPrefix(key, f.key)
	}
	return key == f.key
}

// armLate arms key so that its writes land and then report
// context.DeadlineExceeded; noRead also fails the reads of key that
// follow the first such write.
func (f *failKey) armLate(key string, noRead bool) {
	f.mu.Lock()
	f.key, f.late, f.noRead, f.prefix, f.skip = key, true, noRead, false, 0
	f.mu.Unlock()
}

func (f *failKey) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	f.mu.Lock()
	hit := f.matches(key) && f.noRead && !f.late
	f.mu.Unlock()
	if hit {
		return nil, objstore.Info{}, errors.New("injected: record read failed")
	}
	return f.Store.Get(ctx, key, opts)
}

func (f *failKey) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	f.mu.Lock()
	hit := f.matches(key)
	if hit && f.skip > 0 {
		f.skip--
		hit = false
	}
	late := f.late
	f.mu.Unlock()
	if hit && late {
		info, err := f.Store.Put(ctx, key, r, size, opts)
		if err != nil {
			return info, err
		}
		f.mu.Lock()
		f.late = false // written: reads of key fail from now on if noRead
		lateErr := f.lateErr
		if lateErr != nil {
			f.key = "" // a retried write then goes through
		}
		f.mu.Unlock()
		if lateErr != nil {
			return objstore.Info{}, lateErr
		}
		return objstore.Info{}, context.DeadlineExceeded
	}
	if hit {
		return objstore.Info{}, errors.New("injected: record write failed")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

func newFailKeyEnv(t *testing.T) (*env, *failKey) {
	t.Helper()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &failKey{Store: dir}
	return newEnv(t, f), f
}

// wantCorrected checks that the entries from index from are exactly the
// change's entry and then its correction, about the same objects.
func (e *env) wantCorrected(t *testing.T, from int64, typ, failed string, objects ...string) {
	t.Helper()
	got := e.entries(t, from)
	var types []string
	for _, ev := range got {
		types = append(types, ev.Type)
	}
	if len(got) != 2 || got[0].Type != typ || got[1].Type != failed {
		t.Fatalf("entries after the failed change = %v, want [%s %s]", types, typ, failed)
	}
	if op := got[0].Attrs[audit.OpAttr]; !ids.Valid("op", op) || got[1].Attrs[audit.OpAttr] != op {
		t.Fatalf("correction %+v is not paired with %+v by op", got[1], got[0])
	}
	if got[1].Attrs["cause"] == "" || got[1].Actor != got[0].Actor || got[1].Case != got[0].Case ||
		len(got[1].Objects) != len(objects) || (len(objects) > 0 && got[1].Objects[0] != objects[0]) {
		t.Fatalf("correction %+v does not name the change %+v", got[1], got[0])
	}
}

// e2eeToJoint uploads an end-to-end encrypted document of party A's to
// caucus:A and returns its id, the joint audience's wrap of its key and
// share, the mediator's share of it to joint with that wrap (side A has
// allowed it).
func (e *env) e2eeToJoint(t *testing.T, k *cast) (docID string, rewrap []byte, share func() error) {
	t.Helper()
	ctx := t.Context()
	a, med := k.who["partyA"], k.who["mediator"]
	docID, nonce := e2eeDocID(k.caseID, a.ID)
	plain := randomBytes(100)
	ct, wrap := clientSide(t, k.caseID, docID, a.ID, 1, "caucus:A", plain)
	if _, err := e.vault.UploadE2EE(ctx, a, k.caseID, docID, nonce, NewDocument{Name: "offer.pdf", Audience: k.audience(t, "caucus:A"), Class: ClassCorrespondence}, wrap, bytes.NewReader(ct)); err != nil {
		t.Fatal(err)
	}
	_, rewrap = clientSide(t, k.caseID, docID, med.ID, 1, "joint", plain)
	e.sideApproves(t, k, docID, k.audience(t, "joint"))
	share = func() error {
		_, err := e.vault.ShareWithKeys(ctx, med, k.caseID, docID, k.audience(t, "joint"), false, []VersionWrap{{Version: 1, Wrap: rewrap}})
		return err
	}
	return docID, rewrap, share
}

// A share audited first and then not written is corrected in the log
// (doc.share.failed): before, the log said the document was shared while
// its audience had not changed.
func TestFailedShareIsCorrectedInTheLog(t *testing.T) {
	t.Parallel()
	e, f := newFailKeyEnv(t)
	k := e.newCast(t)
	med := k.who["mediator"]
	d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "caucus:A"), ClassCorrespondence, []byte("offer"))
	from := e.log.Size()
	f.arm(docKey(k.caseID, d.ID))
	if _, err := e.vault.Share(t.Context(), med, k.caseID, d.ID, k.audience(t, "joint"), false); err == nil {
		t.Fatal("share succeeded with its record unwritable")
	}
	f.arm("")
	e.wantCorrected(t, from, "doc.share", "doc.share.failed", d.ID)
	got, err := e.vault.Get(t.Context(), med, k.caseID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Audience.String() != "caucus:A" {
		t.Fatalf("audience = %s, want caucus:A unchanged", got.Audience)
	}
}

// The same for a document hold and a case hold whose record is not
// written.
func TestFailedHoldIsCorrectedInTheLog(t *testing.T) {
	t.Parallel()
	e, f := newFailKeyEnv(t)
	k := e.newCast(t)
	med := k.who["mediator"]
	d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "caucus:A"), ClassCorrespondence, []byte("offer"))
	records := k.who["records"]

	from := e.log.Size()
	f.arm(docKey(k.caseID, d.ID))
	if _, err := e.vault.SetHold(t.Context(), records, k.caseID, d.ID, true); err == nil {
		t.Fatal("hold succeeded with its record unwritable")
	}
	f.arm("")
	e.wantCorrected(t, from, "doc.hold", "doc.hold.failed", d.ID)

	from = e.log.Size()
	f.arm(caseHoldKey(k.caseID))
	if err := e.vault.SetCaseHold(t.Context(), records.ID, k.caseID, true); err == nil {
		t.Fatal("case hold succeeded with its record unwritable")
	}
	f.arm("")
	e.wantCorrected(t, from, "case.hold", "case.hold.failed")
	if held, err := e.vault.CaseHeld(t.Context(), k.caseID); err != nil || held {
		t.Fatalf("CaseHeld = %v, %v; want not held", held, err)
	}
}

// An end-to-end encrypted document whose share changed the audience but
// whose keys were not stored is finished by sharing it again, as the error
// says: before, the second share was a no-op (the audience already
// matched) and the new audience was left with the old audience's wraps.
func TestE2EEShareFinishedWhenItsKeysFailed(t *testing.T) {
	t.Parallel()
	e, f := newFailKeyEnv(t)
	k := e.newCast(t)
	ctx := t.Context()
	docID, rewrap, share := e.e2eeToJoint(t, k)
	f.arm(versionKey(k.caseID, docID, 1))
	if err := share(); err == nil {
		t.Fatal("share succeeded with the version record unwritable")
	}
	f.arm("")
	if err := share(); err != nil {
		t.Fatal(err)
	}
	if _, wraps, err := e.vault.Keys(ctx, k.who["partyB"], k.caseID, docID, 0); err != nil || len(wraps) != 1 || !bytes.Equal(wraps[0], rewrap) {
		t.Fatalf("after sharing again: %d wraps (the joint audience's: %v), %v", len(wraps), len(wraps) == 1 && bytes.Equal(wraps[0], rewrap), err)
	}
}

// The review's scenario (H3) for a share: the record is written and the
// store then answers context.DeadlineExceeded. The share landed, so no
// doc.share.failed follows (before, the log said the audience had not
// changed while it had). When the record cannot be read back either,
// doc.share.unknown (paired by op) says the outcome was not confirmed.
func TestShareThatLandedDespiteAnErrorIsNotCorrected(t *testing.T) {
	t.Parallel()
	e, f := newFailKeyEnv(t)
	k := e.newCast(t)
	med := k.who["mediator"]
	d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "caucus:A"), ClassCorrespondence, []byte("offer"))

	from := e.log.Size()
	f.armLate(docKey(k.caseID, d.ID), false)
	if _, err := e.vault.Share(t.Context(), med, k.caseID, d.ID, k.audience(t, "joint"), false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("share: %v, want the injected deadline", err)
	}
	f.arm("")
	if got := e.entries(t, from); len(got) != 1 || got[0].Type != "doc.share" {
		t.Fatalf("entries after a share that landed = %d, want [doc.share] alone", len(got))
	}
	if got, err := e.vault.Get(t.Context(), med, k.caseID, d.ID); err != nil || got.Audience.String() != "joint" {
		t.Fatalf("audience = %v, %v; want joint (the share landed)", got.Audience, err)
	}

	from = e.log.Size()
	f.armLate(docKey(k.caseID, d.ID), true)
	if _, err := e.vault.Share(t.Context(), med, k.caseID, d.ID, k.audience(t, "caucus:A"), false); err == nil {
		t.Fatal("share succeeded with the injected deadline")
	}
	f.arm("")
	e.wantCorrected(t, from, "doc.share", "doc.share.unknown", d.ID)
}

// A case hold whose record is created and then answered with a deadline
// stands: no case.hold.failed.
func TestCaseHoldThatLandedDespiteAnErrorIsNotCorrected(t *testing.T) {
	t.Parallel()
	e, f := newFailKeyEnv(t)
	k := e.newCast(t)
	from := e.log.Size()
	f.armLate(caseHoldKey(k.caseID), false)
	if err := e.vault.SetCaseHold(t.Context(), k.who["records"].ID, k.caseID, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("case hold: %v, want the injected deadline", err)
	}
	f.arm("")
	if got := e.entries(t, from); len(got) != 1 || got[0].Type != "case.hold" {
		t.Fatalf("entries after a case hold that landed = %d, want [case.hold] alone", len(got))
	}
	if held, err := e.vault.CaseHeld(t.Context(), k.caseID); err != nil || !held {
		t.Fatalf("CaseHeld = %v, %v; want held", held, err)
	}
}

// Sharing an end-to-end encrypted document again writes its wraps after
// doc.keys.wrap (review L3): when they are not stored, doc.keys.wrap.failed
// (paired by op) follows; before, nothing did. When they were stored and
// the store then answered a deadline, nothing follows.
func TestFailedKeyWrapIsCorrectedInTheLog(t *testing.T) {
	t.Parallel()
	e, f := newFailKeyEnv(t)
	k := e.newCast(t)
	docID, _, share := e.e2eeToJoint(t, k)
	f.arm(versionKey(k.caseID, docID, 1))
	if err := share(); err == nil { // the audience changes, the keys do not
		t.Fatal("share succeeded with the version record unwritable")
	}
	from := e.log.Size()
	if err := share(); err == nil { // share again: doc.keys.wrap, then not written
		t.Fatal("share again succeeded with the version record unwritable")
	}
	f.arm("")
	e.wantCorrected(t, from, "doc.keys.wrap", "doc.keys.wrap.failed", docID)

	from = e.log.Size()
	f.armLate(versionKey(k.caseID, docID, 1), false)
	if err := share(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("share again: %v, want the injected deadline", err)
	}
	f.arm("")
	if got := e.entries(t, from); len(got) != 1 || got[0].Type != "doc.keys.wrap" {
		t.Fatalf("entries after keys that were stored = %d, want [doc.keys.wrap] alone", len(got))
	}
}
