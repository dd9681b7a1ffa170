package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
)

// runStdin runs the CLI with stdin and returns its exit code and stderr.
func runStdin(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		w.WriteString(stdin)
		w.Close()
	}()
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old; r.Close() }()
	var code int
	stderr := captureStderr(t, func() { code = run(context.Background(), args) })
	return code, stderr
}

// TestInputsOverTheirLimitAreRefused: text and files the CLI reads whole
// are read up to their limit and one byte more, and refused in one line
// when longer: never cut and sent, never read without end. Nothing here
// reaches a server (none runs): each refusal comes first.
func TestInputsOverTheirLimitAreRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PARLEY_CONFIG_DIR", filepath.Join(dir, "config"))
	t.Chdir(dir)
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", size)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := file("small", 10)
	long := strings.Repeat("é", 20<<10) + "x" // 40 KiB and one byte
	for _, tc := range []struct {
		name, stdin, want string
		args              []string
	}{
		{"chat send", long, "the message on standard input is over 40 KiB", []string{"chat", "send", "c_x", "--room", "joint", "-"}},
		{"broadcast", long + "\n", "the message on standard input is over 40 KiB", []string{"broadcast", "c_x", "-"}},
		{"agreement save", "", "is over 100,000 bytes", []string{"agreement", "save", "c_x", "--file", file("agreement", 100_001)}},
		{"case terms set", "", "is over 256 KiB", []string{"case", "terms", "set", "c_x", "--file", file("terms", 256<<10+1)}},
		{"audit verify --key", "", "the key in " + filepath.Join(dir, "key") + " is over 64 KiB", []string{"audit", "verify", "--data", filepath.Join(dir, "data"), "--key", file("key", 64<<10+1)}},
		{"audit verify --checkpoint", "", "is over 64 KiB", []string{"audit", "verify", "--data", filepath.Join(dir, "data"), "--key", small, "--checkpoint", file("checkpoint", 64<<10+1)}},
		{"login --password-file", "", "is over 4 KiB", []string{"login", "--server", "http://127.0.0.1:1", "--email", "a@example.org", "--password-file", file("password", 4<<10+1)}},
		{"login, password on stdin", strings.Repeat("x", 4<<10+1), "is over 4 KiB", []string{"login", "--server", "http://127.0.0.1:1", "--email", "a@example.org"}},
	} {
		code, stderr := runStdin(t, tc.stdin, tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("%s: exit %d, stderr %q", tc.name, code, stderr)
		}
	}
	// Exactly the limit, with a final line break, is taken (and then
	// fails for want of a session, not for its length).
	code, stderr := runStdin(t, strings.Repeat("é", 20<<10)+"\n", "chat", "send", "c_x", "--room", "joint", "-")
	if code != 1 || strings.Contains(stderr, "over") {
		t.Errorf("40 KiB exactly: exit %d, stderr %q", code, stderr)
	}
	code, stderr = runStdin(t, "cut in the middle of \xe2\x82", "chat", "send", "c_x", "--room", "joint", "-")
	if code != 1 || !strings.Contains(stderr, "not UTF-8") {
		t.Errorf("not UTF-8: exit %d, stderr %q", code, stderr)
	}
}

// TestInteractiveChatLongLineFails: a line over 64 KiB ends interactive
// chat with an error in one line and a non-zero exit, not as if the input
// had ended.
func TestInteractiveChatLongLineFails(t *testing.T) {
	n := nodetest.Embedded(t)
	k, med, join := cliCase(t, n, "cli-long@example.org", "CLI long line", "family", []string{"A", "B"})
	a := join("A", "Avery")
	for _, u := range []cliUser{med, a} {
		if code, out := u.run(t, "", "keys", "init"); code != 0 {
			t.Fatalf("keys init: %d %s", code, out)
		}
	}
	if code, out := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "welcome"); code != 0 {
		t.Fatalf("mediator's first message: %d %s", code, out)
	}
	t.Setenv("PARLEY_CONFIG_DIR", a.dir)
	if err := saveSession(cliSession{Server: a.c.BaseURL, Token: a.c.Token}); err != nil {
		t.Fatal(err)
	}
	var code int
	var stderr string
	chatStdout(t, func() { code, stderr = runStdin(t, "hello\n"+strings.Repeat("x", 70<<10)+"\n", "chat", k.ID) })
	if code != 1 || !strings.Contains(stderr, "a line of input is over 64 KiB") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
