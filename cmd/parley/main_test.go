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
	"github.com/parley-mediation/parley/server"
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

// TestDemoLinksWork: the links `parley serve --demo` prints sign people
// in; a second start on the same data directory keeps the case and the
// mediator's password, prints no invite for someone who joined (and how to
// bring them back instead), and a link from the first start cannot make a
// second person of someone who joined with a link from the second.
func TestDemoLinksWork(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	linkRE := regexp.MustCompile(`http://\S+/join#\S+`)
	pwRE := regexp.MustCompile(`password (\S+)`)
	var firstPassword string
	var firstLinks []string
	t.Run("first start", func(t *testing.T) {
		n := nodetest.Start(t, server.Config{DataDir: dir})
		var out bytes.Buffer
		if err := seedDemo(ctx, n.Node, &out); err != nil {
			t.Fatal(err)
		}
		firstLinks = linkRE.FindAllString(out.String(), -1)
		if len(firstLinks) != 4 {
			t.Fatalf("want 4 invite links, got %d in:\n%s", len(firstLinks), out.String())
		}
		// Alex (the first link) joins.
		c := client.New(n.URL, "")
		s, err := c.Join(ctx, firstLinks[0])
		if err != nil {
			t.Fatalf("%s: %v", firstLinks[0], err)
		}
		if _, err := c.Case(ctx, s.CaseID); err != nil {
			t.Fatalf("joined participant cannot read the case: %v", err)
		}
		pw := pwRE.FindStringSubmatch(out.String())
		if pw == nil {
			t.Fatal("no mediator password printed")
		}
		firstPassword = pw[1]
		if _, err := client.New(n.URL, "").Login(ctx, demoMediatorEmail, firstPassword); err != nil {
			t.Fatalf("demo mediator cannot sign in: %v", err)
		}
	})
	t.Run("second start", func(t *testing.T) {
		n := nodetest.Start(t, server.Config{DataDir: dir})
		var out bytes.Buffer
		if err := seedDemo(ctx, n.Node, &out); err != nil {
			t.Fatal(err)
		}
		text := out.String()
		if pw := pwRE.FindStringSubmatch(text); pw == nil || pw[1] != firstPassword {
			t.Fatalf("the second start changed the mediator's password:\n%s", text)
		}
		if !strings.Contains(text, "kept from an earlier start") || !regexp.MustCompile(`Alex Rivera \(Tenant\)\s+joined; to bring them back`).MatchString(text) ||
			!strings.Contains(text, "Jordan Blake (Tenant's lawyer)") || strings.Contains(text, "counsel") {
			t.Fatalf("the second start does not say the demo was kept and Alex joined:\n%s", text)
		}
		links := linkRE.FindAllString(text, -1)
		if len(links) != 3 {
			t.Fatalf("want 3 invite links (Alex joined), got %d in:\n%s", len(links), text)
		}
		login, err := client.New(n.URL, "").Login(ctx, demoMediatorEmail, firstPassword)
		if err != nil {
			t.Fatalf("demo mediator cannot sign in with the first start's password: %v", err)
		}
		mc := client.New(n.URL, login.Token)
		cs, err := mc.Cases(ctx)
		if err != nil || len(cs) != 1 {
			t.Fatalf("after a second --demo start: %v cases, err %v", len(cs), err)
		}
		// Jordan joins with the new link; the first start's link for
		// Jordan then makes no second Jordan.
		if _, err := client.New(n.URL, "").Join(ctx, links[0]); err != nil {
			t.Fatal(err)
		}
		old := strings.Replace(firstLinks[1], firstLinks[1][:strings.Index(firstLinks[1], "/join")], n.URL, 1)
		if _, err := client.New(n.URL, "").Join(ctx, old); err == nil {
			t.Fatal("an older link for someone who already joined made a second person")
		}
		k, err := mc.Case(ctx, cs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Participants) != 2 {
			t.Fatalf("participants %+v, want Alex and Jordan once each", k.Participants)
		}
	})
}
