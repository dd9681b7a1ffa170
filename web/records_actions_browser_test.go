package web_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserRecordsActions drives web/client/test/records-actions.mjs:
// records clerks choose, per plan record, to keep one permanently and to
// transfer a case to an archive, each after a confirmation naming what
// happens; the chooser cannot approve; a third clerk approves, carries
// the plan out and downloads the bundle. The bundle the browser saved
// opens with the archive's age key and carries the joint exhibit, never
// side A's caucus document.
func TestBrowserRecordsActions(t *testing.T) {
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
	med := login("mediator@actions.test", "Morgan Reyes", policy.RoleMediator)
	rec := login("rita@actions.test", "Rita Archer", policy.RoleRecords)
	login("rob@actions.test", "Rob Keeper", policy.RoleRecords)
	login("ros@actions.test", "Ros Vale", policy.RoleRecords)
	var caucusID string
	for _, k := range []struct{ title, ref string }{{"Ng v. Park", "2026-CV-0201"}, {"Ortiz v. Hale", "2026-CV-0202"}} {
		c, err := med.CreateCaseWith(ctx, api.CreateCaseRequest{Title: k.title, Type: "family", ReferralSource: "court", Sides: []string{"A", "B"}, Reference: k.ref})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := med.UploadDocument(ctx, c.ID, client.Upload{Name: "exhibit.txt", MediaType: "text/plain", Audience: "joint",
			Class: "evidence", Body: strings.NewReader("JOINT exhibit"), Size: 13}); err != nil {
			t.Fatal(err)
		}
		if k.ref == "2026-CV-0201" {
			d, err := med.UploadDocument(ctx, c.ID, client.Upload{Name: "side-a-offer.txt", MediaType: "text/plain", Audience: "caucus:A",
				Class: "evidence", Body: strings.NewReader("CANARY caucus"), Size: 13})
			if err != nil {
				t.Fatal(err)
			}
			caucusID = d.ID
			// A hold once placed on the caucus document and released: its
			// entries name the document, and must not travel in a bundle
			// that does not carry it.
			h, err := rec.PlaceHold(ctx, api.NewHold{Case: c.ID, Doc: d.ID, Reason: "Subpoena 2026-31", Authority: "Court order 12"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rec.ReleaseHold(ctx, c.ID, h.ID, "Subpoena answered"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := med.CaseAction(ctx, c.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rec.SetScheduleRule(ctx, "evidence", "case-closed", "0d"); err != nil {
		t.Fatal(err)
	}
	// Shortening a period is in force once a second person approves it.
	changes, err := rec.ScheduleChanges(ctx)
	if err != nil || len(changes) != 1 {
		t.Fatalf("schedule changes: %v %+v", err, changes)
	}
	_, approver := n.Staff(t, policy.RoleRecords, "approver@actions.test")
	if _, err := approver.ApproveScheduleChange(ctx, changes[0].ID); err != nil {
		t.Fatal(err)
	}
	archive, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	// A key the transfer names first; a clerk later changes it to the archive's.
	oldKey, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	downloads := t.TempDir()
	tctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/records-actions.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_PASSWORD="+nodetest.Password,
		"PARLEY_AGE_RECIPIENT="+archive.Recipient().String(), "PARLEY_AGE_RECIPIENT_OLD="+oldKey.Recipient().String(), "PARLEY_DOWNLOADS="+downloads,
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
	// The bundle the browser saved: the archive's key opens it; it holds
	// the joint exhibit and nothing of the caucus document.
	b, err := os.ReadFile(filepath.Join(downloads, "bundle.age"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(bytes.NewReader(b), archive)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(r)
	exhibit := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		// The audit excerpt's entries are base64: each is read decoded
		// too, as is every file's name.
		texts := map[string][]byte{h.Name: body, "name " + h.Name: []byte(h.Name)}
		if strings.HasSuffix(h.Name, "audit/entries.jsonl") {
			for i, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
				var x retention.ExcerptEntry
				if err := json.Unmarshal([]byte(line), &x); err != nil {
					t.Fatal(err)
				}
				entry, err := base64.StdEncoding.DecodeString(x.Entry)
				if err != nil {
					t.Fatal(err)
				}
				texts[fmt.Sprintf("audit entry %d", i)] = entry
			}
		}
		for where, text := range texts {
			if bytes.Contains(text, []byte("CANARY")) || bytes.Contains(text, []byte(caucusID)) || bytes.Contains(text, []byte("side-a-offer")) {
				t.Fatalf("%s (in %s) holds the caucus document or its id", where, h.Name)
			}
		}
		exhibit = exhibit || (strings.HasSuffix(h.Name, "/exhibit.txt") && string(body) == "JOINT exhibit")
	}
	if !exhibit {
		t.Fatal("the bundle does not carry the joint exhibit")
	}
	for _, name := range []string{"records-actions-choose.png", "records-actions-choose-phone.png", "records-actions-approve.png",
		"records-actions-approve-phone.png", "records-actions-bundle.png", "records-actions-bundle-phone.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
