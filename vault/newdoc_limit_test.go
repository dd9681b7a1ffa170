package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// TestNewDocumentGivenBackOnlyWhenRefused: a new document whose record
// write failed is given back to its uploader's day only when the write
// was refused (nothing of it can land): a write that landed and then
// answered a deadline, or one that failed in a way that may still land,
// keeps its place counted. Before, any error gave the place back, so a
// document that stood did not count against the day's limit.
func TestNewDocumentGivenBackOnlyWhenRefused(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		f := &failKey{Store: store}
		e := newEnv(t, f)
		e.vault.perDay = 1
		k := e.newCast(t)
		ctx := t.Context()
		docs := docPrefix(k.caseID)
		upload := func(who, aud, name string) error {
			_, err := e.vault.Upload(ctx, k.who[who], k.caseID, NewDocument{Name: name, Audience: k.audience(t, aud), Class: ClassEvidence}, strings.NewReader(name))
			return err
		}
		wantLimited := func(who, aud, why string) {
			t.Helper()
			if _, ok := fault.AsRateLimited(upload(who, aud, "next.pdf")); !ok {
				t.Errorf("%s's next new document after %s: not refused by the day's limit", who, why)
			}
		}

		// Written, then a deadline, and not readable back: the document
		// stands (listed), and counts.
		f.armLateAfter(docs, true, 0, true)
		err := upload("partyA", "caucus:A", "landed.pdf")
		f.arm("")
		if err == nil {
			t.Fatal("upload succeeded with its record unreadable")
		}
		list, lerr := e.vault.List(ctx, k.who["mediator"], k.caseID)
		if lerr != nil || len(list) != 1 {
			t.Fatalf("documents after a write that landed: %d, %v", len(list), lerr)
		}
		wantLimited("partyA", "caucus:A", "a write that landed despite its error")

		// The write failed (not refused): it may still land, so it counts.
		f.arm(docs)
		f.mu.Lock()
		f.prefix = true
		f.mu.Unlock()
		err = upload("counselA", "caucus:A", "failed.pdf")
		f.arm("")
		if err == nil {
			t.Fatal("upload succeeded with its record unwritable")
		}
		wantLimited("counselA", "caucus:A", "a write that failed")

		// Refused: a record holds the id party B's client derived already
		// (as for a retry of an upload that was written); the create-only
		// write cannot land, and the place is given back.
		pB := k.who["partyB"]
		docID, nonce := e2eeDocID(k.caseID, pB.ID)
		if _, err := e.meta.Create(ctx, docKey(k.caseID, docID), docRecord{ID: docID, Case: k.caseID, Class: ClassEvidence,
			Audience: k.audience(t, "caucus:B"), NextVersion: 1}); err != nil {
			t.Fatal(err)
		}
		ct, wrap := clientSide(t, k.caseID, docID, pB.ID, 1, "caucus:B", randomBytes(100))
		_, err = e.vault.UploadE2EE(ctx, pB, k.caseID, docID, nonce, NewDocument{Name: "offer.pdf", Audience: k.audience(t, "caucus:B"), Class: ClassEvidence}, wrap, bytes.NewReader(ct))
		if err == nil || !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("upload onto a record at its id: %v, want a conflict", err)
		}
		if err := upload("partyB", "caucus:B", "after refusal.pdf"); err != nil {
			t.Fatalf("party B's new document after a refused write: %v (the refused one was counted)", err)
		}
		wantLimited("partyB", "caucus:B", "one new document")
	})
}

// TestConflictExhaustionIsARefusal: a record change that lost to other
// writers on every attempt wrote nothing (metastore.Update returns any
// other failure as it is), so its staged version is deleted and the
// uploader told it was not added, not "may still appear" (review L5).
func TestConflictExhaustionIsARefusal(t *testing.T) {
	t.Parallel()
	exhausted := fmt.Errorf("vault/c/docs/d: %w after 8 attempts", metastore.ErrConflict)
	if !refusedWrite(exhausted) {
		t.Error("a change refused on every attempt is not taken as refused")
	}
	for _, cause := range []error{context.DeadlineExceeded, objstore.ErrUnavailable, errors.New("connection reset")} {
		if refusedWrite(cause) {
			t.Errorf("%v taken as refused: such a write may still land", cause)
		}
	}
}
