package kms

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
)

// onEachStore runs f on a local directory store and on the test MinIO.
func onEachStore(t *testing.T, f func(t *testing.T, store objstore.Store)) {
	t.Run("dir", func(t *testing.T) { f(t, newStore(t)) })
	t.Run("s3", func(t *testing.T) {
		store, err := objstore.OpenS3(t.Context(), testenv.S3(t))
		if err != nil {
			t.Fatal(err)
		}
		f(t, store)
	})
}

func TestLabelFor(t *testing.T) {
	for key, want := range map[string]string{
		"keys/records":          "parley/records-key/v1",
		"keys/audit-signing":    "parley/audit-signing-key/v1",
		"keys/cases/c_0123abcd": "parley/case-key/v1/c_0123abcd",
	} {
		got, err := LabelFor(key)
		if err != nil || got != want {
			t.Errorf("LabelFor(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	for _, key := range []string{"keys/other", "keys/cases/", "keys/cases", "keys/records/x", "cases/c1/case", "keys/"} {
		if label, err := LabelFor(key); err == nil {
			t.Errorf("LabelFor(%q) = %q, want an error", key, label)
		}
	}
}

func TestRegisterKeyRule(t *testing.T) {
	saved := KeyRules()
	t.Cleanup(func() {
		rulesMu.Lock()
		rules = saved
		rulesMu.Unlock()
	})
	label := func(k string) string { return "test/" + k }
	RegisterKeyRule(KeyRule{Object: "keys/exports/", Label: label})
	RegisterKeyRule(KeyRule{Object: "keys/exportsx", Label: label}) // a sibling, not a child
	if got, err := LabelFor("keys/exports/e1"); err != nil || got != "test/keys/exports/e1" {
		t.Fatalf("registered rule: %q, %v", got, err)
	}
	for _, bad := range []KeyRule{
		{Object: "keys/records", Label: label},       // same exact key
		{Object: "keys/cases/c1", Label: label},      // inside a prefix rule
		{Object: "keys/cases/sub/", Label: label},    // prefix inside a prefix
		{Object: "keys/", Label: label},              // everything
		{Object: "keys/exports/x/", Label: label},    // inside the one just added
		{Object: "records/key", Label: label},        // outside keys/
		{Object: "keys/new"},                         // no label function
		{Object: "keys/exports", Label: label},       // the "directory" of keys/exports/…
		{Object: "keys/exports/e2", Label: label},    // under keys/exports/
		{Object: "keys/records/more/", Label: nil},   // no label
		{Object: "keys/audit-signing", Label: label}, // same exact key
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterKeyRule(%q) did not panic", bad.Object)
				}
			}()
			RegisterKeyRule(bad)
		}()
	}
}

// seeded is a store holding the wrapped keys a node and its vault make,
// plus an object that is not a key.
type seeded struct {
	keys  map[string][]byte // object → plaintext key
	other objstore.Info     // a non-key object, which rotation must not touch
}

func seed(t *testing.T, store objstore.Store, mk *MasterKey, cases int) seeded {
	t.Helper()
	s := seeded{keys: map[string][]byte{}}
	objects := []string{RecordsKeyObject, AuditSigningKeyObject}
	for i := range cases {
		objects = append(objects, fmt.Sprintf("%sc_%04d", CaseKeyPrefix, i))
	}
	for _, obj := range objects {
		label, err := LabelFor(obj)
		if err != nil {
			t.Fatal(err)
		}
		key, err := LoadOrCreateKey(t.Context(), store, mk, obj, label)
		if err != nil {
			t.Fatal(err)
		}
		s.keys[obj] = key
	}
	body := []byte("sealed record, not a key")
	info, err := store.Put(t.Context(), "cases/c_0000/case", bytes.NewReader(body), int64(len(body)), objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.other = info
	return s
}

// latestWrapper returns, for each key object, the id of the master key
// wrapping its latest version.
func latestWrapper(t *testing.T, store objstore.Store, s seeded) map[string]string {
	t.Helper()
	out := map[string]string{}
	for obj := range s.keys {
		by, ok := WrappedBy(readObject(t, store, obj))
		if !ok {
			t.Fatalf("%s: not a wrapped key", obj)
		}
		out[obj] = by
	}
	return out
}

// checkRotated asserts the end state: every key object has exactly one
// version, it unwraps under newKey to the original key, oldKey unwraps no
// stored version, and the non-key object is untouched.
func checkRotated(t *testing.T, store objstore.Store, s seeded, oldKey, newKey *MasterKey) {
	t.Helper()
	ctx := t.Context()
	for obj, want := range s.keys {
		label, _ := LabelFor(obj)
		got, err := LoadOrCreateKey(ctx, store, newKey, obj, label)
		if err != nil {
			t.Fatalf("%s under the new key: %v", obj, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: the key changed in rotation", obj)
		}
		vs, err := store.Versions(ctx, obj)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 {
			t.Fatalf("%s has %d versions after rotation, want 1", obj, len(vs))
		}
		for _, v := range vs {
			blob, _, err := readWrapped(ctx, store, obj, v.VersionID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := oldKey.Unwrap(blob, label); !errors.Is(err, ErrUnwrap) {
				t.Fatalf("%s@%s: the old master key still unwraps it (err %v)", obj, v.VersionID, err)
			}
		}
	}
	if _, err := VerifyWrapped(ctx, store, oldKey); err == nil {
		t.Fatal("VerifyWrapped with the old key passed after rotation")
	}
	if n, err := VerifyWrapped(ctx, store, newKey); err != nil || n != len(s.keys) {
		t.Fatalf("VerifyWrapped with the new key: %d, %v; want %d, nil", n, err, len(s.keys))
	}
	info, err := store.Stat(ctx, s.other.Key)
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != s.other.ETag {
		t.Fatal("rotation changed an object that is not a key")
	}
	if vs, _ := store.Versions(ctx, s.other.Key); len(vs) != 1 {
		t.Fatalf("non-key object has %d versions, want 1", len(vs))
	}
}

var errCrash = errors.New("simulated crash")

func TestRotateMasterKeyInterruptedThenResumed(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		oldKey, newKey := freshMasterKey(t), freshMasterKey(t)
		s := seed(t, store, oldKey, 6)
		total := len(s.keys)

		// Stop after 3 objects, as a crash would.
		const k = 3
		var seen []string
		rep, err := RotateMasterKey(ctx, store, oldKey, newKey, RotateOptions{Workers: 1, AfterEach: func(obj string, done, n int) error {
			seen = append(seen, obj)
			if n != total {
				t.Errorf("AfterEach total = %d, want %d", n, total)
			}
			if done == k {
				return errCrash
			}
			return nil
		}})
		if !errors.Is(err, errCrash) {
			t.Fatalf("interrupted rotation: err = %v, want the crash", err)
		}
		if rep.Rewrapped != k {
			t.Fatalf("interrupted rotation rewrapped %d, want %d", rep.Rewrapped, k)
		}
		// Half-way: the first k under the new key, the rest under the old;
		// nodes on either key alone could not read everything.
		by := latestWrapper(t, store, s)
		nNew, nOld := 0, 0
		for obj, id := range by {
			switch id {
			case newKey.ID():
				nNew++
				if !contains(seen, obj) {
					t.Errorf("%s is under the new key but was not reported settled", obj)
				}
			case oldKey.ID():
				nOld++
			default:
				t.Fatalf("%s wrapped by unknown key %s", obj, id)
			}
		}
		if nNew != k || nOld != total-k {
			t.Fatalf("after the crash: %d under new, %d under old; want %d and %d", nNew, nOld, k, total-k)
		}
		if _, err := VerifyWrapped(ctx, store, newKey); err == nil {
			t.Fatal("VerifyWrapped passed on a half-rotated store")
		}

		// Run again with both keys: it converges.
		rep, err = RotateMasterKey(ctx, store, oldKey, newKey, RotateOptions{})
		if err != nil {
			t.Fatalf("resumed rotation: %v", err)
		}
		if rep.Objects != total || rep.Rewrapped != total-k || rep.AlreadyNew != k || rep.Verified != total {
			t.Fatalf("resumed rotation report %+v; want %d objects, %d rewrapped, %d already new, %d verified", rep, total, total-k, k, total)
		}
		checkRotated(t, store, s, oldKey, newKey)

		// A third run changes nothing.
		rep, err = RotateMasterKey(ctx, store, oldKey, newKey, RotateOptions{})
		if err != nil || rep.Rewrapped != 0 || rep.AlreadyNew != total || rep.OldVersionsDeleted != 0 {
			t.Fatalf("rerun after completion: %+v, %v", rep, err)
		}
		checkRotated(t, store, s, oldKey, newKey)

		// And the new key can be rotated away in turn.
		newer := freshMasterKey(t)
		if _, err := RotateMasterKey(ctx, store, newKey, newer, RotateOptions{}); err != nil {
			t.Fatal(err)
		}
		checkRotated(t, store, s, newKey, newer)
	})
}

// In parallel, an interruption leaves an unpredictable mix; the next run
// still converges.
func TestRotateMasterKeyParallelInterruptedThenResumed(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		oldKey, newKey := freshMasterKey(t), freshMasterKey(t)
		s := seed(t, store, oldKey, 40)
		_, err := RotateMasterKey(ctx, store, oldKey, newKey, RotateOptions{Workers: 8, AfterEach: func(_ string, done, _ int) error {
			if done == 10 {
				return errCrash
			}
			return nil
		}})
		if !errors.Is(err, errCrash) {
			t.Fatalf("interrupted rotation: err = %v, want the crash", err)
		}
		under := map[string]int{}
		for _, id := range latestWrapper(t, store, s) {
			under[id]++
		}
		if under[newKey.ID()] < 10 || under[oldKey.ID()] == 0 || under[newKey.ID()]+under[oldKey.ID()] != len(s.keys) {
			t.Fatalf("after the crash: %d under new, %d under old, of %d", under[newKey.ID()], under[oldKey.ID()], len(s.keys))
		}
		rep, err := RotateMasterKey(ctx, store, oldKey, newKey, RotateOptions{Workers: 8})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rewrapped != under[oldKey.ID()] || rep.AlreadyNew != under[newKey.ID()] {
			t.Fatalf("resumed: %+v, want %d rewrapped and %d already new", rep, under[oldKey.ID()], under[newKey.ID()])
		}
		checkRotated(t, store, s, oldKey, newKey)
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A crash between rewriting an object and deleting its old version leaves
// both; the next run deletes the old one.
func TestRotateMasterKeyDeletesOldVersionsLeftByACrash(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		oldKey, newKey := freshMasterKey(t), freshMasterKey(t)
		s := seed(t, store, oldKey, 1)
		obj := RecordsKeyObject
		blob := newKey.Wrap(s.keys[obj], RecordsKeyLabel)
		if _, err := store.Put(ctx, obj, bytes.NewReader(blob), int64(len(blob)), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if vs, _ := store.Versions(ctx, obj); len(vs) != 2 {
			t.Fatalf("setup: %d versions, want 2", len(vs))
		}
		rep, err := RotateMasterKey(ctx, store, oldKey, newKey, RotateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.AlreadyNew != 1 || rep.Rewrapped != len(s.keys)-1 || rep.OldVersionsDeleted != len(s.keys) {
			t.Fatalf("report %+v", rep)
		}
		checkRotated(t, store, s, oldKey, newKey)
	})
}

func TestRotateMasterKeyRefusesUnknownObjects(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		oldKey, newKey := freshMasterKey(t), freshMasterKey(t)
		s := seed(t, store, oldKey, 2)
		stray := oldKey.Wrap(randomKey(t), "parley/something-new/v1")
		if _, err := store.Put(ctx, "keys/something-new", bytes.NewReader(stray), int64(len(stray)), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := RotateMasterKey(ctx, store, oldKey, newKey, RotateOptions{})
		if err == nil || !strings.Contains(err.Error(), "keys/something-new") {
			t.Fatalf("err = %v, want a refusal naming keys/something-new", err)
		}
		for obj, id := range latestWrapper(t, store, s) {
			if id != oldKey.ID() {
				t.Fatalf("%s was rewrapped although the rotation refused to start", obj)
			}
		}
	})
}

func TestRotateMasterKeyWrongOldKey(t *testing.T) {
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		real, wrong, newKey := freshMasterKey(t), freshMasterKey(t), freshMasterKey(t)
		s := seed(t, store, real, 2)
		_, err := RotateMasterKey(ctx, store, wrong, newKey, RotateOptions{})
		if err == nil || !strings.Contains(err.Error(), real.ID()) {
			t.Fatalf("err = %v, want one naming the key that wrapped the objects (%s)", err, real.ID())
		}
		for obj, id := range latestWrapper(t, store, s) {
			if id != real.ID() {
				t.Fatalf("%s changed", obj)
			}
		}
	})
}

func TestRotateMasterKeyTamperedObject(t *testing.T) {
	store := newStore(t)
	oldKey, newKey := freshMasterKey(t), freshMasterKey(t)
	seed(t, store, oldKey, 1)
	// A blob under the old key's id but that does not authenticate.
	bad := oldKey.Wrap(randomKey(t), "parley/case-key/v1/another-case")
	obj := CaseKeyPrefix + "c_0000"
	if _, err := store.Put(t.Context(), obj, bytes.NewReader(bad), int64(len(bad)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := RotateMasterKey(t.Context(), store, oldKey, newKey, RotateOptions{})
	if !errors.Is(err, ErrUnwrap) || !strings.Contains(err.Error(), obj) {
		t.Fatalf("err = %v, want ErrUnwrap naming %s", err, obj)
	}
}

func TestRotateMasterKeySameKeyOnlyChecks(t *testing.T) {
	store := newStore(t)
	mk := freshMasterKey(t)
	s := seed(t, store, mk, 2)
	rep, err := RotateMasterKey(t.Context(), store, mk, mk, RotateOptions{})
	if err != nil || rep.Rewrapped != 0 || rep.AlreadyNew != len(s.keys) {
		t.Fatalf("same key: %+v, %v", rep, err)
	}
	for obj := range s.keys {
		if vs, _ := store.Versions(t.Context(), obj); len(vs) != 1 {
			t.Fatalf("%s: %d versions", obj, len(vs))
		}
	}
}

func TestWrappedBy(t *testing.T) {
	mk := freshMasterKey(t)
	if id, ok := WrappedBy(mk.Wrap(randomKey(t), testLabel)); !ok || id != mk.ID() {
		t.Fatalf("WrappedBy = %q, %v; want %q", id, ok, mk.ID())
	}
	for _, blob := range [][]byte{nil, {1}, {2, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, ok := WrappedBy(blob); ok {
			t.Fatalf("WrappedBy(%x) accepted", blob)
		}
	}
}
