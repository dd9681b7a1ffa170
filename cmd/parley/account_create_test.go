package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestAccountCreateMediatorTakesNoPassword: `parley account create` for a
// mediator reads no password and refuses --password-file in one line; it
// says in one plain line that a second administrator approves the first
// password, and the account has none until then. An administrator's
// account still takes the password from --password-file.
func TestAccountCreateMediatorTakesNoPassword(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	t.Setenv("PARLEY_CONFIG_DIR", t.TempDir())
	_, admin := n.Staff(t, policy.RoleAdmin, "creator@example.org")
	if err := saveSession(cliSession{Server: n.URL, Token: admin.Token}); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(nodetest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var code int
	stderr := captureStderr(t, func() {
		captureStdout(t, func() {
			code = run(ctx, []string{"account", "create", "--email", "med@example.org", "--name", "Nia Mediator", "--role", "mediator", "--password-file", pwFile})
		})
	})
	if code == 0 || !strings.Contains(stderr, "second administrator") {
		t.Fatalf("a mediator with --password-file: exit %d, stderr %q", code, stderr)
	}
	if _, err := n.Accounts.ByEmail(ctx, "med@example.org"); err == nil {
		t.Fatal("the refused create made the account")
	}
	out := captureStdout(t, func() {
		code = run(ctx, []string{"account", "create", "--email", "med@example.org", "--name", "Nia Mediator", "--role", "mediator"})
	})
	if code != 0 || !strings.Contains(out, "a second administrator approves its first one") {
		t.Fatalf("a mediator: exit %d, %q", code, out)
	}
	med, err := n.Accounts.ByEmail(ctx, "med@example.org")
	if err != nil || med.PasswordHash != "" || med.PendingReset == nil {
		t.Fatalf("the new mediator: %+v %v", med, err)
	}
	out = captureStdout(t, func() {
		code = run(ctx, []string{"account", "create", "--email", "admin2@example.org", "--name", "Bo Admin", "--role", "admin", "--password-file", pwFile})
	})
	if code != 0 || strings.Contains(out, "second administrator") {
		t.Fatalf("an administrator: exit %d, %q", code, out)
	}
	if _, _, _, err := n.Accounts.Login(ctx, "admin2@example.org", nodetest.Password, "127.0.0.1"); err != nil {
		t.Fatalf("the new administrator's password: %v", err)
	}
}
