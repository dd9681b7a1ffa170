package metastore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/objstore/storetest"
)

type record struct {
	Name    string   `json:"name"`
	Count   int      `json:"count"`
	Tags    []string `json:"tags,omitempty"`
	Comment string   `json:"comment,omitempty"`
}

func recordsKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// newStore returns a Store over a fresh Dir, and the Dir's root so tests can
// look at what lands on disk.
func newStore(t *testing.T) (*Store, *objstore.Dir, string) {
	t.Helper()
	root := t.TempDir()
	obj, err := objstore.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(obj, recordsKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return s, obj, root
}

func TestNewRejectsBadKeyLength(t *testing.T) {
	obj, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := New(obj, make([]byte, n)); err == nil {
			t.Fatalf("records key of %d bytes accepted", n)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := t.Context()
	in := record{Name: "alpha", Count: 3, Tags: []string{"x", "y"}}
	etag, err := s.Create(ctx, "things/a", in)
	if err != nil {
		t.Fatal(err)
	}
	if etag == "" {
		t.Fatal("Create returned no ETag")
	}
	var out record
	got, err := s.Get(ctx, "things/a", &out)
	if err != nil {
		t.Fatal(err)
	}
	if got != etag {
		t.Fatalf("Get ETag %q, Create ETag %q", got, etag)
	}
	if out.Name != in.Name || out.Count != in.Count || len(out.Tags) != 2 || out.Tags[1] != "y" {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}

	in.Count = 4
	etag2, err := s.Replace(ctx, "things/a", in, etag)
	if err != nil {
		t.Fatal(err)
	}
	if etag2 == etag {
		t.Fatal("Replace kept the same ETag")
	}
	out = record{}
	if _, err := s.Get(ctx, "things/a", &out); err != nil {
		t.Fatal(err)
	}
	if out.Count != 4 {
		t.Fatalf("after Replace count = %d, want 4", out.Count)
	}

	if err := s.Delete(ctx, "things/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "things/a", &out); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
	}
}

func TestGetMissing(t *testing.T) {
	s, _, _ := newStore(t)
	var r record
	if _, err := s.Get(t.Context(), "things/none", &r); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestStoredBytesHoldNoPlaintext(t *testing.T) {
	s, obj, root := newStore(t)
	const canary = "CANARY-confidential-title-7f3a9c"
	const canaryName = "Jane-Q-Mediator-Canary"
	if _, err := s.Create(t.Context(), "cases/c1/case", record{Name: canaryName, Comment: canary}); err != nil {
		t.Fatal(err)
	}
	raw := storetest.ReadObject(t, obj, "cases/c1/case")
	for _, needle := range []string{canary, canaryName, `"comment"`, `"name"`} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Fatalf("stored object contains %q in the clear", needle)
		}
	}
	if !bytes.HasPrefix(raw, []byte(sealMagic)) {
		t.Fatal("stored object is not a sealed record")
	}
	// And nowhere on disk either (metadata files, temp files).
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(canary)) || bytes.Contains(b, []byte(canaryName)) {
			t.Errorf("%s holds the record in the clear", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSealingIsRandomised(t *testing.T) {
	s, obj, _ := newStore(t)
	r := record{Name: "same"}
	if _, err := s.Create(t.Context(), "a", r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(t.Context(), "b", r); err != nil {
		t.Fatal(err)
	}
	// Same plaintext under different keys: the ciphertexts must differ
	// (fresh nonce), or equal records would be linkable.
	if bytes.Equal(storetest.ReadObject(t, obj, "a")[len(sealMagic):], storetest.ReadObject(t, obj, "b")[len(sealMagic):]) {
		t.Fatal("two seals of the same record are identical")
	}
}

func TestRecordMovedToAnotherKeyFails(t *testing.T) {
	s, obj, _ := newStore(t)
	if _, err := s.Create(t.Context(), "accounts/u_alice", record{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	raw := storetest.ReadObject(t, obj, "accounts/u_alice")
	storetest.WriteObject(t, obj, "accounts/u_mallory", raw)
	var r record
	_, err := s.Get(t.Context(), "accounts/u_mallory", &r)
	if err == nil {
		t.Fatal("a record copied to another key opened")
	}
	if r.Name != "" {
		t.Fatalf("record decoded despite the failure: %+v", r)
	}
	// The original still opens (the failure is about the key, not the bytes).
	if _, err := s.Get(t.Context(), "accounts/u_alice", &r); err != nil || r.Name != "alice" {
		t.Fatalf("original record: %+v, %v", r, err)
	}
}

func TestWrongRecordsKeyFails(t *testing.T) {
	s, obj, _ := newStore(t)
	if _, err := s.Create(t.Context(), "k", record{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	other, err := New(obj, recordsKey(t))
	if err != nil {
		t.Fatal(err)
	}
	var r record
	if _, err := other.Get(t.Context(), "k", &r); err == nil {
		t.Fatal("record opened under another records key")
	}
}

func TestFlippedByteFails(t *testing.T) {
	s, obj, _ := newStore(t)
	if _, err := s.Create(t.Context(), "k", record{Name: "x", Count: 1}); err != nil {
		t.Fatal(err)
	}
	raw := storetest.ReadObject(t, obj, "k")
	for _, i := range []int{0, len(sealMagic), len(sealMagic) + 12, len(raw) / 2, len(raw) - 1} {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x80
		storetest.WriteObject(t, obj, "k", bad)
		var r record
		if _, err := s.Get(t.Context(), "k", &r); err == nil {
			t.Fatalf("record with byte %d flipped opened", i)
		}
	}
	// Truncated too.
	storetest.WriteObject(t, obj, "k", raw[:len(sealMagic)+5])
	var r record
	if _, err := s.Get(t.Context(), "k", &r); err == nil {
		t.Fatal("truncated record opened")
	}
	// Restoring the original bytes makes it readable again.
	storetest.WriteObject(t, obj, "k", raw)
	if _, err := s.Get(t.Context(), "k", &r); err != nil || r.Count != 1 {
		t.Fatalf("restored record: %+v, %v", r, err)
	}
}

func TestCreateTwiceErrExists(t *testing.T) {
	s, _, _ := newStore(t)
	if _, err := s.Create(t.Context(), "k", record{Name: "first"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(t.Context(), "k", record{Name: "second"}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: err = %v, want ErrExists", err)
	}
	var r record
	if _, err := s.Get(t.Context(), "k", &r); err != nil || r.Name != "first" {
		t.Fatalf("after failed Create: %+v, %v (want first)", r, err)
	}
}

func TestReplaceStaleETagConflict(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := t.Context()
	e1, err := s.Create(ctx, "k", record{Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Replace(ctx, "k", record{Count: 2}, e1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Replace(ctx, "k", record{Count: 99}, e1); !errors.Is(err, ErrConflict) {
		t.Fatalf("Replace with stale ETag: err = %v, want ErrConflict", err)
	}
	var r record
	if _, err := s.Get(ctx, "k", &r); err != nil || r.Count != 2 {
		t.Fatalf("after stale Replace: %+v, %v (want count 2)", r, err)
	}
	// Replace of a missing record is a conflict too, not a create.
	if _, err := s.Replace(ctx, "missing", record{}, e1); !errors.Is(err, ErrConflict) {
		t.Fatalf("Replace of missing record: err = %v, want ErrConflict", err)
	}
	if _, err := s.Get(ctx, "missing", &r); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Replace created a record: %v", err)
	}
}

func TestUpdateConcurrentIncrements(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := t.Context()
	if _, err := s.Create(ctx, "counter", record{}); err != nil {
		t.Fatal(err)
	}
	// 8 writers: each lost race means another writer won, so every Update
	// finishes within 8 attempts, well inside maxUpdateAttempts (16).
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			_, errs[i] = Update(ctx, s, "counter", func(r *record) error {
				r.Count++
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	var r record
	if _, err := s.Get(ctx, "counter", &r); err != nil {
		t.Fatal(err)
	}
	if r.Count != writers {
		t.Fatalf("count = %d after %d concurrent increments", r.Count, writers)
	}
}

func TestUpdateReturnsWrittenRecord(t *testing.T) {
	s, _, _ := newStore(t)
	if _, err := s.Create(t.Context(), "k", record{Count: 41}); err != nil {
		t.Fatal(err)
	}
	got, err := Update(t.Context(), s, "k", func(r *record) error { r.Count++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != 42 {
		t.Fatalf("Update returned count %d, want 42", got.Count)
	}
}

func TestUpdateChangeErrorWritesNothing(t *testing.T) {
	s, obj, _ := newStore(t)
	ctx := t.Context()
	if _, err := s.Create(ctx, "k", record{Count: 1}); err != nil {
		t.Fatal(err)
	}
	before, err := obj.Versions(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	raw := storetest.ReadObject(t, obj, "k")
	errNope := errors.New("nope")
	calls := 0
	got, err := Update(ctx, s, "k", func(r *record) error {
		calls++
		r.Count = 100 // modified, but must not be written
		return errNope
	})
	if !errors.Is(err, errNope) {
		t.Fatalf("err = %v, want the change's error", err)
	}
	if calls != 1 {
		t.Fatalf("change called %d times, want 1", calls)
	}
	if got.Count != 0 {
		t.Fatalf("Update returned %+v with its error, want the zero record", got)
	}
	after, err := obj.Versions(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("versions went from %d to %d: something was written", len(before), len(after))
	}
	if !bytes.Equal(storetest.ReadObject(t, obj, "k"), raw) {
		t.Fatal("stored bytes changed")
	}
}

func TestUpdateMissingRecord(t *testing.T) {
	s, _, _ := newStore(t)
	called := false
	_, err := Update(t.Context(), s, "nothing", func(r *record) error { called = true; return nil })
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if called {
		t.Fatal("change called for a missing record")
	}
}

func TestIndexKey(t *testing.T) {
	key := recordsKey(t)
	obj, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s1, err := New(obj, key)
	if err != nil {
		t.Fatal(err)
	}
	s1b, err := New(obj, bytes.Clone(key))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New(obj, recordsKey(t))
	if err != nil {
		t.Fatal(err)
	}

	a := s1.IndexKey("email", "alice@example.com")
	if a != s1.IndexKey("email", "alice@example.com") || a != s1b.IndexKey("email", "alice@example.com") {
		t.Fatal("IndexKey is not deterministic for one records key")
	}
	if a == s2.IndexKey("email", "alice@example.com") {
		t.Fatal("IndexKey is the same under another records key")
	}
	if len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Fatalf("IndexKey %q is not 32 hex digits", a)
	}
	if strings.Contains(a, "alice") {
		t.Fatal("IndexKey reveals its input")
	}
	if err := objstore.ValidateKey("x/" + a); err != nil {
		t.Fatalf("IndexKey not usable in an object key: %v", err)
	}

	distinct := [][]string{
		{"ab", "c"}, {"a", "bc"}, {"abc"}, {"a", "b", "c"},
		{"", "abc"}, {"abc", ""}, {"1:a"}, {"1:a", ""},
		{"email", "alice@example.com"}, {"session", "alice@example.com"},
		{},
	}
	seen := map[string][]string{}
	for _, parts := range distinct {
		k := s1.IndexKey(parts...)
		if prev, dup := seen[k]; dup {
			t.Fatalf("IndexKey(%q) == IndexKey(%q)", parts, prev)
		}
		seen[k] = parts
	}
}

func TestOversizedRecordRefused(t *testing.T) {
	s, obj, _ := newStore(t)
	ctx := t.Context()
	big := record{Comment: strings.Repeat("x", MaxRecordSize)}
	if _, err := s.Create(ctx, "big", big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Create oversized: err = %v, want ErrTooLarge", err)
	}
	if _, err := obj.Stat(ctx, "big"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("oversized record was stored (stat err %v)", err)
	}

	// Through Replace and Update as well.
	etag, err := s.Create(ctx, "k", record{Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Replace(ctx, "k", big, etag); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Replace oversized: err = %v, want ErrTooLarge", err)
	}
	if _, err := Update(ctx, s, "k", func(r *record) error { r.Comment = big.Comment; return nil }); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Update oversized: err = %v, want ErrTooLarge", err)
	}

	// Just under the limit is fine and reads back.
	overhead := len(`{"name":"","count":0,"comment":""}`)
	fits := record{Comment: strings.Repeat("y", MaxRecordSize-overhead)}
	if _, err := s.Create(ctx, "fits", fits); err != nil {
		t.Fatalf("record of exactly MaxRecordSize refused: %v", err)
	}
	var r record
	if _, err := s.Get(ctx, "fits", &r); err != nil {
		t.Fatalf("reading a maximal record: %v", err)
	}
	if len(r.Comment) != len(fits.Comment) {
		t.Fatalf("maximal record came back with %d bytes, want %d", len(r.Comment), len(fits.Comment))
	}
}

func TestListKeys(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := t.Context()
	for _, k := range []string{"cases/b/case", "cases/a/case", "accounts/x"} {
		if _, err := s.Create(ctx, k, record{}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := s.List(ctx, "cases/", func(k string) error { got = append(got, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "cases/a/case,cases/b/case" {
		t.Fatalf("List(cases/) = %v", got)
	}
}
