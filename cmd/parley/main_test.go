package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// captureStderr runs f and returns what it wrote to standard error.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	f()
	os.Stderr = old
	w.Close()
	var b bytes.Buffer
	b.ReadFrom(r)
	return b.String()
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	data := t.TempDir()
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte(nodetest.Password+"\n"), 0o600)
	ctx := context.Background()
	for _, email := range []string{"admin@example.org", "second@example.org", "third@example.org"} {
		if code := run(ctx, []string{"admin", "user", "create", "--data", data, "--email", email, "--name", "Ada Admin", "--password-file", pw}); code != 0 {
			t.Fatalf("admin user create exited %d", code)
		}
	}
	if code := run(ctx, []string{"audit", "verify", "--data", data}); code != 0 {
		t.Fatalf("verify of an untouched log exited %d", code)
	}
	// Verification with only the public key, as a third party would.
	keyFile := filepath.Join(t.TempDir(), "vkey")
	fs := newFlags("t")
	cfg := nodeFlags(fs)
	cfg.DataDir = data
	vkey, err := verifierKey(ctx, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(keyFile, []byte(vkey+"\n"), 0o644)
	if code := run(ctx, []string{"audit", "verify", "--data", data, "--key", keyFile}); code != 0 {
		t.Fatalf("verify with --key exited %d", code)
	}

	entries, _ := filepath.Glob(filepath.Join(data, "objects", "objects", "audit", "entries", "*", "@*.data"))
	if len(entries) != 3 {
		t.Fatalf("found %d entry files, want 3 (layout changed?)", len(entries))
	}
	target := entries[1]
	b, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("account.created"))
	if i < 0 {
		t.Fatalf("entry does not hold the event: %q", b)
	}
	b[i] ^= 0x01 // flip one byte
	if err := os.WriteFile(target, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var code int
	stderr := captureStderr(t, func() { code = run(ctx, []string{"audit", "verify", "--data", data, "--key", keyFile}) })
	if code == 0 {
		t.Fatal("verify passed on a tampered log")
	}
	if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "does NOT verify") {
		t.Fatalf("want one clear line, got %q", stderr)
	}
}

func TestUsageErrorsExitTwoWithOneLine(t *testing.T) {
	var code int
	stderr := captureStderr(t, func() { code = run(context.Background(), []string{"case", "stage", "only-one-arg"}) })
	if code != 2 || !strings.HasPrefix(stderr, "parley case stage: expected a case id and a stage\nusage: parley case stage") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if code := run(context.Background(), []string{"no-such-verb"}); code != 2 {
		t.Fatalf("unknown verb exited %d", code)
	}
}

func TestEnvironmentFillsFlags(t *testing.T) {
	fs := newFlags("t")
	cfg := nodeFlags(fs)
	t.Setenv("PARLEY_S3_BUCKET", "from-env")
	t.Setenv("PARLEY_DATA", "/should/not/win")
	if err := parseFlags(fs, []string{"--data", "/from/flag", "positional", "--redis-url", "redis://x"}); err != nil {
		t.Fatal(err)
	}
	if cfg.S3.Bucket != "from-env" || cfg.DataDir != "/from/flag" || cfg.RedisURL != "redis://x" || fs.Arg(0) != "positional" {
		t.Fatalf("got bucket %q data %q redis %q args %v", cfg.S3.Bucket, cfg.DataDir, cfg.RedisURL, fs.Args())
	}
}

// TestDemoLinksWork: the links `parley serve --demo` prints sign people in.
func TestDemoLinksWork(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	var out bytes.Buffer
	if err := seedDemo(ctx, n.Node, &out); err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`http://\S+/join#\S+`).FindAllString(out.String(), -1)
	if len(links) != 4 {
		t.Fatalf("want 4 invite links, got %d in:\n%s", len(links), out.String())
	}
	for _, l := range links {
		c := client.New(n.URL, "")
		s, err := c.Join(ctx, l)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if _, err := c.Case(ctx, s.CaseID); err != nil {
			t.Fatalf("joined participant cannot read the case: %v", err)
		}
	}
	pw := regexp.MustCompile(`password (\S+)`).FindStringSubmatch(out.String())
	if pw == nil {
		t.Fatal("no mediator password printed")
	}
	if _, err := client.New(n.URL, "").Login(ctx, demoMediatorEmail, pw[1]); err != nil {
		t.Fatalf("demo mediator cannot sign in: %v", err)
	}
	// A second run reuses the case and prints fresh links.
	out.Reset()
	if err := seedDemo(ctx, n.Node, &out); err != nil {
		t.Fatal(err)
	}
	list, _ := client.New(n.URL, "").Login(ctx, demoMediatorEmail, regexp.MustCompile(`password (\S+)`).FindStringSubmatch(out.String())[1])
	mc := client.New(n.URL, list.Token)
	cs, err := mc.Cases(ctx)
	if err != nil || len(cs) != 1 || len(cs[0].Title) == 0 {
		t.Fatalf("after a second --demo run: %v cases, err %v", len(cs), err)
	}
}
