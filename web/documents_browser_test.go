package web_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/web"
)

// TestBrowserDocuments drives web/client/test/documents.mjs in Chromium: a
// party is offered only their own side's caucus to upload to (and told why
// the rest is missing), uploads with visible progress; the mediator's list
// shows it without a reload, naming who added it; each room lists its own
// documents, with all of them one choice away; a share's confirmation names
// a party invited and not joined yet; when that party joins (here, through
// the Go client on "ask join"), the "Visible to" lines name them without a
// reload. axe runs on each screen.
func TestBrowserDocuments(t *testing.T) {
	if !web.HasBrowserClient() {
		t.Fatal("this test binary has no browser client bundle: run `make web` before go test")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		requireServices(t, "node")
	}
	if _, err := os.Stat(chromiumPath()); err != nil {
		requireServices(t, "chromium ("+chromiumPath()+")")
	}
	clientDir, _ := filepath.Abs("client")
	if _, err := os.Stat(filepath.Join(clientDir, "node_modules", "playwright-core")); err != nil {
		t.Fatal("web/client/node_modules is missing: run `make web` (npm ci)")
	}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail := "mediator-" + ids.New("x")[2:10] + "@browser.test"
	if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: medEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	medC := client.New(n.URL, "")
	if _, err := medC.Login(ctx, medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	k, err := medC.CreateCase(ctx, "Okafor v. Lindqvist — deposit", "tenancy", "court", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	invA, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Invited, and joins only when the script asks.
	invB, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/documents.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_MEDIATOR_EMAIL="+medEmail, "PARLEY_PASSWORD="+nodetest.Password,
		"PARLEY_INVITE="+invA.Link, "PARLEY_CASE="+k.ID, "PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+shots)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &testWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	passed := false
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		switch line {
		case "ask join ":
			if _, err := client.New(n.URL, "").Join(ctx, invB.Link); err != nil {
				t.Errorf("party B joins: %v", err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			fmt.Fprintln(stdin, "ok")
		case "PASS":
			passed = true
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script: %v (passed=%v)", err, passed)
	}
	for _, name := range []string{"documents-party.png", "documents-party-phone.png", "documents-share.png", "documents-share-phone.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
