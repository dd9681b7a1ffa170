package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wantOutput checks a file a verb wrote: it starts with prefix, only its
// owner may read it, and no partial file is left beside it.
func wantOutput(t *testing.T, path, prefix string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), prefix) {
		t.Errorf("%s starts %q, want %q", path, b[:min(len(b), 40)], prefix)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	noPartials(t, filepath.Dir(path))
}

func noPartials(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".partial") {
			t.Errorf("a partial file was left: %s", filepath.Join(dir, e.Name()))
		}
	}
}

// TestWriteOutputFailureLeavesNothing: a write that cannot complete (here
// the rename onto path fails: path is a directory) returns the error and
// leaves no partial file; a file already at a path is replaced 0600.
func TestWriteOutputFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	blocked := filepath.Join(dir, "blocked")
	if err := os.Mkdir(blocked, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(blocked, "inside"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeOutput(blocked, []byte("%PDF-1.7 ...")); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
	noPartials(t, dir)
	// Aborted midway: nothing at the path, nothing beside it.
	o, err := createOutput(filepath.Join(dir, "half.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	o.Write([]byte("%PDF-1.7 half"))
	o.Abort()
	if _, err := os.Stat(filepath.Join(dir, "half.pdf")); !os.IsNotExist(err) {
		t.Fatalf("an aborted output exists: %v", err)
	}
	noPartials(t, dir)
	existing := filepath.Join(dir, "existing.txt")
	if err := os.WriteFile(existing, []byte("older and longer contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeOutput(existing, []byte("new")); err != nil {
		t.Fatal(err)
	}
	wantOutput(t, existing, "new")
	if b, _ := os.ReadFile(existing); string(b) != "new" {
		t.Fatalf("replaced file holds %q", b)
	}
}
