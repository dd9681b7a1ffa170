package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

const testOrigin = "parley.example/audit"

func newStore(tb testing.TB) *objstore.Dir {
	tb.Helper()
	s, err := objstore.OpenDir(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// newSigner returns a signer with a key derived from seed, so tests can make
// "the same" key twice and a different key on purpose.
func newSigner(tb testing.TB, name, seed string) *Signer {
	tb.Helper()
	sum := sha256.Sum256([]byte(seed))
	s, err := NewSigner(name, ed25519.NewKeyFromSeed(sum[:]))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func openLog(tb testing.TB, store objstore.Store, s *Signer) *Log {
	tb.Helper()
	l, err := Open(context.Background(), store, s)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func ev(typ, actor string) Event {
	return Event{Type: typ, Actor: actor, Case: "case-42", Objects: []string{"doc-1"}, Hashes: []string{"sha256:00ff"}}
}

func appendN(tb testing.TB, l *Log, n int) {
	tb.Helper()
	for i := range n {
		if _, err := l.Append(context.Background(), ev("doc.view", "user-"+string(rune('a'+i%26)))); err != nil {
			tb.Fatal(err)
		}
	}
}

func getObject(tb testing.TB, store objstore.Store, key string) []byte {
	tb.Helper()
	rc, _, err := store.Get(context.Background(), key, objstore.GetOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// overwrite replaces an object unconditionally, as an attacker with write
// access to the bucket would.
func overwrite(tb testing.TB, store objstore.Store, key string, data []byte) {
	tb.Helper()
	if _, err := store.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), objstore.PutOptions{}); err != nil {
		tb.Fatal(err)
	}
}

func mustVerify(tb testing.TB, store objstore.Store, vkey string, trusted []byte) Report {
	tb.Helper()
	rep, err := Verify(context.Background(), store, vkey, trusted)
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	return rep
}

func verifyFails(tb testing.TB, store objstore.Store, vkey string, trusted []byte, want string) {
	tb.Helper()
	_, err := Verify(context.Background(), store, vkey, trusted)
	if err == nil {
		tb.Fatalf("Verify succeeded, want error containing %q", want)
	}
	if !bytes.Contains([]byte(err.Error()), []byte(want)) {
		tb.Fatalf("Verify error = %q, want it to contain %q", err, want)
	}
}
