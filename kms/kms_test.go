package kms

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

const testLabel = "parley/records-key/v1"

func newStore(t *testing.T) *objstore.Dir {
	t.Helper()
	s, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func freshMasterKey(t *testing.T) *MasterKey {
	t.Helper()
	mk, err := LoadMasterKey(filepath.Join(t.TempDir(), "master.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestMasterKeyFileCreated0600AndReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	mk1, err := LoadMasterKey(path, true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Fatalf("key file mode = %v, want 0600", perm)
	}

	secret := randomKey(t)
	wrapped := mk1.Wrap(secret, testLabel)

	mk2, err := LoadMasterKey(path, true)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if mk1.ID() != mk2.ID() {
		t.Fatalf("reloaded key has id %s, want %s", mk2.ID(), mk1.ID())
	}
	got, err := mk2.Unwrap(wrapped, testLabel)
	if err != nil {
		t.Fatalf("unwrap with reloaded key: %v", err)
	}
	if !bytes.Equal(got, secret) {
		t.Fatal("unwrapped bytes differ from the wrapped key")
	}

	// Reloading without create must also work for an existing file.
	mk3, err := LoadMasterKey(path, false)
	if err != nil {
		t.Fatalf("reload without create: %v", err)
	}
	if mk3.ID() != mk1.ID() {
		t.Fatal("reload without create gave another key")
	}
}

func TestMasterKeyMissingWithoutCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if _, err := LoadMasterKey(path, false); err == nil {
		t.Fatal("missing key file accepted with create=false")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("create=false made a key file (stat err %v)", err)
	}
}

func TestMasterKeyLoosePermissionsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := GenerateMasterKeyFile(path); err != nil {
		t.Fatal(err)
	}
	// Sanity: the file is fine as created.
	if _, err := LoadMasterKey(path, false); err != nil {
		t.Fatalf("fresh key file refused: %v", err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadMasterKey(path, false)
		if err == nil {
			t.Fatalf("key file with mode %v accepted", mode)
		}
		if !strings.Contains(err.Error(), "too open") {
			t.Fatalf("mode %v: error %q does not explain the permissions", mode, err)
		}
		// create=true must not paper over it either.
		if _, err := LoadMasterKey(path, true); err == nil {
			t.Fatalf("key file with mode %v accepted with create=true", mode)
		}
	}
}

func TestMasterKeyMalformedRefused(t *testing.T) {
	good := keyFilePrefix + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"
	cases := map[string]string{
		"empty":          "",
		"no prefix":      base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"other prefix":   "parley-master-key-v2:" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"bad base64":     keyFilePrefix + "!!!not base64!!!",
		"short key":      keyFilePrefix + base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"long key":       keyFilePrefix + base64.StdEncoding.EncodeToString(make([]byte, 33)),
		"prefix only":    keyFilePrefix,
		"trailing bytes": strings.TrimSpace(good) + "xyz",
	}
	dir := t.TempDir()
	// The well-formed control proves the refusals below are about content.
	ctl := filepath.Join(dir, "control.key")
	if err := os.WriteFile(ctl, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey(ctl, false); err != nil {
		t.Fatalf("well-formed control refused: %v", err)
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".key")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadMasterKey(path, true); err == nil {
				t.Fatalf("malformed key file %q accepted", content)
			}
			// And it was not replaced by a fresh key.
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != content {
				t.Fatal("malformed key file was rewritten")
			}
		})
	}
}

func TestGenerateMasterKeyFileRefusesOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := GenerateMasterKeyFile(path); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := GenerateMasterKeyFile(path); err == nil {
		t.Fatal("GenerateMasterKeyFile overwrote an existing file")
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("existing key file changed")
	}

	// Nor does it overwrite some other file that happens to be there.
	other := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(other, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := GenerateMasterKeyFile(other); err == nil {
		t.Fatal("GenerateMasterKeyFile overwrote an unrelated file")
	}
	if b, _ := os.ReadFile(other); string(b) != "keep me" {
		t.Fatal("unrelated file changed")
	}
}

func TestGeneratedMasterKeysDiffer(t *testing.T) {
	// Two fresh key files must differ: the key is random, not derived.
	a, b := freshMasterKey(t), freshMasterKey(t)
	if a.ID() == b.ID() {
		t.Fatal("two generated master keys have the same id")
	}
}

func TestWrapUnwrapRoundTripAndRandomised(t *testing.T) {
	mk := freshMasterKey(t)
	secret := randomKey(t)
	w1 := mk.Wrap(secret, testLabel)
	w2 := mk.Wrap(secret, testLabel)
	if bytes.Equal(w1, w2) {
		t.Fatal("wrapping twice gave identical blobs (nonce reuse)")
	}
	if bytes.Contains(w1, secret) {
		t.Fatal("wrapped blob contains the plaintext key")
	}
	for _, w := range [][]byte{w1, w2} {
		got, err := mk.Unwrap(w, testLabel)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, secret) {
			t.Fatal("round trip changed the key")
		}
	}
}

func TestUnwrapWrongLabelFails(t *testing.T) {
	mk := freshMasterKey(t)
	w := mk.Wrap(randomKey(t), testLabel)
	for _, label := range []string{"parley/audit-key/v1", "", testLabel + "x", strings.ToUpper(testLabel)} {
		if _, err := mk.Unwrap(w, label); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("Unwrap with label %q: err = %v, want ErrUnwrap", label, err)
		}
	}
}

func TestUnwrapDifferentMasterKeyFails(t *testing.T) {
	mk1, mk2 := freshMasterKey(t), freshMasterKey(t)
	w := mk1.Wrap(randomKey(t), testLabel)
	if _, err := mk2.Unwrap(w, testLabel); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("Unwrap with another master key: err = %v, want ErrUnwrap", err)
	}

	// Even with the key id forged to match, the AEAD must refuse.
	forged := bytes.Clone(w)
	copy(forged[1:1+len(mk2.id)], mk2.id[:])
	if _, err := mk2.Unwrap(forged, testLabel); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("Unwrap with forged key id: err = %v, want ErrUnwrap", err)
	}
}

func TestUnwrapTamperedFails(t *testing.T) {
	mk := freshMasterKey(t)
	w := mk.Wrap(randomKey(t), testLabel)
	for i := range w {
		bad := bytes.Clone(w)
		bad[i] ^= 0x01
		if _, err := mk.Unwrap(bad, testLabel); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("byte %d flipped: err = %v, want ErrUnwrap", i, err)
		}
	}
	for _, n := range []int{0, 1, len(w) - 1} {
		if _, err := mk.Unwrap(w[:n], testLabel); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("truncated to %d bytes: err = %v, want ErrUnwrap", n, err)
		}
	}
	if _, err := mk.Unwrap(append(bytes.Clone(w), 0), testLabel); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("extended blob: err = %v, want ErrUnwrap", err)
	}
}

func readObject(t *testing.T, store objstore.Store, key string) []byte {
	t.Helper()
	rc, _, err := store.Get(t.Context(), key, objstore.GetOptions{})
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

func TestLoadOrCreateKeyConcurrentCallersAgree(t *testing.T) {
	store := newStore(t)
	path := filepath.Join(t.TempDir(), "master.key")
	if err := GenerateMasterKeyFile(path); err != nil {
		t.Fatal(err)
	}
	const callers = 8
	const objectKey = "keys/records"
	keys := make([][]byte, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		// Each caller is its own "node": its own MasterKey instance loaded
		// from the shared file.
		mk, err := LoadMasterKey(path, false)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			<-start
			keys[i], errs[i] = LoadOrCreateKey(t.Context(), store, mk, objectKey, testLabel)
		})
	}
	close(start)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if len(keys[i]) != 32 {
			t.Fatalf("caller %d: key is %d bytes, want 32", i, len(keys[i]))
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("caller %d got a different key from caller 0", i)
		}
	}

	// Exactly one version was ever written: the losers did not overwrite.
	vs, err := store.Versions(t.Context(), objectKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d versions of %s, want 1", len(vs), objectKey)
	}

	stored := readObject(t, store, objectKey)
	if bytes.Contains(stored, keys[0]) {
		t.Fatal("stored object contains the plaintext key")
	}
	if len(stored) <= 32 {
		t.Fatalf("stored object is %d bytes: not a wrapped key", len(stored))
	}

	// A later start reads the same key back.
	mk, err := LoadMasterKey(path, false)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateKey(t.Context(), store, mk, objectKey, testLabel)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, keys[0]) {
		t.Fatal("reloading gave another key")
	}
}

func TestLoadOrCreateKeyRefusesWrongMasterOrLabel(t *testing.T) {
	store := newStore(t)
	mk := freshMasterKey(t)
	const objectKey = "keys/records"
	key, err := LoadOrCreateKey(t.Context(), store, mk, objectKey, testLabel)
	if err != nil {
		t.Fatal(err)
	}
	before := readObject(t, store, objectKey)

	if _, err := LoadOrCreateKey(t.Context(), store, freshMasterKey(t), objectKey, testLabel); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("other master key: err = %v, want ErrUnwrap", err)
	}
	if _, err := LoadOrCreateKey(t.Context(), store, mk, objectKey, "parley/audit-key/v1"); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("other label: err = %v, want ErrUnwrap", err)
	}
	// The failures must not have replaced the stored key.
	if !bytes.Equal(readObject(t, store, objectKey), before) {
		t.Fatal("a failed load replaced the stored key")
	}
	again, err := LoadOrCreateKey(t.Context(), store, mk, objectKey, testLabel)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, key) {
		t.Fatal("key changed after failed loads")
	}
}

func TestMasterKeyNeverInStore(t *testing.T) {
	// The master key's bytes must not reach the object store.
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	mk, err := LoadMasterKey(path, true)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	master, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(raw)), keyFilePrefix))
	if err != nil {
		t.Fatal(err)
	}
	storeRoot := t.TempDir()
	store, err := objstore.OpenDir(storeRoot)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(t.Context(), store, mk, "keys/records", testLabel); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(storeRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, master) || bytes.Contains(b, raw) {
			t.Errorf("%s contains the master key", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
