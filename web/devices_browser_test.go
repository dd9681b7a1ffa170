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
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/web"
)

// TestBrowserDevices drives web/client/test/devices.mjs in Chromium.
// Unreadable history: the mediator (Go client) says three things in side
// A's caucus before A's lawyer joins in a browser; the lawyer's browser
// shows one line that counts and explains them, the room's unread badge
// counts only what the lawyer can read, and what the mediator says
// afterwards is readable. Adding a device: party A talks in the caucus in
// one browser, signs in on a second (a session made by the test, as a
// re-entry link would), which counts for nobody yet; the first browser
// shows a code, the second enters it, both show the same safety number,
// the party confirms, and the second browser reads the earlier caucus
// messages. axe-core runs on each screen.
func TestBrowserDevices(t *testing.T) {
	nodeBin, clientDir := needBrowser(t)
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medEmail := "mediator-" + ids.New("x")[2:10] + "@browser.test"
	med, err := n.Accounts.Create(ctx, account.NewAccount{Email: medEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	medC := client.New(n.URL, "")
	if _, err := medC.Login(ctx, medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	medDir := t.TempDir()
	if _, err := client.InitDevice(medDir, med.ID, e2ee.KEMXWing); err != nil {
		t.Fatal(err)
	}
	mx, err := medC.E2EE(medDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := mx.Register(ctx); err != nil {
		t.Fatal(err)
	}
	k, err := medC.CreateCase(ctx, "Rivera v. Chen — lease dispute", "tenancy", "court", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	chat := func() *client.SecureChat {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := mx.OpenSecureChat(cctx, k.ID, client.SecureOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	say := func(s *client.SecureChat, text string) error {
		sctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		_, err := s.Send(sctx, "caucus:A", text)
		return err
	}
	s := chat()
	for i := 1; i <= 3; i++ {
		if err := say(s, fmt.Sprintf("Note %d for the tenant's side, before their lawyer joined", i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	inv, err := medC.Invite(ctx, k.ID, "counsel", "A", "Jordan Blake", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	invA, err := medC.Invite(ctx, k.ID, "party", "A", "Alex Rivera", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/devices.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_INVITE_COUNSEL="+inv.Link, "PARLEY_INVITE_A="+invA.Link, "PARLEY_SESSION_COOKIE="+web.SessionCookie,
		"PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+shots)
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
		case "ask welcome ":
			// A fresh chat sees the lawyer's browser device and signs the
			// membership that admits the lawyer.
			s := chat()
			err := say(s, "Welcome, Jordan: this is the tenant's caucus")
			s.Close()
			if err != nil {
				t.Error(err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			fmt.Fprintln(stdin, "ok")
		case "ask reply ":
			s := chat()
			err := say(s, "Mediator to Alex: noted, we keep that in the caucus")
			s.Close()
			if err != nil {
				t.Error(err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			fmt.Fprintln(stdin, "ok")
		case "ask session ":
			// Alex signs in on a second browser (the test makes the
			// session, as a re-entry link would).
			kc, err := medC.Case(ctx, k.ID)
			var alex string
			for _, p := range kc.Participants {
				if p.Name == "Alex Rivera" {
					alex = p.AccountID
				}
			}
			if err != nil || alex == "" {
				t.Errorf("Alex's account: %v", err)
				fmt.Fprintln(stdin, "error no account")
				continue
			}
			acct, err := n.Accounts.Get(ctx, alex)
			if err != nil {
				t.Error(err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			token, _, err := n.Accounts.NewSession(ctx, acct)
			if err != nil {
				t.Error(err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			fmt.Fprintln(stdin, "ok "+token)
		case "PASS":
			passed = true
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script: %v (passed=%v)", err, passed)
	}
	for _, name := range []string{"devices-unreadable.png", "devices-unreadable-phone.png", "devices-new-browser-phone.png",
		"devices-add-code.png", "devices-compare.png", "devices-compare-phone.png", "devices-linked-phone.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
