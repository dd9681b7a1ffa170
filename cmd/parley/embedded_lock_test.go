package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// startServe runs an embedded node on dir as `parley serve` does (on
// 127.0.0.1) and returns its URL and a function that stops it.
func startServe(t *testing.T, dir string) (*server.Node, string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{DataDir: dir, Addr: ln.Addr().String(), Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	cfg.PublicURL = "http://" + cfg.Addr
	ctx, cancel := context.WithCancel(context.Background())
	n, err := server.Open(ctx, cfg)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ln) }()
	var once bool
	stop := func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		n.Close()
	}
	t.Cleanup(stop)
	return n, cfg.PublicURL, stop
}

// versionsUnder lists every stored version (and delete marker) under the
// prefixes, as key@version.
func versionsUnder(t *testing.T, store objstore.Store, prefixes ...string) []string {
	t.Helper()
	var out []string
	for _, p := range prefixes {
		if err := store.VersionsUnder(context.Background(), p, func(v objstore.Version) error {
			out = append(out, v.Key+"@"+v.VersionID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

// TestRevokeSessionsRefusedBesideServe: in embedded mode the directory
// store is one process's (its locks and caches are in memory), so `parley
// admin user revoke-sessions` beside a running `parley serve` on the same
// directory would write a version the server never reads and the server's
// next write would bury: the revocation lost while the command said it was
// done. It refuses instead, on one line saying what to do, and writes
// nothing; once serve is stopped it works, and the next serve sees it.
func TestRevokeSessionsRefusedBesideServe(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	n, url, stop := startServe(t, dir)
	const email = "lost-laptop@example.org"
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(nodetest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stolen := (&nodetest.Node{Node: n, URL: url}).Staff(t, policy.RoleAdmin, email)
	before := versionsUnder(t, n.Store, "accounts/", "audit/", "keys/")

	newKey := filepath.Join(t.TempDir(), "new.key")
	if err := kms.GenerateMasterKeyFile(newKey); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		verb    string
		args    []string
		instead string // what the line says to do while serve runs
	}{
		{"admin user revoke-sessions", []string{"--email", email}, "POST /api/v1/accounts/{id}/revoke-sessions"},
		{"admin user create", []string{"--email", "second@example.org", "--name", "Sam Second", "--password-file", pw}, "parley account create"},
		{"admin seat-index", nil, "serve indexes the seats by itself"},
		{"admin rotate-master-key", []string{"--new-key-file", newKey}, "every node is stopped"},
	} {
		var code int
		args := append(append(strings.Fields(c.verb), "--data", dir), c.args...)
		stderr := captureStderr(t, func() { code = run(ctx, args) })
		if code != 1 {
			t.Fatalf("parley %s beside serve exited %d, want 1 (refused): %q", c.verb, code, stderr)
		}
		line := strings.TrimSpace(stderr)
		if strings.Contains(line, "\n") || !strings.Contains(line, "parley serve is running on "+dir) || !strings.Contains(line, "stop it first") || !strings.Contains(line, c.instead) {
			t.Fatalf("parley %s beside serve: want one line saying serve runs on %s, to stop it first and %q, got %q", c.verb, dir, c.instead, stderr)
		}
	}
	if after := versionsUnder(t, n.Store, "accounts/", "audit/", "keys/"); !slices.Equal(before, after) {
		t.Fatalf("refused commands wrote to the store:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := stolen.Me(ctx); err != nil {
		t.Fatalf("the session ended though the command was refused: %v", err)
	}

	// Serve stopped, the command runs, and the next serve honours it.
	stop()
	var code int
	stderr := captureStderr(t, func() {
		code = run(ctx, []string{"admin", "user", "revoke-sessions", "--data", dir, "--email", email})
	})
	if code != 0 {
		t.Fatalf("revoke-sessions with serve stopped exited %d: %s", code, stderr)
	}
	_, url, _ = startServe(t, dir)
	if _, err := client.New(url, stolen.Token).Me(ctx); err == nil {
		t.Fatal("the revoked session still works after serve restarted")
	}
}

// TestServeRefusesWhileACommandWrites: while a command that writes to the
// data directory runs (it holds the lock `parley serve` takes), serve does
// not start: it says so on one line and exits, instead of serving from
// caches the command is changing under it.
func TestServeRefusesWhileACommandWrites(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// What `parley admin user create` and the other writing commands open.
	cmd, err := server.Open(ctx, server.Config{DataDir: dir, Command: true, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var code int
	stderr := captureStderr(t, func() {
		code = run(ctx, []string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--metrics-addr", "off", "--log-level", "error"})
	})
	if ctx.Err() != nil {
		cmd.Close()
		t.Fatal("serve started (and served until the test's deadline) while a command held the data directory")
	}
	line := strings.TrimSpace(stderr)
	if code != 1 || strings.Contains(line, "\n") || !strings.Contains(line, "in use by another process") || !strings.Contains(line, dir) {
		t.Fatalf("serve beside a command: exit %d, want 1 and one line saying %s is in use; got %q", code, dir, stderr)
	}
	// Another writing command is refused too.
	if _, err := server.Open(ctx, server.Config{DataDir: dir, Command: true}); !errors.Is(err, server.ErrDataDirInUse) {
		t.Fatalf("a second command beside the first: %v, want ErrDataDirInUse", err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	// The command done, serve starts.
	startServe(t, dir)
}

// treeOf maps every file under dir to its size and modification time.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[path] = fi.ModTime().String() + " " + strconv.FormatInt(fi.Size(), 10)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAuditCommandsOnlyRead: `parley audit key` and `parley audit verify`
// only read the data directory, so they run beside `parley serve` in
// embedded mode too. They write nothing there (no key, no checkpoint, no
// entry, no temp sweep): on a directory that is not a deployment, `audit
// key` says so and makes nothing.
func TestAuditCommandsOnlyRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(nodetest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run(ctx, []string{"admin", "user", "create", "--data", dir, "--email", "ada@example.org", "--name", "Ada Admin", "--password-file", pw}); code != 0 {
		t.Fatalf("admin user create exited %d", code)
	}
	audit := func(when string) {
		t.Helper()
		for _, args := range [][]string{{"audit", "key", "--data", dir}, {"audit", "verify", "--data", dir}} {
			var code int
			var stderr string
			out := captureStdout(t, func() { stderr = captureStderr(t, func() { code = run(ctx, args) }) })
			if code != 0 || out == "" {
				t.Fatalf("%s: parley %s exited %d: %q %q", when, strings.Join(args[:2], " "), code, out, stderr)
			}
		}
	}
	before := treeOf(t, dir)
	audit("serve stopped")
	if after := treeOf(t, dir); !maps.Equal(before, after) {
		t.Fatalf("audit key and verify wrote to the data directory:\nbefore %v\nafter  %v", before, after)
	}
	startServe(t, dir)
	audit("beside serve")

	empty := t.TempDir()
	var code int
	captureStderr(t, func() { code = run(ctx, []string{"audit", "key", "--data", empty}) })
	if code != 1 {
		t.Fatalf("audit key on an empty directory exited %d, want 1", code)
	}
	if made := treeOf(t, empty); len(made) != 1 {
		t.Fatalf("audit key on an empty directory made %v", made)
	}
}
