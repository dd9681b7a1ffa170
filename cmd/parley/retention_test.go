package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
	"github.com/parley-mediation/parley/server"
)

// TestRetentionVerbs drives holds, the schedule, a plan, its approval by a
// second person, the apply and the certificate through the CLI and HTTP,
// on an embedded node and on a scale-mode node (MinIO and Redis).
func TestRetentionVerbs(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { retentionVerbs(t, nodetest.Embedded(t)) })
	t.Run("scale", func(t *testing.T) { retentionVerbs(t, nodetest.Start(t, nodetest.Scale(t))) })
}

func retentionVerbs(t *testing.T, n *nodetest.Node) {
	ctx := context.Background()
	t.Setenv("PARLEY_CONFIG_DIR", t.TempDir())
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	planner, rec1 := n.Staff(t, policy.RoleRecords, "rita@example.org")
	_, rec2 := n.Staff(t, policy.RoleRecords, "rob@example.org")
	var caseIDs []string
	var docIDs []string
	for range 2 {
		c, err := med.CreateCase(ctx, "Retention v. CLI", "family", "", []string{"A", "B"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := med.UploadDocument(ctx, c.ID, client.Upload{Name: "notes.txt", MediaType: "text/plain",
			Audience: "mediators", Class: "mediator-notes", Body: strings.NewReader("CANARY notes"), Size: 12})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := med.CaseAction(ctx, c.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
			t.Fatal(err)
		}
		caseIDs, docIDs = append(caseIDs, c.ID), append(docIDs, d.ID)
	}
	runOK := func(args ...string) string {
		t.Helper()
		var code int
		out := captureStdout(t, func() { code = run(ctx, args) })
		if code != 0 {
			t.Fatalf("parley %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	runFails := func(want int, args ...string) string {
		t.Helper()
		var code int
		stderr := captureStderr(t, func() { captureStdout(t, func() { code = run(ctx, args) }) })
		// An error is one line; a usage error adds the usage line.
		if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; code != want || lines != want {
			t.Fatalf("parley %s: exit %d (want %d), stderr %q", strings.Join(args, " "), code, want, stderr)
		}
		return stderr
	}

	actAs(t, n.URL, rec1)
	runFails(2, "hold", "place", "--case", caseIDs[1])
	if s := runFails(1, "hold", "place", "--case", caseIDs[1], "--reason", strings.Repeat("x", 501), "--authority", "Order 1"); !strings.Contains(s, "at most 500") {
		t.Fatalf("long reason: %s", s)
	}
	runOK("hold", "place", "--case", caseIDs[1], "--reason", "Complaint", "--authority", "Program rule 12")
	if out := runOK("hold", "ls"); !strings.Contains(out, caseIDs[1]) || !strings.Contains(out, "Program rule 12") {
		t.Fatalf("hold ls:\n%s", out)
	}
	if out := runOK("retention", "schedule", "show"); !strings.Contains(out, "version 0") || !strings.Contains(out, "mediator-notes    30d") {
		t.Fatalf("schedule show:\n%s", out)
	}
	runFails(1, "retention", "schedule", "set", "mediator-notes", "--period", "3w")
	// Shortening a period to 0d: warned about, and only proposed until
	// another records clerk approves it (never its proposer).
	var setOut string
	stderr := captureStderr(t, func() {
		setOut = runOK("retention", "schedule", "set", "mediator-notes", "--trigger", "case-closed", "--period", "0d", "--json")
	})
	var set api.RuleResult
	if err := json.Unmarshal([]byte(setOut), &set); err != nil || set.Pending == nil || set.Version != 0 || !strings.Contains(stderr, "Warning: a period of 0d") {
		t.Fatalf("schedule set: %v %+v\n%s", err, set, stderr)
	}
	if out := runOK("retention", "schedule", "changes"); !strings.Contains(out, set.Pending.ID) || !strings.Contains(out, "pending") {
		t.Fatalf("schedule changes:\n%s", out)
	}
	if s := runFails(1, "retention", "schedule", "approve", set.Pending.ID); !strings.Contains(s, "someone other than whoever proposed it") {
		t.Fatalf("self-approval: %s", s)
	}
	actAs(t, n.URL, rec2)
	if out := runOK("retention", "schedule", "approve", set.Pending.ID); !strings.Contains(out, "version 1") {
		t.Fatalf("schedule approve:\n%s", out)
	}
	actAs(t, n.URL, rec1)
	if out := runOK("retention", "schedule", "show"); !strings.Contains(out, "version 1") || !strings.Contains(out, "mediator-notes    0d") {
		t.Fatalf("schedule show:\n%s", out)
	}
	var planned struct {
		Plan    retention.Plan   `json:"plan"`
		Records []retention.Item `json:"records"`
	}
	if err := json.Unmarshal([]byte(runOK("retention", "plan", "--json")), &planned); err != nil {
		t.Fatal(err)
	}
	p := planned.Plan
	if p.Records != 1 || p.Held != 1 || len(planned.Records) != 2 || p.Planner != planner.ID {
		t.Fatalf("plan: %+v", planned)
	}
	if out := runOK("retention", "plan", "--summary"); !strings.Contains(out, "1 records due") || !strings.Contains(out, "1 held") {
		t.Fatalf("plan --summary:\n%s", out)
	}
	if s := runFails(1, "retention", "approve", p.ID); !strings.Contains(s, "other than its planner") {
		t.Fatalf("self-approval: %s", s)
	}
	actAs(t, n.URL, med)
	runFails(1, "retention", "approve", p.ID)
	actAs(t, n.URL, rec2)
	runOK("retention", "approve", p.ID)
	if out := runOK("retention", "apply", p.ID); !strings.Contains(out, "destroyed "+caseIDs[0]+" "+docIDs[0]+" v1") || !strings.Contains(out, "1 destroyed") {
		t.Fatalf("apply:\n%s", out)
	}
	runOK("retention", "apply", p.ID) // again: already done
	certFile := filepath.Join(t.TempDir(), "certificate.txt")
	if err := os.WriteFile(certFile, []byte("an older file"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runOK("retention", "certificate", p.ID, "-o", certFile)
	wantOutput(t, certFile, retention.CertificateHeader)
	if !strings.Contains(out, retention.CertificateHeader) || !strings.Contains(out, "Signature verified") || strings.Contains(out, "CANARY") || strings.Contains(out, "notes.txt") {
		t.Fatalf("certificate:\n%s", out)
	}
	if _, err := med.DownloadDocument(ctx, caseIDs[0], docIDs[0], 0); err == nil {
		t.Fatal("disposed document downloads")
	}
	if dl, err := med.DownloadDocument(ctx, caseIDs[1], docIDs[1], 0); err != nil {
		t.Fatalf("held document: %v", err)
	} else {
		dl.Body.Close()
	}
	// A certificate checked against another key fails.
	other := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	key := t.TempDir() + "/other.vkey"
	writeFile(t, key, other.AuditVerifierKey())
	runFails(1, "retention", "certificate", p.ID, "--key", key)

	// HTTP: problem+json, with the field.
	_, err := rec1.PlaceHold(ctx, retention.NewHold{Case: caseIDs[0], Reason: "", Authority: "x"})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 400 || !strings.HasSuffix(ce.Problem.Type, "invalid-input") {
		t.Fatalf("empty reason over HTTP: %v", err)
	}
	if _, err := med.Holds(ctx, "", false); !errors.As(err, &ce) || ce.Status != 403 {
		t.Fatalf("mediator listed holds: %v", err)
	}
	if b, _ := json.Marshal(planned.Records); bytes.Contains(b, []byte("notes.txt")) {
		t.Fatal("plan names documents")
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
