package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/objstore/storetest"
)

func TestDirContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) objstore.Store { return openDir(t, t.TempDir()) })
}

func openDir(t *testing.T, root string) *objstore.Dir {
	t.Helper()
	d, err := objstore.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var versionFile = regexp.MustCompile(`^@[0-9]{20}-[0-9]{6}\.(data|json)$`)

// TestDirLeavesNoTempFiles: after successful, failed, cancelled and
// conflicting writes, tmp/ is empty, objects/ holds only version files
// (each .data with its .json), and permissions are private.
func TestDirLeavesNoTempFiles(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	d := openDir(t, root)
	mustPut := func(key, body string, opts objstore.PutOptions) objstore.Info {
		t.Helper()
		in, err := d.Put(ctx, key, strings.NewReader(body), int64(len(body)), opts)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	v1 := mustPut("k/a", "one", objstore.PutOptions{})
	mustPut("k/a", "two", objstore.PutOptions{IfMatch: v1.ETag})
	mustPut("k/b/c", "three", objstore.PutOptions{})
	if _, err := d.Put(ctx, "k/a", strings.NewReader("lost"), 4, objstore.PutOptions{IfNoneMatch: true}); !errors.Is(err, objstore.ErrPrecondition) {
		t.Fatalf("conflicting put: %v", err)
	}
	if _, err := d.Put(ctx, "k/x", io.MultiReader(strings.NewReader("part"), errBody{}), -1, objstore.PutOptions{}); err == nil {
		t.Fatal("failing body: no error")
	}
	if _, err := d.Put(ctx, "k/y", strings.NewReader("short"), 10, objstore.PutOptions{}); err == nil {
		t.Fatal("short body: no error")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Put(cancelled, "k/z", strings.NewReader("x"), 1, objstore.PutOptions{}); err == nil {
		t.Fatal("cancelled put: no error")
	}
	if err := d.Delete(ctx, "k/b/c", ""); err != nil {
		t.Fatal(err)
	}

	if entries, err := os.ReadDir(filepath.Join(root, "tmp")); err != nil || len(entries) != 0 {
		t.Errorf("tmp/ holds %v (%v), want nothing", entries, err)
	}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p == root {
				return nil // the caller's directory, not ours to chmod
			}
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v, want 0700", p, fi.Mode().Perm())
			}
			return nil
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
		if !versionFile.MatchString(e.Name()) {
			t.Errorf("unexpected file %s", p)
		}
		if meta, ok := strings.CutSuffix(p, ".data"); ok {
			if _, err := os.Stat(meta + ".json"); err != nil {
				t.Errorf("%s has no metadata: %v", p, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k/x", "k/y", "k/z"} {
		if _, err := os.Stat(filepath.Join(root, "objects", k)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("failed put left %s behind: %v", k, err)
		}
	}
}

// TestDirPutInvisibleUntilComplete: while a body is half-streamed, readers
// see the previous version, not a prefix of the new one.
func TestDirPutInvisibleUntilComplete(t *testing.T) {
	ctx := t.Context()
	d := openDir(t, t.TempDir())
	const key = "doc"
	old, err := d.Put(ctx, key, strings.NewReader("old"), 3, objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := d.Put(ctx, key, pr, -1, objstore.PutOptions{})
		done <- err
	}()
	// Write returns once Put has consumed the bytes.
	if _, err := pw.Write([]byte("new content, first half;")); err != nil {
		t.Fatal(err)
	}
	check := func(wantBody string) {
		t.Helper()
		rc, info, err := d.Get(ctx, key, objstore.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != wantBody {
			t.Errorf("Get = %q (version %s), want %q", b, info.VersionID, wantBody)
		}
		n := 0
		d.List(ctx, "", func(i objstore.Info) error { n++; return nil })
		if n != 1 {
			t.Errorf("List saw %d objects, want 1", n)
		}
	}
	check("old")
	if vs, err := d.Versions(ctx, key); err != nil || len(vs) != 1 || vs[0].VersionID != old.VersionID {
		t.Errorf("Versions mid-put = %+v, %v; want only the old one", vs, err)
	}
	pw.Write([]byte(" second half"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	check("new content, first half; second half")
}

// TestDirReadersNeverSeePartial races readers against a writer replacing a
// 512 KiB object whose every byte is the same: a torn or partial read shows
// up as mixed bytes, a short length, or content not matching the ETag
// (which for Dir is the hex SHA-256 of the content).
func TestDirReadersNeverSeePartial(t *testing.T) {
	ctx := t.Context()
	d := openDir(t, t.TempDir())
	const key, size, writes, readers, maxReads = "hot", 512 << 10, 40, 4, 2000
	fill := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, size) }
	if _, err := d.Put(ctx, key, bytes.NewReader(fill(0)), size, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range readers {
		wg.Go(func() {
			for i := 0; i < maxReads && !stop.Load(); i++ {
				rc, info, err := d.Get(ctx, key, objstore.GetOptions{})
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				sum := sha256.Sum256(b)
				if err != nil || len(b) != size || bytes.Count(b, b[:1]) != size || hex.EncodeToString(sum[:]) != info.ETag {
					t.Errorf("read %d bytes (err %v) not matching one whole version %s", len(b), err, info.VersionID)
					return
				}
				reads.Add(1)
			}
		})
	}
	for i := 1; i <= writes; i++ {
		// Dribble the body in so each write spans many reads.
		if _, err := d.Put(ctx, key, chunky{bytes.NewReader(fill(i))}, -1, objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 {
		t.Error("no read completed")
	}
}

// TestDirReopen: a store reopened on the same root sees everything, and new
// versions still sort after old ones.
func TestDirReopen(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	in, err := openDir(t, root).Put(ctx, "a/b", strings.NewReader("x"), 1, objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := openDir(t, root)
	if st, err := d.Stat(ctx, "a/b"); err != nil || st.VersionID != in.VersionID || st.ETag != in.ETag {
		t.Fatalf("after reopen: %+v, %v", st, err)
	}
	in2, err := d.Put(ctx, "a/b", strings.NewReader("y"), 1, objstore.PutOptions{})
	if err != nil || in2.VersionID <= in.VersionID {
		t.Fatalf("new version %q not after %q (%v)", in2.VersionID, in.VersionID, err)
	}
}

// TestDirSweepsStaleTemp: OpenDir removes temp files a crash left behind,
// but not ones recent enough to belong to a write in progress.
func TestDirSweepsStaleTemp(t *testing.T) {
	root := t.TempDir()
	openDir(t, root)
	stale, fresh := filepath.Join(root, "tmp", "put-stale"), filepath.Join(root, "tmp", "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	openDir(t, root)
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file survived: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
}

type errBody struct{}

func (errBody) Read([]byte) (int, error) { return 0, errors.New("body broke") }

// chunky returns at most 16 KiB per Read and hides any Len method.
type chunky struct{ r io.Reader }

func (c chunky) Read(p []byte) (int, error) {
	if len(p) > 16<<10 {
		p = p[:16<<10]
	}
	return c.r.Read(p)
}

// TestOpenDirToReadBesideTheWriter: a Dir opened to read, beside the
// process that writes the root, makes and sweeps nothing (a missing root
// is an error, left missing; a writer's stale temp file is left to it) and
// caches no version: after the writer puts a newer version of a key it
// has read, it reads the newer one.
func TestOpenDirToReadBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "none")
	if _, err := objstore.OpenDirToRead(missing); err == nil {
		t.Fatal("OpenDirToRead opened a root that does not exist")
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenDirToRead made the missing root: %v", err)
	}
	root := t.TempDir()
	w, err := objstore.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, "tmp", "left-by-a-crash")
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	put := func(body string) {
		t.Helper()
		if _, err := w.Put(ctx, "accounts/u1", strings.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("first")
	r, err := objstore.OpenDirToRead(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("OpenDirToRead swept the writer's temp files: %v", err)
	}
	read := func() string {
		t.Helper()
		rc, _, err := r.Get(ctx, "accounts/u1", objstore.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(); got != "first" {
		t.Fatalf("read %q, want first", got)
	}
	put("second")
	if got := read(); got != "second" {
		t.Fatalf("after the writer's newer version the reader read %q, want second", got)
	}
	// The reader holds no lock on the directory: it writes nothing.
	if _, err := r.Put(ctx, "accounts/u1", strings.NewReader("third"), 5, objstore.PutOptions{}); err == nil {
		t.Error("a directory opened to read took a Put")
	}
	if err := r.Delete(ctx, "accounts/u1", ""); err == nil {
		t.Error("a directory opened to read took a Delete")
	}
	if errs := r.DeleteVersions(ctx, []objstore.Info{{Key: "accounts/u1"}}); len(errs) != 1 || errs[0] == nil {
		t.Errorf("a directory opened to read took a DeleteVersions: %v", errs)
	}
	if err := r.SetLegalHold(ctx, "accounts/u1", "", true); err == nil {
		t.Error("a directory opened to read took a SetLegalHold")
	}
	if got := read(); got != "second" {
		t.Fatalf("after the reader's refused writes it read %q, want second", got)
	}
}
