package web_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
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

// TestBrowserReentry drives web/client/test/reentry.mjs in Chromium: a
// party joins and reads the mediator's welcome; the test clock moves eight
// days on, so the party's session has ended and the party is told in plain
// words how to come back; the mediator issues a link back in from the
// people list; the party opens it in the same browser and is back in the
// same account, with the welcome still readable; opening the used link
// again while signed in goes to the case; signing out shows how to come
// back, never an email and password form.
func TestBrowserReentry(t *testing.T) {
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
	// The clock of sessions and links: real time until the test moves it.
	var ahead atomic.Int64
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(),
		Clock: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
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
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/reentry.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_MEDIATOR_EMAIL="+medEmail, "PARLEY_PASSWORD="+nodetest.Password,
		"PARLEY_INVITE="+inv.Link, "PARLEY_CASE="+k.ID, "PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+shots)
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
	var joinedAs string
	participants := func() ([]string, error) {
		c, err := n.Cases.Load(ctx, k.ID)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, p := range c.Participants {
			out = append(out, p.AccountID)
		}
		return out, nil
	}
	sc := bufio.NewScanner(stdout)
	passed := false
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		switch {
		case line == "ask joined ":
			ps, err := participants()
			if err != nil || len(ps) != 1 {
				t.Errorf("after joining: participants %v, %v", ps, err)
				fmt.Fprintln(stdin, "error participants")
				continue
			}
			joinedAs = ps[0]
			fmt.Fprintln(stdin, "ok")
		case line == "ask expire ":
			// Eight days on: past the seven-day idle window.
			ahead.Store(int64(8 * 24 * time.Hour))
			fmt.Fprintln(stdin, "ok")
		case len(line) > len("ask same ") && line[:len("ask same ")] == "ask same ":
			me := line[len("ask same "):]
			ps, err := participants()
			if err != nil || len(ps) != 1 || ps[0] != joinedAs || me != joinedAs {
				t.Errorf("after re-entry the party is %s; participants %v (%v); the account that joined was %s", me, ps, err, joinedAs)
				fmt.Fprintln(stdin, "error not the same account")
				continue
			}
			fmt.Fprintln(stdin, "ok")
		case line == "PASS":
			passed = true
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script: %v (passed=%v)", err, passed)
	}
	for _, name := range []string{"reentry-ended.png", "reentry-ended-phone.png", "reentry-mediator.png", "reentry-mediator-phone.png", "reentry-back.png", "reentry-signed-out-phone.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
