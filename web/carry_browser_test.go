package web_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/web"
)

// TestBrowserCarry drives web/client/test/carry.mjs in Chromium: a party
// is welcomed once (keyboard-dismissable, shown again on request); a
// party's caucus message is proposed for the joint room, the party edits
// and approves it, and the mediator's view follows without a reload and
// says it was edited, while the other side reads only the edited text;
// another carry is declined, and the mediator sees that live; the server
// then holds one consented and one declined carry record ("ask carries");
// at phone width the audience select fits and the composer is reachable.
func TestBrowserCarry(t *testing.T) {
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
	invB, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/carry.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_MEDIATOR_EMAIL="+medEmail, "PARLEY_PASSWORD="+nodetest.Password,
		"PARLEY_INVITE_A="+invA.Link, "PARLEY_INVITE_B="+invB.Link, "PARLEY_CASE="+k.ID, "PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+shots)
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
	// carries reads the case's carry records as the server stores them:
	// each one's state, sorted ("consented", "declined", "proposed").
	carries := func() (string, error) {
		var states []string
		err := n.Meta.List(ctx, "keydir/carries/"+k.ID+"/", func(key string) error {
			var cr keydir.Carry
			if _, err := n.Meta.Get(ctx, key, &cr); err != nil {
				return err
			}
			switch {
			case cr.Consented != nil && cr.Declined != nil:
				states = append(states, "both")
			case cr.Consented != nil:
				states = append(states, "consented")
			case cr.Declined != nil:
				states = append(states, "declined")
			default:
				states = append(states, "proposed")
			}
			return nil
		})
		sort.Strings(states)
		return strings.Join(states, " "), err
	}
	sc := bufio.NewScanner(stdout)
	passed := false
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		switch {
		case line == "ask carries ":
			s, err := carries()
			if err != nil {
				fmt.Fprintln(stdin, "error", err)
				continue
			}
			fmt.Fprintln(stdin, "ok", s)
		case line == "PASS":
			passed = true
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script: %v (passed=%v)", err, passed)
	}
	for _, name := range []string{"welcome-party.png", "welcome-party-phone.png", "carry-party.png", "carry-party-phone.png",
		"carry-mediator.png", "carry-mediator-phone.png", "carry-mediator-first-screen-phone.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
