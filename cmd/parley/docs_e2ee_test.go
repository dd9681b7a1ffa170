package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestDocVerbsEndToEnd: side A's party puts a document encrypted on their
// device for their caucus; the mediator gets it (decrypted on the
// mediator's device), side B cannot; the mediator shares it with the joint
// room (the CLI re-wraps the keys on the mediator's device when the server
// asks), B gets it; narrowed back, B cannot. Records staff hold it. A
// document stored before end-to-end encryption is upgraded by
// `doc upgrade`, after which it is end-to-end encrypted and still reads.
func TestDocVerbsEndToEnd(t *testing.T) {
	n := nodetest.Embedded(t)
	k, med, join := cliCase(t, n, "cli-e2ee-med@example.org", "CLI documents", "family", []string{"A", "B"})
	a, b := join("A", "Avery"), join("B", "Blake")
	for _, u := range []cliUser{med, a, b} {
		if code, out := u.run(t, "", "keys", "init"); code != 0 {
			t.Fatalf("keys init: %d %s", code, out)
		}
	}
	// The mediator's client signs the case's membership as it sends.
	if code, out := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "Welcome"); code != 0 {
		t.Fatalf("chat send: %d %s", code, out)
	}

	dir := t.TempDir()
	content := make([]byte, 150_000)
	rand.Read(content)
	copy(content, "CANARY-CLI-E2EE-DOC")
	file := filepath.Join(dir, "offer.pdf")
	os.WriteFile(file, content, 0o600)
	code, out := a.run(t, "", "doc", "put", file, "--case", k.ID, "--audience", "caucus:A", "--class", "evidence", "--e2ee", "--json")
	var d api.Document
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || len(d.Versions) != 1 || !d.Versions[0].E2EE {
		t.Fatalf("doc put --e2ee: %d %s", code, out)
	}
	// A new plain version of it is refused before any byte is sent: a
	// proxy in front of the server counts the bytes that reach it.
	var sent atomic.Int64
	target, _ := url.Parse(n.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions") {
			b, _ := io.ReadAll(r.Body)
			sent.Add(int64(len(b)))
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	viaProxy := cliUser{a.dir, client.New(proxy.URL, a.c.Token), a.id}
	if code, out := viaProxy.run(t, "", "doc", "put", file, "--case", k.ID, "--doc", d.ID); code == 0 || sent.Load() != 0 {
		t.Fatalf("doc put --doc on an end-to-end encrypted document: exit %d, %d bytes sent: %s", code, sent.Load(), out)
	}
	get := func(u cliUser, docID, name string) (int, []byte, map[string]any) {
		t.Helper()
		target := filepath.Join(dir, name)
		os.Remove(target)
		code, out := u.run(t, "", "doc", "get", docID, "--case", k.ID, "-o", target, "--json")
		var info map[string]any
		json.Unmarshal([]byte(out), &info)
		b, _ := os.ReadFile(target)
		return code, b, info
	}
	if code, got, info := get(med, d.ID, "med.pdf"); code != 0 || !bytes.Equal(got, content) || info["e2ee"] != true {
		t.Fatalf("the mediator's doc get: %d %v", code, info)
	}
	if code, _, _ := get(b, d.ID, "b.pdf"); code != 1 {
		t.Fatalf("side B's doc get exited %d", code)
	}
	// Side A's party added it: the share waits for side A to allow it.
	if code, out := med.run(t, "", "doc", "share", d.ID, "--case", k.ID, "--audience", "joint", "--yes"); code == 0 {
		t.Fatalf("doc share before side A allowed it: %d %s", code, out)
	}
	code, out = med.run(t, "", "doc", "ask", d.ID, "--case", k.ID, "--audience", "joint", "--json")
	var asked struct{ ID, Status string }
	if json.Unmarshal([]byte(out), &asked); code != 0 || asked.Status != "pending" {
		t.Fatalf("doc ask: %d %s", code, out)
	}
	if code, out := b.run(t, "", "doc", "answer", d.ID, asked.ID, "--case", k.ID, "--allow", "--yes"); code == 0 {
		t.Fatalf("side B allowed side A's share: %s", out)
	}
	if code, out := a.run(t, "", "doc", "answer", d.ID, asked.ID, "--case", k.ID, "--allow", "--yes"); code != 0 || !strings.Contains(out, "Allowed") {
		t.Fatalf("doc answer --allow: %d %s", code, out)
	}
	if code, out := med.run(t, "", "doc", "share", d.ID, "--case", k.ID, "--audience", "joint", "--yes"); code != 0 || !strings.Contains(out, "Shared") {
		t.Fatalf("doc share (re-wrap): %d %s", code, out)
	}
	if code, got, _ := get(b, d.ID, "b.pdf"); code != 0 || !bytes.Equal(got, content) {
		t.Fatalf("side B after the share: %d", code)
	}
	if code, out := med.run(t, "", "doc", "share", d.ID, "--case", k.ID, "--audience", "caucus:A", "--yes"); code != 0 {
		t.Fatalf("doc share (narrow): %d %s", code, out)
	}
	if code, _, _ := get(b, d.ID, "b.pdf"); code != 1 {
		t.Fatalf("side B after narrowing exited %d", code)
	}
	if code, out := med.run(t, "", "doc", "keys", "--case", k.ID); code != 0 || !strings.Contains(out, "Wrapped 0 ") {
		t.Fatalf("doc keys with nobody new: %d %s", code, out)
	}
	recAcct, recC := n.Staff(t, policy.RoleRecords, "cli-e2ee-records@example.org")
	rec := cliUser{t.TempDir(), recC, recAcct.ID}
	if code, out := rec.run(t, "", "doc", "hold", d.ID, "--case", k.ID, "--reason", "complaint 3", "--authority", "rule 4"); code != 0 || !strings.Contains(out, "under legal hold") {
		t.Fatalf("doc hold: %d %s", code, out)
	}
	if code, got, _ := get(a, d.ID, "a.pdf"); code != 0 || !bytes.Equal(got, content) {
		t.Fatalf("the held document: %d", code)
	}

	// Migration.
	legacy := filepath.Join(dir, "legacy.pdf")
	os.WriteFile(legacy, content[:70_000], 0o600)
	code, out = med.run(t, "", "doc", "put", legacy, "--case", k.ID, "--audience", "caucus:A", "--class", "evidence", "--json")
	var old api.Document
	if code != 0 || json.Unmarshal([]byte(out), &old) != nil || old.Versions[0].E2EE {
		t.Fatalf("doc put (server-encrypted): %d %s", code, out)
	}
	code, out = med.run(t, "", "doc", "upgrade", old.ID, "--case", k.ID)
	if code != 0 || !strings.Contains(out, "Upgraded 1 versions of 1 documents") {
		t.Fatalf("doc upgrade: %d %s", code, out)
	}
	if code, got, info := get(a, old.ID, "legacy-a.pdf"); code != 0 || !bytes.Equal(got, content[:70_000]) || info["e2ee"] != true {
		t.Fatalf("the upgraded document: %d %v", code, info)
	}
	// The held one is left as it is, and said so.
	code, out = med.run(t, "", "doc", "upgrade", "--case", k.ID)
	if code != 0 || !strings.Contains(out, "Upgraded 0 versions") {
		t.Fatalf("doc upgrade of everything: %d %s", code, out)
	}
}
