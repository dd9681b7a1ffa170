package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/vault"
)

// rotationEnv is one deployment's storage, described both as a node
// configuration and as the CLI flags an operator would pass.
type rotationEnv struct {
	cfg   server.Config
	flags []string // storage flags, without --master-key-file
}

func scaleRotationEnv(t *testing.T) rotationEnv {
	s3 := testenv.S3(t)
	secret := filepath.Join(t.TempDir(), "s3-secret")
	if err := os.WriteFile(secret, []byte(s3.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return rotationEnv{
		cfg: server.Config{S3: s3, RedisURL: testenv.RedisURL(t)},
		flags: []string{"--s3-endpoint", s3.Endpoint, "--s3-bucket", s3.Bucket, "--s3-access-key", s3.AccessKey,
			"--s3-secret-key-file", secret, "--s3-insecure"},
	}
}

func embeddedRotationEnv(t *testing.T) rotationEnv {
	dir := t.TempDir()
	return rotationEnv{cfg: server.Config{DataDir: dir}, flags: []string{"--data", dir}}
}

func (e rotationEnv) open(t *testing.T, keyFile string) (*server.Node, error) {
	cfg := e.cfg
	cfg.MasterKeyFile = keyFile
	cfg.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	return server.Open(t.Context(), cfg)
}

type storedDoc struct {
	caseID, docID string
	content       []byte
}

// TestRotateMasterKeyCLI runs `parley admin rotate-master-key` on a
// deployment with cases and vault documents: interrupted after two keys,
// then resumed; then every document still opens under the new key, no
// document or record was rewritten, and the old key opens nothing.
func TestRotateMasterKeyCLI(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) rotationEnv{"scale": scaleRotationEnv, "embedded": embeddedRotationEnv} {
		t.Run(name, func(t *testing.T) { testRotateMasterKeyCLI(t, mk(t)) })
	}
}

func testRotateMasterKeyCLI(t *testing.T, env rotationEnv) {
	ctx := context.Background()
	keys := t.TempDir()
	oldFile, newFile := filepath.Join(keys, "old.key"), filepath.Join(keys, "new.key")
	if err := kms.GenerateMasterKeyFile(oldFile); err != nil {
		t.Fatal(err)
	}

	// A node with three cases and documents in each (one of several
	// 64 KiB segments), then stopped.
	node, err := env.open(t, oldFile)
	if err != nil {
		t.Fatal(err)
	}
	med, err := node.Accounts.Create(ctx, account.NewAccount{Email: "mina@example.org", Name: "Mina Mediator", Role: policy.RoleMediator, Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	var docs []storedDoc
	for i := range 3 {
		c, err := node.Cases.Create(ctx, med, cases.NewCase{Title: fmt.Sprintf("Case %d", i), Type: "workplace", SideLabels: []string{"Employee", "Employer"}})
		if err != nil {
			t.Fatal(err)
		}
		for j, size := range []int{1000, 200 << 10} {
			content := make([]byte, size)
			rand.Read(content)
			d, err := node.Vault.Upload(ctx, med, c.ID, vault.NewDocument{Name: fmt.Sprintf("doc-%d-%d.bin", i, j), MediaType: "application/octet-stream",
				Audience: vault.Audience{Kind: policy.AudienceMediators}, Class: vault.ClassEvidence}, bytes.NewReader(content))
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, storedDoc{caseID: c.ID, docID: d.ID, content: content})
		}
	}
	store := node.Store
	before := rotNonKeyObjects(t, store)
	// The records and audit keys, a key per case, and whatever other
	// wrapped keys the node's packages keep (each with its kms.KeyRule).
	held := rotKeyVersions(t, store)
	nKeys := len(held)
	for _, obj := range []string{kms.RecordsKeyObject, kms.AuditSigningKeyObject} {
		if held[obj] == nil {
			t.Fatalf("no %s in the store", obj)
		}
	}
	cases := 0
	for obj := range held {
		if strings.HasPrefix(obj, kms.CaseKeyPrefix) {
			cases++
		}
	}
	if cases != 3 {
		t.Fatalf("%d case keys, want 3", cases)
	}
	node.Close()

	if err := kms.GenerateMasterKeyFile(newFile); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"admin", "rotate-master-key", "--master-key-file", oldFile, "--new-key-file", newFile}, env.flags...)

	// Interrupted after two keys, as a crash would.
	rotateAfterEach = func(_ string, done, _ int) error {
		if done == 2 {
			return errors.New("simulated crash")
		}
		return nil
	}
	var code int
	// One key at a time, so the crash lands after exactly two.
	stderr := captureStderr(t, func() { code = run(ctx, append(slices.Clone(args), "--parallel", "1")) })
	rotateAfterEach = nil
	if code != 1 || !strings.Contains(stderr, "simulated crash") || !strings.Contains(stderr, "run the same command again") {
		t.Fatalf("interrupted rotation exited %d: %s", code, stderr)
	}
	oldKey, err := kms.LoadMasterKey(oldFile, false)
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := kms.LoadMasterKey(newFile, false)
	if err != nil {
		t.Fatal(err)
	}
	if under := rotWrappedCounts(t, store); under[oldKey.ID()] != nKeys-2 || under[newKey.ID()] != 2 {
		t.Fatalf("after the crash, keys by master key: %v; want 2 under the new, %d under the old", under, nKeys-2)
	}
	// Half-way, neither key alone opens a node: the procedure keeps nodes
	// stopped until the rotation completes.
	for _, f := range []string{oldFile, newFile} {
		if n, err := env.open(t, f); err == nil {
			n.Close()
			t.Fatalf("a node opened with %s on a half-rotated store", filepath.Base(f))
		}
	}

	// Run again with both keys: it completes.
	stderr = captureStderr(t, func() { code = run(ctx, args) })
	if code != 0 {
		t.Fatalf("resumed rotation exited %d: %s", code, stderr)
	}

	// The old key unwraps no stored version of any key.
	for obj, versions := range rotKeyVersions(t, store) {
		label, err := kms.LabelFor(obj)
		if err != nil {
			t.Fatal(err)
		}
		if len(versions) != 1 {
			t.Fatalf("%s has %d versions after rotation, want 1", obj, len(versions))
		}
		for _, blob := range versions {
			if _, err := oldKey.Unwrap(blob, label); !errors.Is(err, kms.ErrUnwrap) {
				t.Fatalf("the old master key still unwraps %s (err %v)", obj, err)
			}
			if _, err := newKey.Unwrap(blob, label); err != nil {
				t.Fatalf("the new master key does not unwrap %s: %v", obj, err)
			}
		}
	}
	if n, err := env.open(t, oldFile); err == nil {
		n.Close()
		t.Fatal("a node opened with the old master key after rotation")
	}

	// Nothing but keys/ (and the audit log, which gains the rotation's
	// entry) changed: no document or record was re-encrypted.
	after := rotNonKeyObjects(t, store)
	for k, etag := range before {
		if after[k] != etag && !strings.HasPrefix(k, "audit/") {
			t.Fatalf("%s changed in rotation", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok && !strings.HasPrefix(k, "audit/") {
			t.Fatalf("rotation created %s", k)
		}
	}

	// The audit log still verifies (its signing key is the same key,
	// rewrapped) and ends with the rotation.
	auditArgs := append([]string{"audit", "verify", "--master-key-file", newFile}, env.flags...)
	stderr = captureStderr(t, func() { code = run(ctx, auditArgs) })
	if code != 0 {
		t.Fatalf("audit verify after rotation exited %d: %s", code, stderr)
	}
	last := rotReadObjectBytes(t, store, fmt.Sprintf("audit/entries/%s", rotLastAuditEntry(t, store)))
	if !bytes.Contains(last, []byte(`"kms.master-key.rotated"`)) {
		t.Fatalf("last audit entry is not the rotation: %s", last)
	}

	// Every document still opens, whole and verified, under the new key,
	// and sign-in still works (records key).
	node, err = env.open(t, newFile)
	if err != nil {
		t.Fatalf("open with the new key: %v", err)
	}
	for _, d := range docs {
		dl, err := node.Vault.Open(ctx, med, d.caseID, d.docID, 0, nil)
		if err != nil {
			t.Fatalf("open %s after rotation: %v", d.docID, err)
		}
		got, err := io.ReadAll(dl.Body)
		dl.Body.Close()
		if err != nil || !bytes.Equal(got, d.content) {
			t.Fatalf("document %s after rotation: %d bytes, err %v", d.docID, len(got), err)
		}
	}
	if _, _, _, err := node.Accounts.Login(ctx, "mina@example.org", "correct horse battery staple", "127.0.0.1"); err != nil {
		t.Fatalf("sign-in after rotation: %v", err)
	}

	// A third run only checks (with the node stopped, as the procedure
	// says: in embedded mode it does not run beside one).
	node.Close()
	stderr = captureStderr(t, func() { code = run(ctx, args) })
	if code != 0 {
		t.Fatalf("rerun after completion exited %d: %s", code, stderr)
	}
}

func TestRotateMasterKeyCLIUsage(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	for _, args := range [][]string{
		{"admin", "rotate-master-key", "--data", data},                                              // no --new-key-file
		{"admin", "rotate-master-key", "--s3-endpoint", "127.0.0.1:1", "--new-key-file", "new.key"}, // no current key in scale mode
	} {
		var code int
		captureStderr(t, func() { code = run(ctx, args) })
		if code != 2 {
			t.Fatalf("%v exited %d, want 2", args, code)
		}
	}
	// An empty data directory is not a deployment: refused, nothing made.
	keyFile := filepath.Join(t.TempDir(), "new.key")
	if err := kms.GenerateMasterKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := kms.GenerateMasterKeyFile(filepath.Join(data, "master.key")); err != nil {
		t.Fatal(err)
	}
	var code int
	stderr := captureStderr(t, func() {
		code = run(ctx, []string{"admin", "rotate-master-key", "--data", data, "--new-key-file", keyFile})
	})
	if code != 1 || !strings.Contains(stderr, "no wrapped keys") {
		t.Fatalf("rotation of an empty store exited %d: %s", code, stderr)
	}
}

// rotNonKeyObjects maps every live object outside keys/ to its ETag.
func rotNonKeyObjects(t *testing.T, store objstore.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := store.List(t.Context(), "", func(i objstore.Info) error {
		if !strings.HasPrefix(i.Key, kms.KeysPrefix) {
			out[i.Key] = i.ETag
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// rotKeyVersions reads every stored version of every object under keys/.
func rotKeyVersions(t *testing.T, store objstore.Store) map[string][][]byte {
	t.Helper()
	ctx := t.Context()
	out := map[string][][]byte{}
	if err := store.List(ctx, kms.KeysPrefix, func(i objstore.Info) error {
		vs, err := store.Versions(ctx, i.Key)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.DeleteMarker {
				continue
			}
			rc, _, err := store.Get(ctx, i.Key, objstore.GetOptions{VersionID: v.VersionID})
			if err != nil {
				return err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			out[i.Key] = append(out[i.Key], b)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// rotWrappedCounts counts the latest versions under keys/ by wrapping key id.
func rotWrappedCounts(t *testing.T, store objstore.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	for obj := range rotKeyVersions(t, store) {
		by, _ := kms.WrappedBy(rotReadObjectBytes(t, store, obj))
		out[by]++
	}
	return out
}

func rotReadObjectBytes(t *testing.T, store objstore.Store, key string) []byte {
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

// rotLastAuditEntry returns the name of the last entry under audit/entries/.
func rotLastAuditEntry(t *testing.T, store objstore.Store) string {
	t.Helper()
	var last string
	if err := store.List(t.Context(), "audit/entries/", func(i objstore.Info) error {
		last = strings.TrimPrefix(i.Key, "audit/entries/")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return last
}
