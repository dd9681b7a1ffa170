package web_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserStaff drives web/client/test/staff.mjs in Chromium: an
// administrator disables a mediator whose open conversation (another
// browser context) closes with a plain message, enables them again,
// asks for a reset of their password, which a second administrator
// approves (the mediator must choose a new one at the next sign-in), and the mediator changes their own password. A mediator's
// account the first administrator created reads as waiting for a second
// administrator to approve its first password, which only the second
// may do. A mediator's account an administrator made before first
// passwords were approved (its password still its creator's) is refused
// at sign-in in plain words, asking for a reset. axe-core runs on
// every screen. Between the steps the Go side checks the server agrees.
func TestBrowserStaff(t *testing.T) {
	nodeBin, clientDir := needBrowser(t)
	if _, err := os.Stat(filepath.Join(clientDir, "node_modules", "axe-core")); err != nil {
		t.Fatal("web/client/node_modules is missing axe-core: run `make web` (npm ci)")
	}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	adminEmail, medEmail := "ines.admin@browser.test", "morgan.reyes@browser.test"
	admin, err := n.Accounts.Create(ctx, account.NewAccount{Email: adminEmail, Name: "Ines Admin", Role: policy.RoleAdmin, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	// The second administrator is made when the script asks (after it
	// has checked that the last admin cannot be disabled).
	admin2Email := "omar.second@browser.test"
	var admin2 account.Account
	med, err := n.Accounts.Create(ctx, account.NewAccount{Email: medEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: "rita.records@browser.test", Name: "Rita Records", Role: policy.RoleRecords, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	// A mediator's account the first administrator created (as through
	// the API): no password until a second administrator approves one.
	newEmail := "nia.newcomer@browser.test"
	newcomer, err := n.Accounts.Create(ctx, account.NewAccount{Email: newEmail, Name: "Nia Newcomer", Role: policy.RoleMediator, Creator: &admin})
	if err != nil {
		t.Fatal(err)
	}
	// A mediator's account an administrator made through the API in a
	// release before first passwords were approved: stored with the
	// password its creator chose (account.CreatorsPassword), as
	// TestCreatorsPasswordFromOldReleaseOpensNothing stores one.
	legacyEmail := "lena.legacy@browser.test"
	legacy, err := n.Accounts.Create(ctx, account.NewAccount{Email: legacyEmail, Name: "Lena Legacy", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := metastore.Update(ctx, n.Meta, account.RecordKey(legacy.ID), func(a *account.Account) error {
		a.CreatedBy, a.Lineage, a.Origin, a.OwnPassword = admin.ID, []string{admin.ID}, account.OriginStaff, false
		return nil
	})
	if err != nil || !stored.CreatorsPassword() {
		t.Fatalf("storing the old release's account: %+v %v", stored.View(), err)
	}
	medC := client.New(n.URL, "")
	if _, err := medC.Login(ctx, medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := medC.CreateCase(ctx, "Okafor v. Lindqvist — deposit", "tenancy", "court", []string{"Tenant", "Landlord"}); err != nil {
		t.Fatal(err)
	}

	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/staff.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_ADMIN_EMAIL="+adminEmail, "PARLEY_ADMIN2_EMAIL="+admin2Email, "PARLEY_MEDIATOR_EMAIL="+medEmail, "PARLEY_NEW_EMAIL="+newEmail, "PARLEY_LEGACY_EMAIL="+legacyEmail,
		"PARLEY_MEDIATOR_NAME=Morgan Reyes", "PARLEY_PASSWORD="+nodetest.Password,
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
	answer := func(err error) {
		if err != nil {
			t.Error(err)
			fmt.Fprintln(stdin, "error "+err.Error())
			return
		}
		fmt.Fprintln(stdin, "ok")
	}
	audited := func(typ, actor, object string) error {
		for i := n.Audit.Size() - 1; i >= 0; i-- {
			ev, err := n.Audit.Entry(ctx, i)
			if err != nil {
				return err
			}
			if ev.Type == typ && ev.Actor == actor && len(ev.Objects) > 0 && ev.Objects[0] == object {
				return nil
			}
		}
		return fmt.Errorf("no %s audit entry by %s about %s", typ, actor, object)
	}
	sc := bufio.NewScanner(stdout)
	passed := false
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		switch {
		case line == "ask disabled "+medEmail:
			a, err := n.Accounts.Get(ctx, med.ID)
			if err == nil && !a.Disabled {
				err = fmt.Errorf("the server does not hold the mediator as disabled")
			}
			if err == nil {
				err = audited("account.disabled", admin.ID, med.ID)
			}
			answer(err)
		case line == "ask refused-reset-needed "+legacyEmail:
			// The server refused the sign-in as its creator's password,
			// and made no session.
			err := fmt.Errorf("no account.login.refused audit entry for the old account, reason creators-password")
			for i := n.Audit.Size() - 1; i >= 0; i-- {
				ev, rerr := n.Audit.Entry(ctx, i)
				if rerr != nil {
					err = rerr
					break
				}
				if ev.Type == "account.login.refused" && ev.Actor == legacy.ID && ev.Attrs["reason"] == "creators-password" {
					err = nil
					break
				}
			}
			if err == nil {
				_, err = client.New(n.URL, "").Login(ctx, legacyEmail, nodetest.Password)
				if err == nil {
					err = fmt.Errorf("the old account's creator's password opened a session")
				} else {
					err = nil
				}
			}
			answer(err)
		case strings.TrimSpace(line) == "ask second-admin":
			var err error
			admin2, err = n.Accounts.Create(ctx, account.NewAccount{Email: admin2Email, Name: "Omar Second", Role: policy.RoleAdmin, Password: nodetest.Password})
			answer(err)
		case line == "ask reset-requested "+medEmail:
			// One admin's request made no password: the mediator's own
			// is unchanged (its stored hash: a sign-in with it is
			// server TestWaitingResetEndsWithAge's).
			a, err := n.Accounts.Get(ctx, med.ID)
			if err == nil && (a.PendingReset == nil || a.PendingReset.RequestedBy != admin.ID || a.PasswordChangeRequired) {
				err = fmt.Errorf("the server holds no waiting reset by the first admin: %+v", a.PendingReset)
			}
			if err == nil && a.PasswordHash != med.PasswordHash {
				err = fmt.Errorf("the request changed the mediator's password")
			}
			if err == nil {
				err = audited("account.password.reset.requested", admin.ID, med.ID)
			}
			answer(err)
		case line == "ask changed-after-reset "+medEmail:
			err := audited("account.password.reset", admin2.ID, med.ID)
			if err == nil {
				err = audited("account.password.changed", med.ID, med.ID)
			}
			answer(err)
		case line == "ask first-password "+newEmail:
			// The second administrator approved the newcomer's first
			// password: a temporary one, to replace at the first sign-in.
			a, err := n.Accounts.Get(ctx, newcomer.ID)
			if err == nil && (a.PasswordHash == "" || !a.PasswordChangeRequired || a.PendingReset != nil) {
				err = fmt.Errorf("the newcomer's account after the approval: %+v", a.View())
			}
			if err == nil {
				err = audited("account.password.reset", admin2.ID, newcomer.ID)
			}
			answer(err)
		case strings.HasPrefix(line, "ask changed "+medEmail+" "):
			pw := strings.TrimPrefix(line, "ask changed "+medEmail+" ")
			_, err := client.New(n.URL, "").Login(ctx, medEmail, pw)
			answer(err)
		case line == "PASS":
			passed = true
		}
	}
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("staff.mjs failed: %v", err)
	}
}
