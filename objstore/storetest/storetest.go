// Package storetest is the contract suite for objstore.Store. Every
// implementation runs the same Run, so code written and tested against the
// embedded Dir store behaves the same on S3/MinIO in production, and a
// semantic difference between them shows up as a failing test here rather
// than as a production incident.
//
// The suite pins down the behaviours Parley relies on: conditional writes
// are atomic (exactly one of N racing writers wins), deleting hides behind a
// delete marker while history stays readable, a held version cannot be
// destroyed, and bodies of unknown length stream.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
)

// Run runs the contract suite. open must return an empty store each time it
// is called (a fresh directory, a fresh bucket): subtests run in parallel,
// each on its own store, and some list everything in it.
func Run(t *testing.T, open func(t *testing.T) objstore.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, objstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Ranges", testRanges},
		{"NotFound", testNotFound},
		{"InvalidKeys", testInvalidKeys},
		{"CreateOnly", testCreateOnly},
		{"IfMatch", testIfMatch},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ConcurrentUpdate", testConcurrentUpdate},
		{"FailedPutInvisible", testFailedPutInvisible},
		{"List", testList},
		{"Versions", testVersions},
		{"PermanentDelete", testPermanentDelete},
		{"LegalHold", testLegalHold},
		{"BulkVersions", testBulkVersions},
		{"HideThenDelete", testHideThenDelete},
		{"LargeStream", testLargeStream},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func testRoundTrip(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key = "docs/a.bin"
	body := []byte("hello, parley")
	in := put(t, s, key, body, objstore.PutOptions{ContentType: "application/json"})
	if in.Key != key || in.ETag == "" || in.VersionID == "" || in.Size != int64(len(body)) {
		t.Fatalf("Put info = %+v", in)
	}
	st, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	sameVersion(t, "Stat", st, in)
	if d := time.Since(st.Modified); st.Modified.IsZero() || d < -time.Minute || d > time.Minute {
		t.Errorf("Stat Modified = %v, want about now", st.Modified)
	}
	got, gi := read(t, s, key, objstore.GetOptions{})
	if !bytes.Equal(got, body) {
		t.Errorf("Get = %q, want %q", got, body)
	}
	sameVersion(t, "Get", gi, in)

	in2 := put(t, s, key, []byte("second version"), objstore.PutOptions{})
	if in2.VersionID == in.VersionID || in2.ETag == in.ETag {
		t.Errorf("overwrite kept version/ETag: %+v after %+v", in2, in)
	}
	if st, err = s.Stat(ctx, key); err != nil {
		t.Fatal(err)
	}
	sameVersion(t, "Stat after overwrite", st, in2)

	// Unknown size, small body; and the empty object.
	in3, err := s.Put(ctx, "docs/unsized", hideLen(bytes.NewReader(body)), -1, objstore.PutOptions{})
	if err != nil || in3.Size != int64(len(body)) {
		t.Fatalf("Put size -1 = %+v, %v", in3, err)
	}
	if got, _ := read(t, s, "docs/unsized", objstore.GetOptions{}); !bytes.Equal(got, body) {
		t.Errorf("Get unsized = %q", got)
	}
	put(t, s, "docs/empty", nil, objstore.PutOptions{})
	if got, gi := read(t, s, "docs/empty", objstore.GetOptions{}); len(got) != 0 || gi.Size != 0 {
		t.Errorf("Get empty = %q, %+v", got, gi)
	}
	if got, _ := read(t, s, "docs/empty", objstore.GetOptions{Length: 10}); len(got) != 0 {
		t.Errorf("Get empty with Length = %q", got)
	}
}

func testRanges(t *testing.T, s objstore.Store) {
	body := make([]byte, 100)
	for i := range body {
		body[i] = byte(i)
	}
	const key = "r/bytes"
	in := put(t, s, key, body, objstore.PutOptions{})
	for _, c := range []struct{ off, n, from, to int64 }{
		{0, 0, 0, 100},
		{10, 5, 10, 15},
		{90, 0, 90, 100},
		{95, 50, 95, 100}, // past the end: clamped
		{99, 1, 99, 100},
		{0, 1, 0, 1},
	} {
		got, gi := read(t, s, key, objstore.GetOptions{Offset: c.off, Length: c.n})
		if !bytes.Equal(got, body[c.from:c.to]) {
			t.Errorf("range %d+%d = %v, want bytes %d..%d", c.off, c.n, got, c.from, c.to)
		}
		if gi.Size != 100 || gi.ETag != in.ETag {
			t.Errorf("range %d+%d info = %+v, want whole-object size and ETag", c.off, c.n, gi)
		}
	}
	for _, o := range []objstore.GetOptions{{Offset: 100}, {Offset: 200, Length: 1}, {Offset: -1}, {Length: -1}} {
		if rc, _, err := s.Get(t.Context(), key, o); err == nil {
			rc.Close()
			t.Errorf("Get %+v: no error for a range outside the object", o)
		}
	}
}

func testNotFound(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key = "nf/missing"
	_, err := s.Stat(ctx, key)
	isErr(t, "Stat", err, objstore.ErrNotFound)
	_, _, err = s.Get(ctx, key, objstore.GetOptions{})
	isErr(t, "Get", err, objstore.ErrNotFound)
	_, err = s.Versions(ctx, key)
	isErr(t, "Versions", err, objstore.ErrNotFound)
	_, err = s.LegalHold(ctx, key, "")
	isErr(t, "LegalHold", err, objstore.ErrNotFound)
	isErr(t, "Delete", s.Delete(ctx, key, ""), nil)
	// A version ID the store never issued is simply not found.
	put(t, s, key, []byte("x"), objstore.PutOptions{})
	_, _, err = s.Get(ctx, key, objstore.GetOptions{VersionID: "../../etc/passwd"})
	isErr(t, "Get bogus version", err, objstore.ErrNotFound)
}

func testInvalidKeys(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	bad := []string{
		"", "/a", "a//b", "a/", "./a", "a/./b", "a/../b", ".", "..", "a/..",
		"a b", "a@1", "a\\b", "a?b", "a%2f", "ä", "a\x00",
		"v/" + strings.Repeat("k", objstore.MaxSegmentLen+1), strings.Repeat("k/", objstore.MaxKeyLen/2) + "k",
	}
	for _, k := range bad {
		isErr(t, fmt.Sprintf("ValidateKey(%q)", k), objstore.ValidateKey(k), objstore.ErrInvalidKey)
		_, _, err := s.Get(ctx, k, objstore.GetOptions{})
		isErr(t, "Get "+k, err, objstore.ErrInvalidKey)
		_, err = s.Stat(ctx, k)
		isErr(t, "Stat "+k, err, objstore.ErrInvalidKey)
		_, err = s.Put(ctx, k, strings.NewReader("x"), 1, objstore.PutOptions{})
		isErr(t, "Put "+k, err, objstore.ErrInvalidKey)
		isErr(t, "Delete "+k, s.Delete(ctx, k, ""), objstore.ErrInvalidKey)
		_, err = s.Versions(ctx, k)
		isErr(t, "Versions "+k, err, objstore.ErrInvalidKey)
		isErr(t, "SetLegalHold "+k, s.SetLegalHold(ctx, k, "", true), objstore.ErrInvalidKey)
		_, err = s.LegalHold(ctx, k, "")
		isErr(t, "LegalHold "+k, err, objstore.ErrInvalidKey)
	}
	noop := func(objstore.Info) error { return nil }
	for _, p := range []string{"/a", "a//", "a/../", "../", "a b", "a@", "a/.", "a/.."} {
		isErr(t, fmt.Sprintf("List(%q)", p), s.List(ctx, p, noop), objstore.ErrInvalidKey)
	}
	for _, p := range []string{"", "a", "a/", "a/.h", "a/b."} {
		isErr(t, fmt.Sprintf("List(%q)", p), s.List(ctx, p, noop), nil)
	}
	for _, k := range []string{"a", "A-z_0.9", "x/y/z", ".hidden", "a..b",
		strings.Repeat("k", objstore.MaxSegmentLen) + "/" + strings.Repeat("k", objstore.MaxKeyLen-objstore.MaxSegmentLen-3) + "/k", // exactly at both limits
	} {
		isErr(t, fmt.Sprintf("ValidateKey(%q)", k), objstore.ValidateKey(k), nil)
		put(t, s, k, []byte(k), objstore.PutOptions{})
		if _, err := s.Stat(ctx, k); err != nil {
			t.Errorf("Stat %q: %v", k, err)
		}
	}
}

func testCreateOnly(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key = "co/record"
	create := objstore.PutOptions{IfNoneMatch: true}
	in := put(t, s, key, []byte("first"), create)
	_, err := s.Put(ctx, key, strings.NewReader("second"), 6, create)
	isErr(t, "second create", err, objstore.ErrPrecondition)
	if st, err := s.Stat(ctx, key); err != nil || st.ETag != in.ETag {
		t.Errorf("after lost create: %+v, %v; want ETag %s", st, err, in.ETag)
	}
	// A delete marker is not a live object: create succeeds again.
	if err := s.Delete(ctx, key, ""); err != nil {
		t.Fatal(err)
	}
	put(t, s, key, []byte("again"), create)
	_, err = s.Put(ctx, key, strings.NewReader("x"), 1, objstore.PutOptions{IfNoneMatch: true, IfMatch: in.ETag})
	if err == nil {
		t.Error("Put with IfNoneMatch and IfMatch: no error")
	}
}

func testIfMatch(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key = "im/record"
	v1 := put(t, s, key, []byte("v1"), objstore.PutOptions{})
	v2 := put(t, s, key, []byte("v2"), objstore.PutOptions{IfMatch: v1.ETag})
	_, err := s.Put(ctx, key, strings.NewReader("v3"), 2, objstore.PutOptions{IfMatch: v1.ETag})
	isErr(t, "stale IfMatch", err, objstore.ErrPrecondition)
	if st, err := s.Stat(ctx, key); err != nil || st.ETag != v2.ETag {
		t.Errorf("after stale update: %+v, %v; want ETag %s", st, err, v2.ETag)
	}
	_, err = s.Put(ctx, "im/absent", strings.NewReader("x"), 1, objstore.PutOptions{IfMatch: v1.ETag})
	isErr(t, "IfMatch on absent key", err, objstore.ErrPrecondition)
	if err := s.Delete(ctx, key, ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(ctx, key, strings.NewReader("x"), 1, objstore.PutOptions{IfMatch: v2.ETag})
	isErr(t, "IfMatch on deleted key", err, objstore.ErrPrecondition)
}

const (
	raceRounds  = 4
	raceWriters = 8
)

// testConcurrentCreate: of raceWriters simultaneous create-only writes,
// exactly one wins and the others get ErrPrecondition. This is what makes
// "create account if absent" safe without any lock service.
func testConcurrentCreate(t *testing.T, s objstore.Store) {
	for round := range raceRounds {
		key := fmt.Sprintf("race/create-%d", round)
		results := race(func(i int) (objstore.Info, error) {
			b := payload(round, i)
			return s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{IfNoneMatch: true})
		})
		checkOneWinner(t, s, key, round, results)
	}
}

// testConcurrentUpdate: of raceWriters simultaneous updates of the same
// ETag, exactly one wins: optimistic concurrency loses no update silently.
func testConcurrentUpdate(t *testing.T, s objstore.Store) {
	const key = "race/update"
	cur := put(t, s, key, []byte("initial"), objstore.PutOptions{})
	for round := range raceRounds {
		etag := cur.ETag
		results := race(func(i int) (objstore.Info, error) {
			b := payload(round, i)
			return s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{IfMatch: etag})
		})
		cur = checkOneWinner(t, s, key, round, results)
	}
}

type raceResult struct {
	info objstore.Info
	err  error
}

// race runs fn(0..raceWriters-1) concurrently, released together.
func race(fn func(i int) (objstore.Info, error)) []raceResult {
	results := make([]raceResult, raceWriters)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range raceWriters {
		wg.Go(func() {
			<-start
			results[i].info, results[i].err = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return results
}

func checkOneWinner(t *testing.T, s objstore.Store, key string, round int, results []raceResult) objstore.Info {
	t.Helper()
	winner := -1
	for i, r := range results {
		switch {
		case r.err == nil && winner >= 0:
			t.Fatalf("round %d: writers %d and %d both won", round, winner, i)
		case r.err == nil:
			winner = i
		case !errors.Is(r.err, objstore.ErrPrecondition):
			t.Fatalf("round %d: writer %d: %v, want ErrPrecondition", round, i, r.err)
		}
	}
	if winner < 0 {
		t.Fatalf("round %d: no writer won", round)
	}
	got, gi := read(t, s, key, objstore.GetOptions{})
	if !bytes.Equal(got, payload(round, winner)) || gi.ETag != results[winner].info.ETag {
		t.Fatalf("round %d: stored %q (ETag %s), want writer %d's (ETag %s)",
			round, got, gi.ETag, winner, results[winner].info.ETag)
	}
	return results[winner].info
}

func payload(round, writer int) []byte {
	return fmt.Appendf(nil, "round %d writer %d", round, writer)
}

// testFailedPutInvisible: a body that fails half-way leaves no object.
func testFailedPutInvisible(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	boom := errors.New("reader broke")
	for _, size := range []int64{-1, 2 << 20} {
		key := fmt.Sprintf("fail/size%d", size)
		body := io.MultiReader(io.LimitReader(rand.NewChaCha8([32]byte{}), 1<<20), errReader{boom})
		if _, err := s.Put(ctx, key, body, size, objstore.PutOptions{}); err == nil {
			t.Fatalf("Put %s with a failing body: no error", key)
		}
		_, err := s.Stat(ctx, key)
		isErr(t, "Stat after failed Put", err, objstore.ErrNotFound)
	}
}

func testList(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	// Chosen to trip a naive directory walk: "ls/a-c" and "ls/a.b" sort
	// before "ls/a/b" although "a" < "a-c" as names. No key is also a
	// "directory" of another (see objstore.ValidateKey).
	keys := []string{"ls/b", "ls/a/c/d", "ls/a-c", "ls/0", "ls/a/b", "ls/_x", "ls/ab", "ls/B", "ls/a.b", "lt", "other/x"}
	etags := map[string]string{}
	for _, k := range keys {
		etags[k] = put(t, s, k, []byte("content of "+k), objstore.PutOptions{}).ETag
	}
	list := func(prefix string) []string {
		t.Helper()
		var got []string
		err := s.List(ctx, prefix, func(i objstore.Info) error {
			if i.ETag != etags[i.Key] || i.Size != int64(len("content of "+i.Key)) || i.Modified.IsZero() {
				t.Errorf("List(%q) info %+v", prefix, i)
			}
			got = append(got, i.Key)
			return nil
		})
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		return got
	}
	sorted := slices.Sorted(slices.Values(keys))
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"", sorted},
		{"ls/", []string{"ls/0", "ls/B", "ls/_x", "ls/a-c", "ls/a.b", "ls/a/b", "ls/a/c/d", "ls/ab", "ls/b"}},
		{"ls/a", []string{"ls/a-c", "ls/a.b", "ls/a/b", "ls/a/c/d", "ls/ab"}},
		{"ls/a/", []string{"ls/a/b", "ls/a/c/d"}},
		{"l", sorted[:len(sorted)-1]},
		{"ls/zz", nil},
		{"nothing/", nil},
	} {
		if got := list(c.prefix); !slices.Equal(got, c.want) {
			t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}

	// ListAfter begins past a key, which need not exist, through the
	// store's own listing and through List (the fallback) alike.
	if _, ok := s.(objstore.AfterLister); !ok {
		t.Errorf("%T cannot begin a listing past a key", s)
	}
	type listOnly struct{ objstore.Store }
	for _, c := range []struct{ prefix, after string }{
		{"ls/", ""}, {"ls/", "ls/0"}, {"ls/", "ls/a"}, {"ls/", "ls/a-c"}, {"ls/", "ls/a/"}, {"ls/", "ls/a/b"},
		{"ls/a", "ls/a.b"}, {"", "ls/zz"}, {"", "a"}, {"ls/", "ls/b"}, {"ls/", "lt"},
	} {
		var want []string
		for _, k := range list(c.prefix) {
			if k > c.after {
				want = append(want, k)
			}
		}
		for _, st := range []objstore.Store{s, listOnly{s}} {
			var got []string
			err := objstore.ListAfter(ctx, st, c.prefix, c.after, func(i objstore.Info) error {
				if i.ETag != etags[i.Key] {
					t.Errorf("ListAfter(%q, %q) info %+v", c.prefix, c.after, i)
				}
				got = append(got, i.Key)
				return nil
			})
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("ListAfter(%q, %q) through %T = %q, %v; want %q", c.prefix, c.after, st, got, err, want)
			}
		}
	}

	// Deleted objects disappear: behind a marker, or permanently.
	for _, k := range []string{"ls/b", "ls/a/b"} {
		if err := s.Delete(ctx, k, ""); err != nil {
			t.Fatal(err)
		}
	}
	deleteAllVersions(t, s, "ls/0")
	want := []string{"ls/B", "ls/_x", "ls/a-c", "ls/a.b", "ls/a/c/d", "ls/ab"}
	if got := list("ls/"); !slices.Equal(got, want) {
		t.Errorf("List after deletes = %q, want %q", got, want)
	}

	// An error from fn stops the walk and is returned.
	stop := errors.New("stop")
	calls := 0
	err := s.List(ctx, "ls/", func(objstore.Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with failing fn: err %v after %d calls, want stop after 1", err, calls)
	}
}

func testVersions(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key = "ver/doc"
	v1 := put(t, s, key, []byte("one"), objstore.PutOptions{})
	v2 := put(t, s, key, []byte("two"), objstore.PutOptions{})
	put(t, s, key+"-2", []byte("a neighbour sharing the prefix"), objstore.PutOptions{})
	if err := s.Delete(ctx, key, ""); err != nil {
		t.Fatal(err)
	}
	vs := versions(t, s, key, 3)
	if !vs[0].DeleteMarker || !vs[0].IsLatest || vs[0].VersionID == "" {
		t.Errorf("newest = %+v, want the latest delete marker", vs[0])
	}
	for i, want := range []objstore.Info{v2, v1} {
		v := vs[i+1]
		if v.DeleteMarker || v.IsLatest || v.VersionID != want.VersionID || v.ETag != want.ETag || v.Size != want.Size {
			t.Errorf("version %d = %+v, want %+v", i+1, v, want)
		}
	}
	_, err := s.Stat(ctx, key)
	isErr(t, "Stat behind marker", err, objstore.ErrNotFound)
	_, _, err = s.Get(ctx, key, objstore.GetOptions{})
	isErr(t, "Get behind marker", err, objstore.ErrNotFound)
	_, _, err = s.Get(ctx, key, objstore.GetOptions{VersionID: vs[0].VersionID})
	isErr(t, "Get of the marker itself", err, objstore.ErrNotFound)
	if got, gi := read(t, s, key, objstore.GetOptions{VersionID: v1.VersionID}); string(got) != "one" || gi.VersionID != v1.VersionID {
		t.Errorf("Get v1 = %q, %+v", got, gi)
	}

	v3 := put(t, s, key, []byte("three"), objstore.PutOptions{})
	vs = versions(t, s, key, 4)
	if vs[0].VersionID != v3.VersionID || !vs[0].IsLatest || vs[1].IsLatest {
		t.Errorf("after re-put: newest = %+v, want v3 latest", vs[0])
	}
}

func testPermanentDelete(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key = "pd/doc"
	v1 := put(t, s, key, []byte("one"), objstore.PutOptions{})
	v2 := put(t, s, key, []byte("two"), objstore.PutOptions{})
	if err := s.Delete(ctx, key, v2.VersionID); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stat(ctx, key); err != nil || st.VersionID != v1.VersionID {
		t.Errorf("after deleting the latest version: Stat %+v, %v; want v1", st, err)
	}
	if vs := versions(t, s, key, 1); vs[0].VersionID != v1.VersionID || !vs[0].IsLatest {
		t.Errorf("versions = %+v, want only v1, latest", vs)
	}
	_, _, err := s.Get(ctx, key, objstore.GetOptions{VersionID: v2.VersionID})
	isErr(t, "Get deleted version", err, objstore.ErrNotFound)
	isErr(t, "Delete deleted version again", s.Delete(ctx, key, v2.VersionID), nil)

	// Removing a delete marker undeletes.
	if err := s.Delete(ctx, key, ""); err != nil {
		t.Fatal(err)
	}
	marker := versions(t, s, key, 2)[0]
	if err := s.Delete(ctx, key, marker.VersionID); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stat(ctx, key); err != nil || st.VersionID != v1.VersionID {
		t.Errorf("after removing the marker: Stat %+v, %v; want v1", st, err)
	}

	if err := s.Delete(ctx, key, v1.VersionID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Versions(ctx, key)
	isErr(t, "Versions after deleting all", err, objstore.ErrNotFound)
	_, err = s.Stat(ctx, key)
	isErr(t, "Stat after deleting all", err, objstore.ErrNotFound)
}

func testLegalHold(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key = "lh/evidence"
	v1 := put(t, s, key, []byte("exhibit A"), objstore.PutOptions{})
	v2 := put(t, s, key, []byte("exhibit A, revised"), objstore.PutOptions{})
	holds := func(vid string, want bool) {
		t.Helper()
		if got, err := s.LegalHold(ctx, key, vid); err != nil || got != want {
			t.Errorf("LegalHold(%s) = %v, %v; want %v", vid, got, err, want)
		}
	}
	holds(v1.VersionID, false)
	if err := s.SetLegalHold(ctx, key, v1.VersionID, true); err != nil {
		t.Fatal(err)
	}
	holds(v1.VersionID, true)
	holds(v2.VersionID, false)
	isErr(t, "Delete held version", s.Delete(ctx, key, v1.VersionID), objstore.ErrHeld)
	// A delete marker destroys nothing, so a hold does not prevent it.
	if err := s.Delete(ctx, key, ""); err != nil {
		t.Fatalf("Delete (marker) over a held version: %v", err)
	}
	if got, _ := read(t, s, key, objstore.GetOptions{VersionID: v1.VersionID}); string(got) != "exhibit A" {
		t.Errorf("held version reads %q", got)
	}
	if err := s.SetLegalHold(ctx, key, v1.VersionID, false); err != nil {
		t.Fatal(err)
	}
	holds(v1.VersionID, false)
	if err := s.Delete(ctx, key, v1.VersionID); err != nil {
		t.Fatalf("Delete released version: %v", err)
	}
	isErr(t, "SetLegalHold on deleted version", s.SetLegalHold(ctx, key, v1.VersionID, true), objstore.ErrNotFound)
	_, err := s.LegalHold(ctx, key, v1.VersionID)
	isErr(t, "LegalHold on deleted version", err, objstore.ErrNotFound)
}

// testHideThenDelete: what retention does to a record it destroys
// (retention destroyPlaces) — a delete marker first, then the older
// versions, the marker last — leaves nothing readable at any step, and
// nothing at all at the end.
func testHideThenDelete(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key = "hide/case"
	v1 := put(t, s, key, []byte("one"), objstore.PutOptions{})
	v2 := put(t, s, key, []byte("two"), objstore.PutOptions{})
	if err := s.Delete(ctx, key, ""); err != nil {
		t.Fatal(err)
	}
	vs := versions(t, s, key, 3)
	if !vs[0].DeleteMarker || vs[1].VersionID != v2.VersionID || vs[2].VersionID != v1.VersionID {
		t.Fatalf("versions after the marker = %+v, want marker, v2, v1", vs)
	}
	for _, v := range []objstore.Info{v1, v2} {
		if errs := s.DeleteVersions(ctx, []objstore.Info{v}); errs[0] != nil {
			t.Fatal(errs[0])
		}
		_, err := s.Stat(ctx, key)
		isErr(t, "Stat while older versions go", err, objstore.ErrNotFound)
	}
	if vs := versions(t, s, key, 1); !vs[0].DeleteMarker {
		t.Fatalf("versions = %+v, want only the marker", vs)
	}
	if errs := s.DeleteVersions(ctx, []objstore.Info{vs[0].Info}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	_, err := s.Versions(ctx, key)
	isErr(t, "Versions after deleting all", err, objstore.ErrNotFound)
}

// testBulkVersions: VersionsUnder lists every version and delete marker
// under a prefix (keys whose latest is a marker included, other prefixes
// not), and DeleteVersions deletes them in one call, refusing a held one
// with ErrHeld and taking versions already gone in its stride.
func testBulkVersions(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	a1 := put(t, s, "bulk/c/a", []byte("a1"), objstore.PutOptions{})
	a2 := put(t, s, "bulk/c/a", []byte("a2"), objstore.PutOptions{})
	b1 := put(t, s, "bulk/c/b/x", []byte("b1"), objstore.PutOptions{})
	if err := s.Delete(ctx, "bulk/c/b/x", ""); err != nil { // a marker over b1
		t.Fatal(err)
	}
	h1 := put(t, s, "bulk/c/held", []byte("h1"), objstore.PutOptions{})
	put(t, s, "bulk/d/other", []byte("o"), objstore.PutOptions{})
	if err := s.SetLegalHold(ctx, "bulk/c/held", h1.VersionID, true); err != nil {
		t.Fatal(err)
	}
	var got []objstore.Version
	if err := s.VersionsUnder(ctx, "bulk/c/", func(v objstore.Version) error { got = append(got, v); return nil }); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range got {
		names = append(names, fmt.Sprintf("%s marker=%v latest=%v", v.Key, v.DeleteMarker, v.IsLatest))
	}
	want := []string{"bulk/c/a marker=false latest=true", "bulk/c/a marker=false latest=false",
		"bulk/c/b/x marker=true latest=true", "bulk/c/b/x marker=false latest=false", "bulk/c/held marker=false latest=true"}
	if !slices.Equal(names, want) {
		t.Fatalf("VersionsUnder:\n got %q\nwant %q", names, want)
	}
	if got[0].VersionID != a2.VersionID || got[1].VersionID != a1.VersionID || got[3].VersionID != b1.VersionID {
		t.Fatalf("version ids: %+v", got)
	}
	var all []objstore.Info
	for _, v := range got {
		all = append(all, v.Info)
	}
	all = append(all, a1) // twice: the second finds it gone
	errs := s.DeleteVersions(ctx, all)
	for i, err := range errs {
		if all[i].Key == "bulk/c/held" {
			isErr(t, "DeleteVersions held", err, objstore.ErrHeld)
		} else if err != nil {
			t.Errorf("DeleteVersions %s@%s: %v", all[i].Key, all[i].VersionID, err)
		}
	}
	var left []string
	if err := s.VersionsUnder(ctx, "bulk/", func(v objstore.Version) error { left = append(left, v.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, []string{"bulk/c/held", "bulk/d/other"}) {
		t.Fatalf("left after DeleteVersions: %q", left)
	}
	if err := s.SetLegalHold(ctx, "bulk/c/held", h1.VersionID, false); err != nil {
		t.Fatal(err)
	}
}

// testLargeStream puts 20 MiB of unknown length (more than one S3 part) and
// checks it reads back byte for byte, whole and across the part boundary.
func testLargeStream(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key, size = "big/stream", 20 << 20
	gen := func() io.Reader { return io.LimitReader(rand.NewChaCha8([32]byte{'p', 'a', 'r', 'l', 'e', 'y'}), size) }
	want := sha256.New()
	io.Copy(want, gen())

	in, err := s.Put(ctx, key, hideLen(gen()), -1, objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Size != size || in.ETag == "" {
		t.Errorf("Put info = %+v, want size %d", in, size)
	}
	if st, err := s.Stat(ctx, key); err != nil || st.ETag != in.ETag || st.Size != size {
		t.Errorf("Stat = %+v, %v; want ETag %s size %d", st, err, in.ETag, size)
	}
	rc, _, err := s.Get(ctx, key, objstore.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := sha256.New()
	if n, err := io.Copy(got, rc); err != nil || n != size {
		t.Fatalf("read back %d bytes, %v", n, err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Error("content read back differs from content written")
	}

	const off, n = 16<<20 - 10, 20
	expect := make([]byte, off+n)
	io.ReadFull(gen(), expect)
	if part, _ := read(t, s, key, objstore.GetOptions{Offset: off, Length: n}); !bytes.Equal(part, expect[off:]) {
		t.Errorf("range across 16 MiB = %x, want %x", part, expect[off:])
	}
}

func testPing(t *testing.T, s objstore.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Error(err)
	}
}

// --- helpers ---

func put(t *testing.T, s objstore.Store, key string, body []byte, opts objstore.PutOptions) objstore.Info {
	t.Helper()
	in, err := s.Put(t.Context(), key, bytes.NewReader(body), int64(len(body)), opts)
	if err != nil {
		t.Fatalf("Put %q: %v", key, err)
	}
	return in
}

func read(t *testing.T, s objstore.Store, key string, opts objstore.GetOptions) ([]byte, objstore.Info) {
	t.Helper()
	rc, info, err := s.Get(t.Context(), key, opts)
	if err != nil {
		t.Fatalf("Get %q %+v: %v", key, opts, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get %q: read: %v", key, err)
	}
	return b, info
}

func versions(t *testing.T, s objstore.Store, key string, n int) []objstore.Version {
	t.Helper()
	vs, err := s.Versions(t.Context(), key)
	if err != nil {
		t.Fatalf("Versions %q: %v", key, err)
	}
	if len(vs) != n {
		t.Fatalf("Versions %q: %d versions %+v, want %d", key, len(vs), vs, n)
	}
	return vs
}

func deleteAllVersions(t *testing.T, s objstore.Store, key string) {
	t.Helper()
	vs, err := s.Versions(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if err := s.Delete(t.Context(), key, v.VersionID); err != nil {
			t.Fatal(err)
		}
	}
}

// sameVersion compares what identifies a version. Modified is left out:
// S3 reports it at different precisions from different calls.
func sameVersion(t *testing.T, what string, got, want objstore.Info) {
	t.Helper()
	if got.Key != want.Key || got.ETag != want.ETag || got.VersionID != want.VersionID || got.Size != want.Size {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// isErr checks errors.Is(err, want); want nil means no error.
func isErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// hideLen hides any Len/Size/Seek method, so a store cannot learn the
// length of a "size -1" body by peeking.
func hideLen(r io.Reader) io.Reader { return struct{ io.Reader }{r} }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// ReadObject returns an object's bytes straight from the store, as someone
// with access to the bucket would see them (for at-rest and tamper tests).
func ReadObject(t testing.TB, s objstore.Store, key string) []byte {
	t.Helper()
	rc, _, err := s.Get(context.Background(), key, objstore.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteObject overwrites an object directly, as an attacker with write
// access to the bucket could.
func WriteObject(t testing.TB, s objstore.Store, key string, b []byte) {
	t.Helper()
	if _, err := s.Put(context.Background(), key, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}
