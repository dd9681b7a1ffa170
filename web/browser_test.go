package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
	"github.com/parley-mediation/parley/server"
)

// The browser client's end-to-end tests run in real Chromium (Debian's
// package) driven by playwright-core under node: web/client/test/e2e.mjs.
// This test starts the node, seeds a case through the Go API, keeps a Go
// client (side A's lawyer) in caucus A, and answers the script's requests
// on its stdin: restart the server, send or expect a message in the Go
// client. The script fails on the first broken expectation.

// requireServices: under make test a missing node or chromium fails.
func requireServices(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("PARLEY_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is required (PARLEY_TEST_REQUIRE_SERVICES=1)", what)
	}
	t.Skipf("%s not available; make test installs it", what)
}

func chromiumPath() string {
	if p := os.Getenv("PARLEY_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// restartable is a node on a fixed loopback address and data directory
// that can be stopped and started again (the reconnect test).
type restartable struct {
	t      *testing.T
	cfg    server.Config
	mu     sync.Mutex
	node   *server.Node
	cancel context.CancelFunc
	done   chan error
}

func (r *restartable) start() {
	r.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old listener's port may take a moment to free
		if ln, err = net.Listen("tcp", r.cfg.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := server.Open(ctx, r.cfg)
	if err != nil {
		cancel()
		r.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ln) }()
	r.mu.Lock()
	r.node, r.cancel, r.done = n, cancel, done
	r.mu.Unlock()
}

func (r *restartable) stop() {
	r.mu.Lock()
	n, cancel, done := r.node, r.cancel, r.done
	r.node = nil
	r.mu.Unlock()
	if n == nil {
		return
	}
	cancel()
	if err := <-done; err != nil {
		r.t.Errorf("serve: %v", err)
	}
	n.Close()
}

// TestBrowserVectors runs the browser's protocol code (web/client/src,
// built by make web into web/client/build) against e2ee/testdata/vectors.json
// under node: the same vectors TestVectors checks in Go.
func TestBrowserVectors(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		requireServices(t, "node")
	}
	clientDir, _ := filepath.Abs("client")
	if _, err := os.Stat(filepath.Join(clientDir, "build", "e2ee.mjs")); err != nil {
		t.Fatal("web/client/build is missing: run `make web`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "test/vectors.mjs")
	cmd.Dir = clientDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vectors under node: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "checks passed") {
		t.Fatalf("vectors under node said: %s", out)
	}
	t.Log(strings.TrimSpace(string(out)))
}

func TestBrowserClient(t *testing.T) {
	nodeBin, clientDir := needBrowser(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := &restartable{t: t, cfg: server.Config{DataDir: t.TempDir(), Addr: addr, PublicURL: "http://" + addr,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}}
	srv.start()
	t.Cleanup(srv.stop)
	base := srv.cfg.PublicURL

	ctx := context.Background()
	srv.mu.Lock()
	n := &nodetest.Node{Node: srv.node, URL: base}
	srv.mu.Unlock()
	medEmail := "mediator@browser.test"
	if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: medEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	recordsEmail := "records@browser.test"
	if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: recordsEmail, Name: "Robin Archer", Role: policy.RoleRecords, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	adminEmail := "admin@browser.test"
	if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: adminEmail, Name: "Avery Admin", Role: policy.RoleAdmin, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	medC := client.New(base, "")
	if _, err := medC.Login(ctx, medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	k, err := medC.CreateCase(ctx, "Rivera v. Chen — lease dispute", "landlord-tenant", "court", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	invite := func(role, side, name string) string {
		inv, err := medC.Invite(ctx, k.ID, role, side, name, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return inv.Link
	}
	// Side A's lawyer uses the Go client: the browser and Go speak one protocol.
	lawyer := client.New(base, "")
	s, err := lawyer.Join(ctx, invite("counsel", "A", "Jordan Blake"))
	if err != nil {
		t.Fatal(err)
	}
	lawyerDir := t.TempDir()
	if _, err := client.InitDevice(lawyerDir, s.Account.ID, e2ee.KEMXWing); err != nil {
		t.Fatal(err)
	}
	lx, err := lawyer.E2EE(lawyerDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := lx.Register(ctx); err != nil {
		t.Fatal(err)
	}
	partyA := invite("party", "A", "Alex Rivera") // party B is invited from the mediator's browser
	programRecusesCoMediator(t, n, medC, k.ID, adminEmail, recordsEmail)
	oldCase := seedClosedCase(t, n, recordsEmail)

	// The test takes the screenshots every run (and checks they were
	// written); they replace the ones in docs/ only when asked, so a test
	// run leaves the work tree as it found it:
	//   PARLEY_UPDATE_SCREENSHOTS=1 go test -run TestBrowserClient ./web/
	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/e2e.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+base, "PARLEY_MEDIATOR_EMAIL="+medEmail, "PARLEY_RECORDS_EMAIL="+recordsEmail, "PARLEY_ADMIN_EMAIL="+adminEmail, "PARLEY_OLD_CASE="+oldCase, "PARLEY_PASSWORD="+nodetest.Password,
		"PARLEY_INVITE_A="+partyA, "PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+shots)
	cmd.Stderr = &testWriter{t: t, prefix: "e2e: "}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var chat *client.SecureChat
	defer func() {
		if chat != nil {
			chat.Close()
		}
	}()
	reply := func(format string, a ...any) { fmt.Fprintf(stdin, format+"\n", a...) }
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		verb, arg, _ := strings.Cut(strings.TrimPrefix(line, "ask "), " ")
		if !strings.HasPrefix(line, "ask ") {
			t.Log("e2e: " + line)
			continue
		}
		switch verb {
		case "go-open":
			octx, ocancel := context.WithTimeout(ctx, 30*time.Second)
			chat, err = lx.OpenSecureChat(octx, k.ID, client.SecureOptions{Rooms: []string{"caucus:A"}})
			ocancel()
			if err != nil {
				reply("fail %v", err)
				continue
			}
			reply("ok")
		case "go-send":
			sctx, scancel := context.WithTimeout(ctx, 40*time.Second)
			_, err := chat.Send(sctx, "caucus:A", arg)
			scancel()
			if err != nil {
				reply("fail %v", err)
				continue
			}
			reply("ok")
		case "go-expect":
			reply("%s", goExpect(chat, arg))
		case "restart":
			srv.stop()
			srv.start()
			reply("ok")
		case "restart-revoke":
			// A phone asleep while its person's sessions end: the server
			// restarts (every socket drops) and the sessions of the party
			// of side arg are revoked before the page reconnects.
			srv.stop()
			srv.start()
			reply("%s", revokeParty(ctx, base, medC, adminEmail, k.ID, arg))
		default:
			reply("fail unknown request %q", verb)
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the browser end-to-end script failed: %v", err)
	}
	for _, name := range []string{"party-caucus.png", "mediator-caucus.png", "party-phone.png", "records-disposal.png", "party-signed-out-phone.png", "invite-form.png", "invite-form-phone.png"} {
		b, err := os.ReadFile(filepath.Join(shots, name))
		if err != nil || len(b) < 10<<10 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("screenshot %s was not taken (%d bytes): %v", name, len(b), err)
		}
	}
}

// revokeParty has the program's administrator revoke every session of the
// party of side in caseID, through the API (as for a lost phone), and
// answers "ok" or why not.
func revokeParty(ctx context.Context, base string, medC *client.Client, adminEmail, caseID, side string) string {
	c, err := medC.Case(ctx, caseID)
	if err != nil {
		return "fail " + err.Error()
	}
	admin := client.New(base, "")
	if _, err := admin.Login(ctx, adminEmail, nodetest.Password); err != nil {
		return "fail " + err.Error()
	}
	for _, p := range c.Participants {
		if p.Role == api.RoleParty && p.Side == side {
			if err := admin.RevokeSessions(ctx, p.AccountID); err != nil {
				return "fail " + err.Error()
			}
			return "ok"
		}
	}
	return "fail no party on side " + side
}

// programRecusesCoMediator adds a co-mediator to the case, and the program
// recuses them: the administrator proposes, records staff approve. The
// parties' browsers show the notice.
func programRecusesCoMediator(t *testing.T, n *nodetest.Node, medC *client.Client, caseID, adminEmail, recordsEmail string) {
	t.Helper()
	ctx := context.Background()
	co, err := n.Accounts.Create(ctx, account.NewAccount{Email: "casey@browser.test", Name: "Casey Cole", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := medC.CaseAction(ctx, caseID, "mediators", map[string]string{"accountId": co.ID}); err != nil {
		t.Fatal(err)
	}
	staff := map[string]*client.Client{}
	for _, email := range []string{adminEmail, recordsEmail} {
		staff[email] = client.New(n.URL, "")
		if _, err := staff[email].Login(ctx, email, nodetest.Password); err != nil {
			t.Fatal(err)
		}
	}
	var p api.Proposal
	if err := staff[adminEmail].Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/recusal-proposals",
		api.RecusalProposalRequest{MediatorID: co.ID, Reason: "Casey has moved to another program."}, &p); err != nil {
		t.Fatal(err)
	}
	if err := staff[recordsEmail].Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/proposals/"+p.ID+"/approve", api.ProposalDecisionRequest{}, nil); err != nil {
		t.Fatal(err)
	}
}

// seedClosedCase makes a closed case whose mediator notes are due for
// disposal at once (the records user sets that class's period to 0 days),
// one of them under a legal hold, for the browser's disposition test.
func seedClosedCase(t *testing.T, n *nodetest.Node, recordsEmail string) string {
	t.Helper()
	ctx := context.Background()
	// Another mediator's case: the browser's mediator keeps one case.
	if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: "former@browser.test", Name: "Casey Former", Role: policy.RoleMediator, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	med := client.New(n.URL, "")
	if _, err := med.Login(ctx, "former@browser.test", nodetest.Password); err != nil {
		t.Fatal(err)
	}
	k, err := med.CreateCase(ctx, "Old closed case", "family", "court", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, name := range []string{"notes-1.txt", "notes-2.txt"} {
		d, err := med.UploadDocument(ctx, k.ID, client.Upload{Name: name, MediaType: "text/plain", Audience: "mediators",
			Class: "mediator-notes", Body: strings.NewReader("CANARY old notes"), Size: 16})
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d.ID)
	}
	if _, err := med.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	rec := client.New(n.URL, "")
	if _, err := rec.Login(ctx, recordsEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	_, rec2 := n.Staff(t, policy.RoleRecords, "second-records@browser.test")
	setRuleApproved(t, rec, rec2, "mediator-notes", "case-closed", "0d")
	if _, err := rec.PlaceHold(ctx, retention.NewHold{Case: k.ID, Doc: docs[1], Reason: "Complaint received", Authority: "Program rule 12"}); err != nil {
		t.Fatal(err)
	}
	return k.ID
}

// goExpect waits (bounded) for text to arrive, decrypted, in the Go client.
func goExpect(chat *client.SecureChat, text string) string {
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-chat.Events():
			if !ok {
				return "fail the Go client's chat closed"
			}
			if ev.Rejected != nil {
				return fmt.Sprintf("fail the Go client refused a payload: %v", ev.Rejected)
			}
			if ev.Text == text {
				return "ok"
			}
		case <-deadline:
			return "fail the Go client did not receive " + text
		}
	}
}

type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(p), nil
}

// TestAppServed: /app and /join serve the client page, whose bundle is
// served from the embedded static/dist, under the strict CSP.
func TestAppServed(t *testing.T) {
	n := nodetest.Embedded(t)
	get := func(path string) (int, string, http.Header) {
		res, err := http.Get(n.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	for _, p := range []string{"/app", "/join"} {
		code, body, h := get(p)
		if code != 200 || !strings.Contains(body, `src="/static/dist/app.js"`) || strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") {
			t.Fatalf("%s: %d %q %q", p, code, body, h.Get("Content-Security-Policy"))
		}
	}
	if code, _, h := get("/static/dist/app.js"); code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") {
		t.Fatalf("bundle: %d %s", code, h.Get("Content-Type"))
	}
	for _, p := range []string{"/static/dist/README.md", "/static/dist/..%2fapp.html", "/static/dist/nope.js"} {
		if code, _, _ := get(p); code != 404 {
			t.Fatalf("%s: %d, want 404", p, code)
		}
	}
}

// inviteAda invites party A of the tenancy case, Ada Okafor, for an hour.
func inviteAda(t *testing.T, med *client.Client, k api.Case) api.InviteResponse {
	t.Helper()
	inv, err := med.Invite(context.Background(), k.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// tenancyCase makes the mediator most browser tests start from (Morgan
// Reyes, a fresh address, signed in through the Go client) and the case
// they run ("Okafor v. Lindqvist — deposit", sides Tenant and Landlord).
func tenancyCase(t *testing.T, n *nodetest.Node) (email string, acct account.Account, med *client.Client, k api.Case) {
	t.Helper()
	ctx := context.Background()
	email = "mediator-" + ids.New("x")[2:10] + "@browser.test"
	acct, err := n.Accounts.Create(ctx, account.NewAccount{Email: email, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	med = client.New(n.URL, "")
	if _, err := med.Login(ctx, email, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	if k, err = med.CreateCase(ctx, "Okafor v. Lindqvist — deposit", "tenancy", "court", []string{"Tenant", "Landlord"}); err != nil {
		t.Fatal(err)
	}
	return email, acct, med, k
}
