package audit

import (
	"bytes"
	"context"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// Flipping one byte of one stored entry must be caught, whether the result
// still parses (caught by its signature, or, re-signed by someone holding
// the key, by the hashes) or not (caught by parsing).
func TestVerifyDetectsFlippedByte(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flip   func([]byte) int // returns the offset to flip
		resign bool
		want   string
	}{
		{"value", func(b []byte) int { return bytes.Index(b, []byte(`"user-c"`)) + 6 }, false, "entry 2 (audit/entries/00000000000000000002): signature does not verify"},
		{"value re-signed", func(b []byte) int { return bytes.Index(b, []byte(`"user-c"`)) + 6 }, true, "entry 2: hash does not match the signed checkpoint at size 3"},
		{"syntax", func(b []byte) int { return 0 }, false, "entry 2: unparseable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t)
			s := newSigner(t, testOrigin, "k1")
			appendN(t, openLog(t, store, s), 5)
			mustVerify(t, store, s.VerifierKey(), nil)

			b := getObject(t, store, entryKey(2))
			off := tc.flip(b)
			if off < 0 || off >= len(b) {
				t.Fatalf("bad offset %d in %s", off, b)
			}
			b[off] ^= 0x01
			if tc.resign {
				event, _, err := parseRecord(b)
				if err != nil {
					t.Fatal(err)
				}
				b = signRecord(s, 2, event)
			}
			overwrite(t, store, entryKey(2), b)
			verifyFails(t, store, s.VerifierKey(), nil, tc.want)
		})
	}
}

// A rewritten entry is pinned to its index by the historical checkpoints,
// even when only a batch checkpoint covers it (then to a range).
func TestVerifyLocalisesRewrite(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)
	appendN(t, l, 2)
	if _, err := l.AppendBatch(ctx, []Event{ev("a", "u"), ev("b", "u"), ev("c", "u")}); err != nil {
		t.Fatal(err)
	}
	forged, _ := ev("b", "mallory").Encode()
	overwrite(t, store, entryKey(3), signRecord(s, 3, forged)) // by someone holding the key
	verifyFails(t, store, s.VerifierKey(), nil, "entries 2..4: recomputed tree does not match the signed checkpoint at size 5")
}

func TestVerifyDetectsDeletedEntry(t *testing.T) {
	ctx := context.Background()
	t.Run("middle", func(t *testing.T) {
		store := newStore(t)
		s := newSigner(t, testOrigin, "k1")
		appendN(t, openLog(t, store, s), 5)
		if err := store.Delete(ctx, entryKey(2), ""); err != nil {
			t.Fatal(err)
		}
		verifyFails(t, store, s.VerifierKey(), nil, "entry 2 is missing")
	})
	t.Run("last", func(t *testing.T) {
		store := newStore(t)
		s := newSigner(t, testOrigin, "k1")
		appendN(t, openLog(t, store, s), 5)
		if err := store.Delete(ctx, entryKey(4), ""); err != nil {
			t.Fatal(err)
		}
		verifyFails(t, store, s.VerifierKey(), nil, "signs 5 entries but the store has 4")
	})
	t.Run("checkpoint", func(t *testing.T) {
		store := newStore(t)
		s := newSigner(t, testOrigin, "k1")
		appendN(t, openLog(t, store, s), 2)
		if err := store.Delete(ctx, latestKey, ""); err != nil {
			t.Fatal(err)
		}
		verifyFails(t, store, s.VerifierKey(), nil, "no signed checkpoint")
	})
}

// A checkpoint with the right origin and even the right root, but signed
// by another key, is rejected; so is the log checked against the wrong key.
func TestVerifyRejectsForeignSignature(t *testing.T) {
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	appendN(t, openLog(t, store, s), 3)
	rep := mustVerify(t, store, s.VerifierKey(), nil)

	other := newSigner(t, testOrigin, "k2")
	forged, err := note.Sign(&note.Note{Text: Checkpoint{Origin: testOrigin, Size: rep.Size, Hash: rep.RootHash}.Text()}, other)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, store, latestKey, forged)
	verifyFails(t, store, s.VerifierKey(), nil, "audit/checkpoint: audit: checkpoint signature")

	clean := newStore(t)
	appendN(t, openLog(t, clean, s), 3)
	verifyFails(t, clean, other.VerifierKey(), nil, "checkpoint signature")

	// Same key, another log's name: the origin binds the signature.
	renamed := newSigner(t, "other.example/audit", "k1")
	if _, err := OpenCheckpoint(getObject(t, clean, latestKey), renamed.VerifierKey()); err == nil {
		t.Fatal("checkpoint opened under another log's name")
	}
}

// Someone holding the key rewrites history and re-signs every checkpoint.
// The store is self-consistent again, so only a checkpoint saved earlier
// can expose the fork.
func TestVerifyRejectsForkedTrustedCheckpoint(t *testing.T) {
	ctx := context.Background()
	s := newSigner(t, testOrigin, "k1")

	honest := newStore(t)
	hl := openLog(t, honest, s)
	appendN(t, hl, 4)
	saved, err := hl.Checkpoint(ctx) // an auditor keeps this
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, hl, 2)
	mustVerify(t, honest, s.VerifierKey(), saved)

	forked := newStore(t)
	fl := openLog(t, forked, s)
	appendN(t, fl, 2)
	if _, err := fl.Append(ctx, ev("doc.view", "someone-else")); err != nil { // entry 2 differs
		t.Fatal(err)
	}
	appendN(t, fl, 3)
	mustVerify(t, forked, s.VerifierKey(), nil) // fine on its own...
	verifyFails(t, forked, s.VerifierKey(), saved, "not consistent with the trusted checkpoint at size 4")

	// A rollback below the trusted size is caught too.
	short := newStore(t)
	appendN(t, openLog(t, short, s), 3)
	verifyFails(t, short, s.VerifierKey(), saved, "trusted checkpoint signs 4 entries but the store has 3")

	// A trusted checkpoint must itself be signed by the log's key.
	other := newSigner(t, testOrigin, "k2")
	ol := openLog(t, newStore(t), other)
	appendN(t, ol, 4)
	foreign, _ := ol.Checkpoint(ctx)
	verifyFails(t, honest, s.VerifierKey(), foreign, "trusted checkpoint")
}

func TestVerifyRejectsStrayObjects(t *testing.T) {
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	appendN(t, openLog(t, store, s), 2)
	overwrite(t, store, entriesPrefix+"2", []byte(`{"type":"x"}`))
	verifyFails(t, store, s.VerifierKey(), nil, "unexpected object")
}
