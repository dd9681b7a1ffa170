package audit

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestLogsUnderTwoPrefixesAreIndependent: a second log built on this
// machinery (the key directory's) shares the store but not the tree, and
// each verifies on its own.
func TestLogsUnderTwoPrefixesAreIndependent(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	auditLog := openLog(t, store, newSigner(t, testOrigin, "k1"))
	other, err := OpenWithPrefix(ctx, store, newSigner(t, "parley.example/keydir", "k2"), "keydir/log/")
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, auditLog, 3)
	for range 5 {
		if _, err := other.Append(ctx, Event{Type: "keydir.device", Actor: "u_1", Objects: []string{"dv_1"}}); err != nil {
			t.Fatal(err)
		}
	}
	if auditLog.Size() != 3 || other.Size() != 5 {
		t.Fatalf("sizes %d and %d, want 3 and 5", auditLog.Size(), other.Size())
	}
	mustVerify(t, store, auditLog.signer.VerifierKey(), nil)
	rep, err := VerifyWithPrefix(ctx, store, other.signer.VerifierKey(), nil, "keydir/log/")
	if err != nil || rep.Size != 5 {
		t.Fatalf("verify keydir log: %+v %v", rep, err)
	}
	// Reopening finds the same tree; proofs work as for the audit log.
	again, err := OpenWithPrefix(ctx, store, newSigner(t, "parley.example/keydir", "k2"), "keydir/log/")
	if err != nil || again.Size() != 5 {
		t.Fatalf("reopen: size %d, %v", again.Size(), err)
	}
	signed, err := again.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := OpenCheckpoint(signed, other.signer.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	e, err := again.Entry(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := e.Encode()
	proof, err := again.InclusionProof(2, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(proof, cp.Size, cp.Hash, 2, tlog.RecordHash(rec)); err != nil {
		t.Fatal(err)
	}
	// The audit log's verifier does not accept the other log's checkpoint.
	if _, err := OpenCheckpoint(signed, auditLog.signer.VerifierKey()); err == nil {
		t.Fatal("keydir checkpoint verified as an audit checkpoint")
	}
}

func TestBadPrefixRefused(t *testing.T) {
	for _, p := range []string{"", "keydir", "/keydir/", "key dir/"} {
		_, err := OpenWithPrefix(context.Background(), newStore(t), newSigner(t, testOrigin, "k"), p)
		if err == nil || !strings.Contains(err.Error(), "prefix") {
			t.Fatalf("prefix %q: %v", p, err)
		}
	}
}
