package web_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserRecords drives web/client/test/records.mjs in Chromium the way
// a records clerk works: find "Rivera v. Chen" by its reference
// 2026-CV-0142 (a search typed while a case still loads says so), hold it
// with a reason and an authority and see every document held by it, add a
// second hold and release it (the question quotes it and says the other
// still keeps the records), release the first, hold one document (its form
// says who will see it); the export's months from lists, compared as
// months, its question closed by a setting changed after asking; the
// caseload naming each case by reference or opening day; see what falls due;
// a future date refused; make a plan, discard it, make another; a second
// clerk approves and carries it out only after a deliberate confirmation
// naming counts and classes; the certificate names the case by reference.
func TestBrowserRecords(t *testing.T) {
	nodeBin, clientDir := needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	login := func(email, name string, role policy.Role) *client.Client {
		if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: email, Name: name, Role: role, Password: nodetest.Password}); err != nil {
			t.Fatal(err)
		}
		c := client.New(n.URL, "")
		if _, err := c.Login(ctx, email, nodetest.Password); err != nil {
			t.Fatal(err)
		}
		return c
	}
	med := login("mediator@records.test", "Morgan Reyes", policy.RoleMediator)
	rec := login("rita@records.test", "Rita Archer", policy.RoleRecords)
	rec2 := login("rob@records.test", "Rob Keeper", policy.RoleRecords)
	var docs []string
	for _, k := range []struct{ title, ref string }{{"Okafor v. Lind", "2026-CV-0099"}, {"Rivera v. Chen", "2026-CV-0142"}, {"Ng v. Ortiz", ""}} {
		c, err := med.CreateCaseWith(ctx, api.CreateCaseRequest{Title: k.title, Type: "family", ReferralSource: "court", Sides: []string{"A", "B"}, Reference: k.ref})
		if err != nil {
			t.Fatal(err)
		}
		if k.ref != "2026-CV-0142" {
			continue
		}
		for _, d := range []struct{ name, class string }{{"notes.txt", "mediator-notes"}, {"exhibit.txt", "evidence"}} {
			up, err := med.UploadDocument(ctx, c.ID, client.Upload{Name: d.name, MediaType: "text/plain", Audience: "mediators",
				Class: d.class, Body: strings.NewReader("CANARY rivera"), Size: 13})
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, up.ID)
		}
		if _, err := med.CaseAction(ctx, c.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
			t.Fatal(err)
		}
	}
	setRuleApproved(t, rec, rec2, "mediator-notes", "case-closed", "0d")
	setRuleApproved(t, rec, rec2, "evidence", "case-closed", "60d")
	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/records.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_PASSWORD="+nodetest.Password,
		"PARLEY_NOTES_DOC="+docs[0], "PARLEY_EXHIBIT_DOC="+docs[1],
		"PARLEY_TOMORROW="+time.Now().UTC().Add(24*time.Hour).Format(time.DateOnly),
		"PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+shots)
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
		t.Log(sc.Text())
		passed = passed || sc.Text() == "PASS"
	}
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script: %v (passed=%v)", err, passed)
	}
	// What the browser did is what the server holds: the notes destroyed,
	// the exhibit (held, and not yet due) kept, the hold with its reason.
	hs, err := rec.Holds(ctx, "", false)
	if err != nil || len(hs) != 1 || hs[0].Doc != docs[1] || hs[0].Authority != "Order 2026-114" {
		t.Fatalf("holds after the run: %v %+v", err, hs)
	}
	for _, name := range []string{"records-holds.png", "records-holds-phone.png", "records-due.png", "records-confirm.png", "records-confirm-phone.png", "records-certificate.png", "records-release-confirm-phone.png", "records-export-confirm.png", "records-export-form.png", "records-export-form-phone.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
