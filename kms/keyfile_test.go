package kms

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInstallMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.key")
	if err := GenerateMasterKeyFile(orig); err != nil {
		t.Fatal(err)
	}
	want, err := LoadMasterKey(orig, false)
	if err != nil {
		t.Fatal(err)
	}
	// As Kubernetes mounts a Secret with fsGroup: group-readable, which
	// LoadMasterKey refuses.
	mounted := filepath.Join(dir, "mounted.key")
	b, _ := os.ReadFile(orig)
	if err := os.WriteFile(mounted, b, 0o440); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey(mounted, false); err == nil {
		t.Fatal("setup: a group-readable key file was accepted")
	}
	dst := filepath.Join(t.TempDir(), "master.key")
	for range 2 { // installing again (a restarted pod) works
		id, err := InstallMasterKeyFile(mounted, dst)
		if err != nil {
			t.Fatal(err)
		}
		if id != want.ID() {
			t.Fatalf("installed key %s, want %s", id, want.ID())
		}
		st, err := os.Stat(dst)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o400 {
			t.Fatalf("installed with mode %v, want 0400", st.Mode().Perm())
		}
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), ".*")); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}

	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("not a key\n"), 0o440)
	other := filepath.Join(t.TempDir(), "master.key")
	if _, err := InstallMasterKeyFile(bad, other); err == nil {
		t.Fatal("a malformed key file was installed")
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Fatal("a malformed key file left a destination file")
	}
	if _, err := InstallMasterKeyFile(filepath.Join(dir, "missing.key"), other); err == nil {
		t.Fatal("a missing source was accepted")
	}
}
