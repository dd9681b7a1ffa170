package audit

import (
	"context"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A client holding only checkpoints and the verifier key can check that an
// entry is in the log and that the log only grew.
func TestProofs(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newSigner(t, testOrigin, "k1")
	l := openLog(t, store, s)

	appendN(t, l, 7)
	oldSigned, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 13)
	newSigned, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldCP, err := OpenCheckpoint(oldSigned, s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	newCP, err := OpenCheckpoint(newSigned, s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if oldCP.Size != 7 || newCP.Size != 20 {
		t.Fatalf("checkpoint sizes %d, %d", oldCP.Size, newCP.Size)
	}

	for _, i := range []int64{0, 6, 7, 13, 19} {
		e, err := l.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.InclusionProof(i, newCP.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, newCP.Size, newCP.Hash, i, tlog.RecordHash(rec)); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
		if err := tlog.CheckRecord(p, newCP.Size, newCP.Hash, i, tlog.RecordHash(append(rec, ' '))); err == nil {
			t.Fatalf("inclusion proof of %d accepted a different record", i)
		}
		if i+1 < newCP.Size {
			if err := tlog.CheckRecord(p, newCP.Size, newCP.Hash, i+1, tlog.RecordHash(rec)); err == nil {
				t.Fatalf("inclusion proof of %d accepted at index %d", i, i+1)
			}
		}
	}

	cp, err := l.ConsistencyProof(oldCP.Size, newCP.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(cp, newCP.Size, newCP.Hash, oldCP.Size, oldCP.Hash); err != nil {
		t.Fatalf("consistency 7 -> 20: %v", err)
	}
	bogus := oldCP.Hash
	bogus[0] ^= 1
	if err := tlog.CheckTree(cp, newCP.Size, newCP.Hash, oldCP.Size, bogus); err == nil {
		t.Fatal("consistency proof accepted a forked old root")
	}

	for _, bad := range [][2]int64{{-1, 5}, {5, 5}, {0, 21}} {
		if _, err := l.InclusionProof(bad[0], bad[1]); err == nil {
			t.Errorf("InclusionProof(%d, %d) succeeded", bad[0], bad[1])
		}
	}
	for _, bad := range [][2]int64{{0, 5}, {6, 5}, {5, 21}} {
		if _, err := l.ConsistencyProof(bad[0], bad[1]); err == nil {
			t.Errorf("ConsistencyProof(%d, %d) succeeded", bad[0], bad[1])
		}
	}
}

func TestSignerMatchesNote(t *testing.T) {
	s := newSigner(t, testOrigin, "k1")
	v, err := note.NewVerifier(s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if v.Name() != testOrigin || v.KeyHash() != s.KeyHash() {
		t.Fatalf("verifier %s/%08x, signer %s/%08x", v.Name(), v.KeyHash(), s.Name(), s.KeyHash())
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := note.Open(msg, note.VerifierList(v)); err != nil || n.Text != "hello\n" {
		t.Fatalf("note.Open: %v", err)
	}
	if _, err := NewSigner("bad name", nil); err == nil {
		t.Fatal("NewSigner accepted a nil key")
	}
	if _, err := NewSigner("bad+name", newSigner(t, "x", "k").key); err == nil {
		t.Fatal("NewSigner accepted a name with '+'")
	}
}

func TestCheckpointText(t *testing.T) {
	c := Checkpoint{Origin: testOrigin, Size: 42, Hash: tlog.RecordHash([]byte("x"))}
	got, err := ParseCheckpoint(c.Text())
	if err != nil || got != c {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := ParseCheckpoint(c.Text() + "ext line\n"); err != nil {
		t.Fatalf("extension line rejected: %v", err)
	}
	for _, bad := range []string{
		"",
		testOrigin + "\n42\n",
		testOrigin + "\n042\n" + c.Text()[len(testOrigin)+4:],
		testOrigin + "\n-1\nAAAA\n",
		testOrigin + "\n42\nnot-base64\n",
		testOrigin + "\n42\nAAAA\n",
		"\n42\n" + c.Text()[len(testOrigin)+4:],
	} {
		if _, err := ParseCheckpoint(bad); err == nil {
			t.Errorf("ParseCheckpoint accepted %q", bad)
		}
	}
}
