package vault

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// stagedBytes reports whether version num of document docID still has
// its version record (wrapped key) and its ciphertext object.
func (e *env) stagedBytes(t *testing.T, caseID, docID string, num int) (record, object bool) {
	t.Helper()
	ctx := t.Context()
	var vr versionRecord
	_, err := e.meta.Get(ctx, versionKey(caseID, docID, num), &vr)
	switch {
	case err == nil:
		record = true
	case !errors.Is(err, metastore.ErrNotFound):
		t.Fatal(err)
	}
	rc, _, err := e.store.Get(ctx, objectKey(caseID, docID, num), objstore.GetOptions{})
	switch {
	case err == nil:
		rc.Close()
		object = true
	case !errors.Is(err, objstore.ErrNotFound):
		t.Fatal(err)
	}
	return record, object
}

// listedVersions is the version numbers document docID's record lists.
func (e *env) listedVersions(t *testing.T, caseID, docID string) []int {
	t.Helper()
	var r docRecord
	if _, err := e.meta.Get(t.Context(), docKey(caseID, docID), &r); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return nil
		}
		t.Fatal(err)
	}
	var out []int
	for _, v := range r.Versions {
		out = append(out, v.Version)
	}
	return out
}

// The document record that makes a new version visible is written, and
// the store then answers an error (a deadline after the write). Before,
// AddVersion deleted the staged version first: the record listed version
// 2 and its ciphertext was gone. Now the record is read back first: the
// version stands (AddVersion succeeds, no correction follows). When the
// record cannot be read back either, the version is kept (an orphan is
// better than a listed version without bytes) and doc.upload.unknown
// follows. A write that did not land still takes its staged version away.
func TestAddVersionThatLandedDespiteAnErrorKeepsItsBytes(t *testing.T) {
	t.Parallel()
	e, f := newFailKeyEnv(t)
	k := e.newCast(t)
	med := k.who["mediator"]
	d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "joint"), ClassCorrespondence, []byte("offer v1"))
	key := docKey(k.caseID, d.ID)

	// Landed, read back: it stands.
	from := e.log.Size()
	f.armLateAfter(key, false, 1, false) // the first write reserves the number
	got, err := e.vault.AddVersion(t.Context(), med, k.caseID, d.ID, NewVersion{}, strings.NewReader("offer v2"))
	f.arm("")
	if vs := e.listedVersions(t, k.caseID, d.ID); !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("listed versions = %v, want [1 2] (the write landed)", vs)
	}
	if rec, obj := e.stagedBytes(t, k.caseID, d.ID, 2); !rec || !obj {
		t.Fatalf("listed version 2 lost its record (%v) or its ciphertext (%v)", !rec, !obj)
	}
	if err != nil {
		t.Fatalf("AddVersion whose record landed: %v, want it to stand", err)
	}
	if len(got.Versions) != 2 {
		t.Fatalf("AddVersion returned %d versions, want 2", len(got.Versions))
	}
	if ents := e.entries(t, from); len(ents) != 1 || ents[0].Type != "doc.upload" {
		t.Fatalf("entries after a version that landed = %+v, want [doc.upload] alone", ents)
	}
	if b, err := e.download(t, med, k.caseID, d.ID, 2); err != nil || string(b) != "offer v2" {
		t.Fatalf("version 2 listed but not readable: %q, %v", b, err)
	}

	// Landed, not readable back: kept, and the log says unknown.
	from = e.log.Size()
	f.armLateAfter(key, false, 1, true)
	_, err = e.vault.AddVersion(t.Context(), med, k.caseID, d.ID, NewVersion{}, strings.NewReader("offer v3"))
	f.arm("")
	if vs := e.listedVersions(t, k.caseID, d.ID); !slices.Equal(vs, []int{1, 2, 3}) {
		t.Fatalf("listed versions = %v, want [1 2 3] (the write landed)", vs)
	}
	if rec, obj := e.stagedBytes(t, k.caseID, d.ID, 3); !rec || !obj {
		t.Fatalf("listed version 3 lost its record (%v) or its ciphertext (%v)", !rec, !obj)
	}
	if err == nil {
		t.Fatal("AddVersion succeeded with its record unreadable")
	}
	e.wantCorrected(t, from, "doc.upload", "doc.upload.unknown", d.ID)
	if b, err := e.download(t, med, k.caseID, d.ID, 3); err != nil || string(b) != "offer v3" {
		t.Fatalf("version 3 listed but not readable: %q, %v", b, err)
	}

	// Not written, as far as the read-back shows: the write may still land
	// (its answer was an error, not a refusal), so the staged version is
	// kept for the retention sweep; doc.upload.failed follows.
	from = e.log.Size()
	f.armAfter(key, 1)
	if _, err := e.vault.AddVersion(t.Context(), med, k.caseID, d.ID, NewVersion{}, strings.NewReader("offer v4")); err == nil {
		t.Fatal("AddVersion succeeded with its record unwritable")
	}
	f.arm("")
	if vs := e.listedVersions(t, k.caseID, d.ID); !slices.Equal(vs, []int{1, 2, 3}) {
		t.Fatalf("listed versions = %v, want [1 2 3]", vs)
	}
	if rec, obj := e.stagedBytes(t, k.caseID, d.ID, 4); !rec || !obj {
		t.Fatalf("a version whose write failed but could still land lost its record (%v) or ciphertext (%v)", !rec, !obj)
	}
	e.wantCorrected(t, from, "doc.upload", "doc.upload.failed", d.ID)
}

// The same for a new document, whose record is created: with a
// server-chosen id, a record written despite an error stands (before,
// Upload answered the error and left the document listed); one not
// written takes its staged version away (before, it was left for the
// sweep); one that cannot be read back keeps it. With a client-derived id
// (end-to-end encrypted), a record written despite an error kept its
// version (before, it was deleted: the document was listed without its
// bytes).
func TestUploadThatLandedDespiteAnErrorKeepsItsBytes(t *testing.T) {
	t.Parallel()
	e, f := newFailKeyEnv(t)
	k := e.newCast(t)
	med := k.who["mediator"]
	docs := docPrefix(k.caseID)
	upload := func(name string) (Document, error) {
		return e.vault.Upload(t.Context(), med, k.caseID, NewDocument{Name: name, MediaType: "application/pdf", Audience: k.audience(t, "joint"), Class: ClassEvidence}, strings.NewReader(name))
	}
	listed := func() map[string]string {
		list, err := e.vault.List(t.Context(), med, k.caseID)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, d := range list {
			m[d.Name] = d.ID
		}
		return m
	}

	// Landed, read back: it stands.
	from := e.log.Size()
	f.armLateAfter(docs, true, 0, false)
	d, err := upload("landed.pdf")
	f.arm("")
	if err != nil {
		t.Fatalf("upload whose record landed: %v, want it to stand", err)
	}
	if ents := e.entries(t, from); len(ents) != 1 || ents[0].Type != "doc.upload" {
		t.Fatalf("entries after an upload that landed = %+v, want [doc.upload] alone", ents)
	}
	if b, err := e.download(t, med, k.caseID, d.ID, 1); err != nil || string(b) != "landed.pdf" {
		t.Fatalf("listed but not readable: %q, %v", b, err)
	}

	// Landed, not readable back: kept; doc.upload.unknown.
	from = e.log.Size()
	f.armLateAfter(docs, true, 0, true)
	if _, err := upload("unknown.pdf"); err == nil {
		t.Fatal("upload succeeded with its record unreadable")
	}
	f.arm("")
	id := listed()["unknown.pdf"]
	if id == "" {
		t.Fatal("the document written despite the error is not listed")
	}
	e.wantCorrected(t, from, "doc.upload", "doc.upload.unknown", id)
	if b, err := e.download(t, med, k.caseID, id, 1); err != nil || string(b) != "unknown.pdf" {
		t.Fatalf("listed but not readable: %q, %v", b, err)
	}

	// Not written, as far as the read-back shows: nothing listed; the
	// staged version is kept (the write may still land) for the sweep.
	from = e.log.Size()
	f.arm(docs)
	f.mu.Lock()
	f.prefix = true
	f.mu.Unlock()
	if _, err := upload("failed.pdf"); err == nil {
		t.Fatal("upload succeeded with its record unwritable")
	}
	f.arm("")
	if _, ok := listed()["failed.pdf"]; ok {
		t.Fatal("a document whose record failed is listed")
	}
	ents := e.entries(t, from)
	if len(ents) != 2 || ents[1].Type != "doc.upload.failed" {
		t.Fatalf("entries after an upload not written = %d, want [doc.upload doc.upload.failed]", len(ents))
	}
	failedID := ents[0].Objects[0]
	if rec, obj := e.stagedBytes(t, k.caseID, failedID, 1); !rec || !obj {
		t.Fatalf("an upload whose write failed but could still land lost its record (%v) or ciphertext (%v)", !rec, !obj)
	}

	// End-to-end encrypted, client-derived id, landed: kept.
	a := k.who["partyA"]
	docID, nonce := e2eeDocID(k.caseID, a.ID)
	ct, wrap := clientSide(t, k.caseID, docID, a.ID, 1, "caucus:A", randomBytes(100))
	f.armLateAfter(docKey(k.caseID, docID), false, 0, false)
	_, err = e.vault.UploadE2EE(t.Context(), a, k.caseID, docID, nonce, NewDocument{Name: "offer.pdf", Audience: k.audience(t, "caucus:A"), Class: ClassCorrespondence}, wrap, bytes.NewReader(ct))
	f.arm("")
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if vs := e.listedVersions(t, k.caseID, docID); !slices.Equal(vs, []int{1}) {
		t.Fatalf("listed versions = %v, want [1] (the write landed)", vs)
	}
	if rec, obj := e.stagedBytes(t, k.caseID, docID, 1); !rec || !obj {
		t.Fatalf("a listed end-to-end encrypted version lost its record (%v) or ciphertext (%v)", !rec, !obj)
	}
}

// TestRetriedVersionWriteIsNotListedTwice: a document-record write that
// landed, lost its answer and was tried again finds its own write (a
// conditional write answering "changed meanwhile"): the version stands,
// listed once, with no correction in the log.
func TestRetriedVersionWriteIsNotListedTwice(t *testing.T) {
	t.Parallel()
	e, f := newFailKeyEnv(t)
	k := e.newCast(t)
	med := k.who["mediator"]
	d := e.upload(t, med, k.caseID, "Offer.pdf", k.audience(t, "joint"), ClassCorrespondence, []byte("offer v1"))
	from := e.log.Size()
	f.armLateAfter(docKey(k.caseID, d.ID), false, 1, false)
	f.mu.Lock()
	f.lateErr = objstore.ErrPrecondition
	f.mu.Unlock()
	got, err := e.vault.AddVersion(t.Context(), med, k.caseID, d.ID, NewVersion{}, strings.NewReader("offer v2"))
	f.arm("")
	if err != nil {
		t.Fatalf("AddVersion whose write landed before its retry: %v", err)
	}
	if vs := e.listedVersions(t, k.caseID, d.ID); !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("listed versions = %v, want [1 2]", vs)
	}
	if len(got.Versions) != 2 {
		t.Fatalf("AddVersion returned %d versions, want 2", len(got.Versions))
	}
	if ents := e.entries(t, from); len(ents) != 1 || ents[0].Type != "doc.upload" {
		t.Fatalf("entries = %+v, want [doc.upload] alone", ents)
	}
}
