package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
)

// TestDisposalActionVerbs drives keep and transfer through the CLI: the
// chooser cannot approve, a third person does, the apply keeps the kept
// document and transfers then destroys the other case, and `retention
// bundle` saves a bundle that matches the recorded hash, opens with the
// recipient's key, and carries the joint document but not the caucus one.
func TestDisposalActionVerbs(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	t.Setenv("PARLEY_CONFIG_DIR", t.TempDir())
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	_, rec1 := n.Staff(t, policy.RoleRecords, "rita@example.org")
	_, rec2 := n.Staff(t, policy.RoleRecords, "rob@example.org")
	_, rec3 := n.Staff(t, policy.RoleRecords, "ros@example.org")
	var caseIDs, joint []string
	var caucusID string
	for i := range 2 {
		c, err := med.CreateCase(ctx, "Actions v. CLI", "family", "", []string{"A", "B"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := med.UploadDocument(ctx, c.ID, client.Upload{Name: "exhibit.txt", MediaType: "text/plain",
			Audience: "joint", Class: "evidence", Body: strings.NewReader("JOINT exhibit"), Size: 13})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			cd, err := med.UploadDocument(ctx, c.ID, client.Upload{Name: "side-a-offer.txt", MediaType: "text/plain",
				Audience: "caucus:A", Class: "evidence", Body: strings.NewReader("CANARY caucus"), Size: 13})
			if err != nil {
				t.Fatal(err)
			}
			caucusID = cd.ID
		}
		if _, err := med.CaseAction(ctx, c.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
			t.Fatal(err)
		}
		caseIDs, joint = append(caseIDs, c.ID), append(joint, d.ID)
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
		if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; code != want || lines != want {
			t.Fatalf("parley %s: exit %d (want %d), stderr %q", strings.Join(args, " "), code, want, stderr)
		}
		return stderr
	}
	actAs(t, n.URL, rec1)
	runOK("retention", "schedule", "set", "evidence", "--trigger", "case-closed", "--period", "0d")
	// Shortening a period is in force once a second person approves it.
	changes, err := rec1.ScheduleChanges(ctx)
	if err != nil || len(changes) != 1 {
		t.Fatalf("schedule changes: %v %+v", err, changes)
	}
	if _, err := rec3.ApproveScheduleChange(ctx, changes[0].ID); err != nil {
		t.Fatal(err)
	}
	var planned struct {
		Plan retention.Plan `json:"plan"`
	}
	if err := json.Unmarshal([]byte(runOK("retention", "plan", "--json")), &planned); err != nil {
		t.Fatal(err)
	}
	p := planned.Plan.ID
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	actAs(t, n.URL, rec2)
	runFails(2, "retention", "keep", p, "--case", caseIDs[1], "--doc", joint[1])
	runFails(1, "retention", "transfer", p, "--case", caseIDs[0], "--recipient", "age1nope", "--to", "State Archives")
	runOK("retention", "keep", p, "--case", caseIDs[1], "--doc", joint[1], "--authority", "Order 2026-7")
	runOK("retention", "transfer", p, "--case", caseIDs[0], "--recipient", id.Recipient().String(), "--to", "State Archives")
	if out := runOK("retention", "actions", p); !strings.Contains(out, "keep permanently: Order 2026-7") || !strings.Contains(out, "transfer to State Archives") {
		t.Fatalf("actions:\n%s", out)
	}
	if s := runFails(1, "retention", "approve", p); !strings.Contains(s, "chose its actions") {
		t.Fatalf("chooser approved: %s", s)
	}
	// rec3 looks; rec2 then changes the keep's authority: approving what
	// rec3 saw is refused; approving without --actions lists the choices
	// as they are now and approves those.
	actAs(t, n.URL, rec3)
	out := runOK("retention", "actions", p)
	_, seen, ok := strings.Cut(out, "parley retention approve "+p+" --actions ")
	if !ok || !strings.HasPrefix(seen, "sha256:") {
		t.Fatalf("actions print no digest to approve with:\n%s", out)
	}
	seen = strings.TrimSpace(seen)
	actAs(t, n.URL, rec2)
	runOK("retention", "keep", p, "--case", caseIDs[1], "--doc", joint[1], "--authority", "Order 2026-8")
	actAs(t, n.URL, rec3)
	if s := runFails(1, "retention", "approve", p, "--actions", seen); !strings.Contains(s, "changed after you looked at them") {
		t.Fatalf("approved choices rec3 never saw: %s", s)
	}
	// Over HTTP: the stale digest is 409 choices-changed; none at all (as
	// clients before it sent, with no body) is 400 on actionsDigest.
	var ce *client.Error
	if err := rec3.Do(ctx, http.MethodPost, "/api/v1/retention/plans/"+p+"/approve", api.ApprovePlanRequest{ActionsDigest: seen}, nil); !errors.As(err, &ce) ||
		ce.Status != http.StatusConflict || ce.Problem.Type != api.ProblemTypeBase+string(api.ProblemChoicesChanged) {
		t.Fatalf("stale digest: %v", err)
	}
	if err := rec3.Do(ctx, http.MethodPost, "/api/v1/retention/plans/"+p+"/approve", nil, nil); !errors.As(err, &ce) ||
		ce.Status != http.StatusBadRequest || len(ce.Problem.Errors) != 1 || ce.Problem.Errors[0].Field != "actionsDigest" {
		t.Fatalf("no digest: %v", err)
	}
	if out := runOK("retention", "approve", p); !strings.Contains(out, "Approving the plan with these choices") || !strings.Contains(out, "keep permanently: Order 2026-8") || !strings.Contains(out, "Approved plan") {
		t.Fatalf("approve:\n%s", out)
	}
	actAs(t, n.URL, rec1)
	runOK("retention", "apply", p)
	file := filepath.Join(t.TempDir(), "bundle.age")
	if out := runOK("retention", "bundle", p, "--case", caseIDs[0], "-o", file); !strings.Contains(out, "as on the certificate") {
		t.Fatalf("bundle:\n%s", out)
	}
	if out := runOK("retention", "certificate", p); !strings.Contains(out, `"transfers"`) || !strings.Contains(out, `"kept-permanently"`) {
		t.Fatalf("certificate:\n%s", out)
	}
	// Neither the bundle nor the certificate is kept by a browser or a
	// proxy on the way.
	for _, path := range []string{"/transfers/" + caseIDs[0], "/certificate"} {
		req, _ := http.NewRequest(http.MethodGet, n.URL+"/api/v1/retention/plans/"+p+path, nil)
		req.Header.Set("Authorization", "Bearer "+rec1.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d, Cache-Control %q; want 200, no-store", path, res.StatusCode, res.Header.Get("Cache-Control"))
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(bytes.NewReader(b), id)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(r)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if bytes.Contains(body, []byte("CANARY")) || bytes.Contains(body, []byte(caucusID)) || bytes.Contains(body, []byte("side-a-offer")) {
			t.Fatalf("%s holds the caucus document", h.Name)
		}
		names = append(names, h.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "documents/"+joint[0]+"-v1/exhibit.txt") {
		t.Fatalf("bundle: %v", names)
	}
	if dl, err := med.DownloadDocument(ctx, caseIDs[1], joint[1], 0); err != nil {
		t.Fatalf("kept document: %v", err)
	} else {
		dl.Body.Close()
	}
	if _, err := med.DownloadDocument(ctx, caseIDs[0], joint[0], 0); err == nil {
		t.Fatal("transferred document not destroyed")
	}
}
