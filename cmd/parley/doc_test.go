package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// captureStdout runs f and returns what it wrote to standard output.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		var b bytes.Buffer
		b.ReadFrom(r)
		done <- b.Bytes()
	}()
	f()
	os.Stdout = old
	w.Close()
	return string(<-done)
}

// withStdin runs f with standard input reading text.
func withStdin(t *testing.T, text string, f func()) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(text)
	w.Close()
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old; r.Close() }()
	f()
}

func actAs(t *testing.T, server string, c *client.Client) {
	t.Helper()
	if err := saveSession(cliSession{Server: server, Token: c.Token}); err != nil {
		t.Fatal(err)
	}
}

// docCase starts an embedded node with a mediator (med) and a case of
// sides A and B in which Pat Party of side A has joined (party); the CLI's
// configuration goes to a directory of the test's own.
func docCase(t *testing.T, medEmail, title string) (n *nodetest.Node, med *client.Client, c api.Case, party *client.Client) {
	t.Helper()
	n = nodetest.Embedded(t)
	ctx := context.Background()
	t.Setenv("PARLEY_CONFIG_DIR", t.TempDir())
	_, med = n.Staff(t, policy.RoleMediator, medEmail)
	c, err := med.CreateCase(ctx, title, "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	party = client.New(n.URL, "")
	inv, _ := med.Invite(ctx, c.ID, "party", "A", "Pat Party", "", time.Hour)
	if _, err := party.Join(ctx, inv.Link); err != nil {
		t.Fatal(err)
	}
	return n, med, c, party
}

func TestDocVerbs(t *testing.T) {
	n, med, c, party := docCase(t, "med@example.org", "CLI v. Vault")
	ctx := context.Background()
	partyB := client.New(n.URL, "")
	inv, _ := med.Invite(ctx, c.ID, "party", "B", "Bea Party", "", time.Hour)
	if _, err := partyB.Join(ctx, inv.Link); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	v1, v2 := make([]byte, 300_000), make([]byte, 200_000)
	rand.Read(v1)
	rand.Read(v2)
	f1, f2 := filepath.Join(dir, "statement.pdf"), filepath.Join(dir, "statement-v2.pdf")
	os.WriteFile(f1, v1, 0o600)
	os.WriteFile(f2, v2, 0o600)

	actAs(t, n.URL, med)
	var code int
	out := captureStdout(t, func() {
		code = run(ctx, []string{"doc", "put", f1, "--case", c.ID, "--audience", "caucus:A", "--class", "evidence", "--json"})
	})
	var d vault.Document
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Name != "statement.pdf" || d.MediaType != "application/pdf" {
		t.Fatalf("doc put: exit %d, %q", code, out)
	}
	if code := run(ctx, []string{"doc", "put", f2, "--case", c.ID, "--doc", d.ID}); code != 0 {
		t.Fatalf("doc put --doc exited %d", code)
	}
	out = captureStdout(t, func() { code = run(ctx, []string{"doc", "versions", d.ID, "--case", c.ID}) })
	if code != 0 || !strings.Contains(out, "statement-v2.pdf") || !strings.Contains(out, "\n1 ") {
		t.Fatalf("doc versions: exit %d\n%s", code, out)
	}
	out = captureStdout(t, func() { code = run(ctx, []string{"doc", "ls", "--case", c.ID}) })
	if code != 0 || !strings.Contains(out, d.ID) || !strings.Contains(out, "caucus:A") {
		t.Fatalf("doc ls: exit %d\n%s", code, out)
	}

	// The party downloads both versions; each is checked and in place.
	actAs(t, n.URL, party)
	got := filepath.Join(dir, "got.pdf")
	if code := run(ctx, []string{"doc", "get", d.ID, "--case", c.ID, "-o", got}); code != 0 {
		t.Fatalf("doc get exited %d", code)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, v2) {
		t.Fatal("doc get wrote other bytes than the latest version")
	}
	if code := run(ctx, []string{"doc", "get", d.ID, "--case", c.ID, "-o", got, "--version", "1"}); code != 1 {
		t.Fatalf("doc get over an existing file exited %d, want 1", code)
	}
	if code := run(ctx, []string{"doc", "get", d.ID, "--case", c.ID, "-o", got, "--version", "1", "--force"}); code != 0 {
		t.Fatalf("doc get --force exited %d", code)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, v1) {
		t.Fatal("doc get --version 1 wrote other bytes")
	}
	// Party B does not see it until the mediator shares it.
	actAs(t, n.URL, partyB)
	if code := run(ctx, []string{"doc", "get", d.ID, "--case", c.ID, "-o", filepath.Join(dir, "b.pdf")}); code != 1 {
		t.Fatalf("party B's doc get exited %d", code)
	}

	// Sharing asks first, naming who gains access; "n" shares nothing.
	actAs(t, n.URL, med)
	var stderr string
	withStdin(t, "n\n", func() {
		stderr = captureStderr(t, func() { code = run(ctx, []string{"doc", "share", d.ID, "--case", c.ID, "--audience", "joint"}) })
	})
	if code != 1 || !strings.Contains(stderr, "Bea Party (B)") || strings.Contains(stderr, "party B") || !strings.Contains(stderr, "1 will newly gain access") || !strings.Contains(stderr, "not shared") {
		t.Fatalf("declined share: exit %d\n%s", code, stderr)
	}
	if _, err := partyB.Document(ctx, c.ID, d.ID); err == nil {
		t.Fatal("a declined share shared the document")
	}
	withStdin(t, "y\n", func() { code = run(ctx, []string{"doc", "share", d.ID, "--case", c.ID, "--audience", "joint"}) })
	if _, err := partyB.Document(ctx, c.ID, d.ID); code != 0 || err != nil {
		t.Fatalf("confirmed share: exit %d, party B: %v", code, err)
	}

	// A damaged stored document: doc get fails and leaves no file behind.
	key := "docs/" + c.ID + "/" + d.ID + "/2"
	rc, _, err := n.Store.Get(ctx, key, objstore.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(rc)
	rc.Close()
	b := buf.Bytes()
	b[len(b)-3] ^= 1
	if _, err := n.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	actAs(t, n.URL, party)
	bad := filepath.Join(dir, "damaged.pdf")
	stderr = captureStderr(t, func() { code = run(ctx, []string{"doc", "get", d.ID, "--case", c.ID, "-o", bad}) })
	if code != 1 || !strings.Contains(stderr, "integrity") || !strings.Contains(stderr, "partial file was removed") {
		t.Fatalf("damaged download: exit %d, %q", code, stderr)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "damaged") {
			t.Fatalf("a damaged download left %s", e.Name())
		}
	}
}

// TestDocAnswerNamesEveryVersion: a share moves the whole document, so the
// mediator's `doc ask` and the side's `doc answer --allow` confirmation
// list every version the share would show, by name, not only the latest.
func TestDocAnswerNamesEveryVersion(t *testing.T) {
	n, med, c, party := docCase(t, "med-versions@example.org", "CLI v. Versions")
	ctx := context.Background()
	dir := t.TempDir()
	f1, f2 := filepath.Join(dir, "bottom-line.pdf"), filepath.Join(dir, "offer.pdf")
	os.WriteFile(f1, []byte("we accept 50k"), 0o600)
	os.WriteFile(f2, []byte("we offer 80k"), 0o600)
	actAs(t, n.URL, party)
	var code int
	out := captureStdout(t, func() {
		code = run(ctx, []string{"doc", "put", f1, "--case", c.ID, "--audience", "caucus:A", "--class", "evidence", "--json"})
	})
	var d vault.Document
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil {
		t.Fatalf("doc put: exit %d, %q", code, out)
	}
	if code := run(ctx, []string{"doc", "put", f2, "--case", c.ID, "--doc", d.ID}); code != 0 {
		t.Fatalf("doc put --doc exited %d", code)
	}
	both := func(what, out string) {
		t.Helper()
		if !strings.Contains(out, "all 2 versions would be shown") || !strings.Contains(out, "version 2: offer.pdf") || !strings.Contains(out, "version 1: bottom-line.pdf") {
			t.Errorf("%s does not name both versions:\n%s", what, out)
		}
	}
	actAs(t, n.URL, med)
	out = captureStdout(t, func() { code = run(ctx, []string{"doc", "ask", d.ID, "--case", c.ID, "--audience", "joint"}) })
	if code != 0 {
		t.Fatalf("doc ask: exit %d\n%s", code, out)
	}
	both("doc ask", out)
	reqs, err := med.ShareRequests(ctx, c.ID)
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests: %+v %v", reqs, err)
	}
	out = captureStdout(t, func() { code = run(ctx, []string{"doc", "requests", "--case", c.ID}) })
	if code != 0 || !strings.Contains(out, "caucus to the joint room") || strings.Contains(out, "caucus:") || strings.Contains(out, "→") {
		t.Errorf("doc requests names the audiences in words: exit %d\n%s", code, out)
	}
	actAs(t, n.URL, party)
	// The answer is signed by the party's device.
	if code := run(ctx, []string{"keys", "init"}); code != 0 {
		t.Fatalf("keys init: exit %d", code)
	}
	var stderr string
	withStdin(t, "n\n", func() {
		stderr = captureStderr(t, func() { code = run(ctx, []string{"doc", "answer", d.ID, reqs[0].ID, "--case", c.ID, "--allow"}) })
	})
	if code != 1 {
		t.Fatalf("doc answer, not confirmed: exit %d\n%s", code, stderr)
	}
	both("doc answer's confirmation", stderr)
}
