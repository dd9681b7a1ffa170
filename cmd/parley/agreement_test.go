package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestAgreementVerbs: a mediator starts an agreement and saves a version
// from a file; a party signs with --yes only (without it nothing is
// signed); a signature on the superseded version is refused in one line;
// once both parties signed, `agreement pdf` writes the PDF and `agreement
// verify` checks it offline, naming the signers, and fails in one line
// on a copy with one flipped byte.
func TestAgreementVerbs(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, medC := n.Staff(t, policy.RoleMediator, "cli-agreement@example.org")
	k, err := medC.CreateCase(ctx, "CLI agreement", "family", "", []string{"Parent A", "Parent B"})
	if err != nil {
		t.Fatal(err)
	}
	med := cliUser{t.TempDir(), medC, medAcct.ID}
	var parties []cliUser
	for i, name := range []string{"Avery Tran", "Blake Chen"} {
		inv, _ := medC.Invite(ctx, k.ID, "party", []string{"A", "B"}[i], name, "", time.Hour)
		pc := client.New(n.URL, "")
		s, err := pc.Join(ctx, inv.Link)
		if err != nil {
			t.Fatal(err)
		}
		u := cliUser{t.TempDir(), pc, s.Account.ID}
		if code, out := u.run(t, "", "keys", "init"); code != 0 {
			t.Fatalf("keys init: %s", out)
		}
		parties = append(parties, u)
	}
	if code, out := med.run(t, "", "agreement", "start", k.ID); code != 0 || !strings.Contains(out, "PARENTING PLAN") || !strings.Contains(out, "Avery Tran (Parent A): NOT YET") {
		t.Fatalf("start: %d %s", code, out)
	}
	file := filepath.Join(t.TempDir(), "v2.txt")
	os.WriteFile(file, []byte("PARENTING PLAN\n\nThe children live with Parent A in school weeks.\n"), 0o600)
	if code, out := med.run(t, "", "agreement", "save", k.ID, "--file", file); code != 0 || !strings.Contains(out, "Saved version 2") {
		t.Fatalf("save: %d %s", code, out)
	}
	a, b := parties[0], parties[1]
	if code, out := a.run(t, "", "agreement", "sign", k.ID, "--version", "2"); code != 0 || !strings.Contains(out, "Nothing signed") {
		t.Fatalf("sign without --yes: %d %s", code, out)
	}
	if code, out := a.run(t, "", "agreement", "sign", k.ID, "--version", "2", "--yes"); code != 0 || !strings.Contains(out, "You signed version 2") {
		t.Fatalf("sign: %d %s", code, out)
	}
	os.WriteFile(file, []byte("PARENTING PLAN\n\nThe children live with Parent A in school weeks and with Parent B in the holidays.\n"), 0o600)
	if code, out := med.run(t, "", "agreement", "save", k.ID, "--file", file); code != 0 || !strings.Contains(out, "Saved version 3") {
		t.Fatalf("save 3: %d %s", code, out)
	}
	var code int
	errOut := stderrOf(t, func() { code, _ = b.run(t, "", "agreement", "sign", k.ID, "--version", "2", "--yes") })
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "version 2 is no longer the agreement") {
		t.Fatalf("signing a superseded version: %d %q", code, errOut)
	}
	for _, p := range parties {
		if code, out := p.run(t, "", "agreement", "sign", k.ID, "--version", "3", "--yes"); code != 0 {
			t.Fatalf("sign 3: %d %s", code, out)
		}
	}
	if code, out := med.run(t, "", "agreement", "status", k.ID); code != 0 || !strings.Contains(out, "signed by everyone") || !strings.Contains(out, "1 signature(s) on earlier versions") {
		t.Fatalf("status: %d %s", code, out)
	}
	// An existing file is replaced whole, readable by its owner only, and
	// nothing half-written is left beside it.
	pdfDir := t.TempDir()
	pdf := filepath.Join(pdfDir, "signed.pdf")
	if err := os.WriteFile(pdf, []byte("an older, longer file that was here before the agreement's PDF"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := a.run(t, "", "agreement", "pdf", k.ID, "--out", pdf); code != 0 {
		t.Fatalf("pdf: %d %s", code, out)
	}
	wantOutput(t, pdf, "%PDF-")
	// verify needs no server and no session.
	offline := cliUser{dir: t.TempDir(), c: client.New("http://127.0.0.1:1", "")}
	if code, out := offline.run(t, "", "agreement", "verify", pdf); code != 0 || !strings.Contains(out, "OK: version 3") ||
		!strings.Contains(out, "account "+a.id+", device ") || !strings.Contains(out, "the file names them Avery Tran (Parent A)") ||
		!strings.Contains(out, "the file names them Blake Chen (Parent B)") || !strings.Contains(out, "checked only against the keys in this file") {
		t.Fatalf("verify: %d %s", code, out)
	}
	// --online: each key is its account's own device in the key directory.
	if code, out := b.run(t, "", "agreement", "verify", pdf, "--online"); code != 0 || !strings.Contains(out, "own registered device in the key directory of "+n.URL) {
		t.Fatalf("verify --online: %d %s", code, out)
	}
	// A PDF whose signature for Avery is made with a key nobody registered
	// (a self-signed device record for her account): it passes offline,
	// which says the keys are the file's word, and fails --online.
	forged := forgeAgreement(t, ctx, a, k.ID, 3)
	if code, out := offline.run(t, "", "agreement", "verify", forged); code != 0 || !strings.Contains(out, "checked only against the keys in this file") {
		t.Fatalf("offline verify of a forged key: %d %s", code, out)
	}
	errOut = stderrOf(t, func() { code, _ = b.run(t, "", "agreement", "verify", forged, "--online") })
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "NOT VERIFIED: signature 1: device dv_") || !strings.Contains(errOut, "is not a registered device of account "+a.id) {
		t.Fatalf("verify --online of a forged key: %d %q", code, errOut)
	}
	body, _ := os.ReadFile(pdf)
	body[len(body)/3] ^= 0x20
	bad := filepath.Join(t.TempDir(), "flipped.pdf")
	os.WriteFile(bad, body, 0o600)
	errOut = stderrOf(t, func() { code, _ = offline.run(t, "", "agreement", "verify", bad) })
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "NOT VERIFIED") {
		t.Fatalf("verify of a flipped byte: %d %q", code, errOut)
	}
}

// forgeAgreement writes a signed agreement's PDF for version ver whose only
// signature, by u's account, is made with a fresh device key that was never
// registered (what a server, or anyone, can make).
func forgeAgreement(t *testing.T, ctx context.Context, u cliUser, caseID string, ver int) string {
	t.Helper()
	v, err := u.c.AgreementVersion(ctx, caseID, ver)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e2ee.NewDeviceKeys(u.id, e2ee.KEMXWing, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ag, err := u.c.Agreement(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	st := e2ee.AgreementSignature{Case: caseID, Doc: ag.Document, Version: ver, TextSHA: v.SHA256, Outcome: string(ag.Outcome), Account: u.id, Role: "party",
		Device: d.ID, DeviceKey: d.Record().SigPub, At: time.Now().UnixMilli()}
	sig, err := d.SignAgreement(st)
	if err != nil {
		t.Fatal(err)
	}
	stmt, _ := st.Statement()
	pdf, err := agreement.RenderPDF(&agreement.Signed{Format: agreement.PayloadFormat, Case: caseID, CaseTitle: "CLI agreement", Title: "Parenting plan",
		Outcome: string(ag.Outcome), Document: ag.Document, Version: ver, SHA256: v.SHA256, Text: v.Text,
		Signatures: []agreement.SignedBy{{Name: "Avery Tran", Role: "party", Record: string(e2ee.AgreementRecord(stmt, sig)), DeviceRecord: d.Record().Raw, Recorded: "2026-12-03T06:00:00Z"}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "forged.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
