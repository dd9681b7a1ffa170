package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestRevokeSessionsOfAParticipant: `admin user revoke-sessions --account
// ID` ends a participant's session on the store (a participant's account
// has no email index, so --email cannot find it: it refuses in one line
// saying to give --account). Exactly one of --email and --account is
// taken, and --account takes the data directory's lock like --email.
func TestRevokeSessionsOfAParticipant(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	n, url, stop := startServe(t, dir)
	_, medC := (&nodetest.Node{Node: n, URL: url}).Staff(t, policy.RoleMediator, "revoke-med@example.org")
	k, err := medC.CreateCase(ctx, "Revoke a participant", "workplace", "", []string{"Employee", "Employer"})
	if err != nil {
		t.Fatal(err)
	}
	const partyEmail = "pat.party@example.org"
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Pat Party", partyEmail, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pc := client.New(url, "")
	s, err := pc.Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	party := s.Account.ID

	cli := func(args ...string) (int, string) {
		var code int
		stderr := captureStderr(t, func() {
			code = run(ctx, append([]string{"admin", "user", "revoke-sessions", "--data", dir}, args...))
		})
		return code, strings.TrimSpace(stderr)
	}
	// Beside serve, --account is refused like --email: the lock.
	if code, line := cli("--account", party); code != 1 || strings.Contains(line, "\n") || !strings.Contains(line, "stop it first") {
		t.Fatalf("--account beside serve: exit %d, %q", code, line)
	}
	stop()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "exactly one of --email"},
		{[]string{"--email", partyEmail, "--account", party}, 2, "exactly one of --email"},
		{[]string{"--account", "not-an-id"}, 2, "is not an account id"},
		{[]string{"--account", ids.New("u")}, 1, "no account u"},
		{[]string{"--email", partyEmail}, 1, "a participant's account is not found by email: give --account ID"},
	} {
		code, out := cli(c.args...)
		first, _, _ := strings.Cut(out, "\n")
		if code != c.code || !strings.Contains(first, c.want) {
			t.Fatalf("revoke-sessions %v: exit %d, %q; want %d and a line saying %q", c.args, code, out, c.code, c.want)
		}
	}
	_, url, stop = startServe(t, dir)
	if _, err := client.New(url, s.Token).Me(ctx); err != nil {
		t.Fatalf("a refused command ended the participant's session: %v", err)
	}
	stop()
	if code, out := cli("--account", party); code != 0 {
		t.Fatalf("revoke-sessions --account %s: exit %d, %q", party, code, out)
	}
	_, url, _ = startServe(t, dir)
	if _, err := client.New(url, s.Token).Me(ctx); err == nil {
		t.Fatal("the participant's session still works after revoke-sessions --account")
	}
}
