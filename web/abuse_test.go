package web_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
	"github.com/parley-mediation/parley/web"
)

// TestTenThousandFailedLogins: a guessing run is refused throughout,
// costs at most a handful of password hashes, leaves no session behind,
// and does not lock the real user out past the window.
func TestTenThousandFailedLogins(t *testing.T) {
	n := nodetest.Embedded(t)
	// Windows of 3 s: each lets 10 wrong passwords reach the password
	// hash, which internal/nodetest makes cheap in tests (at the
	// production cost under -race, a loaded machine hashed them slower
	// than a short window passed, and every attempt reached a hash). The
	// bound checked below counts the windows that passed, and the real
	// user waits out one window at the end.
	n.Accounts.LoginWindow = 3 * time.Second
	n.Staff(t, policy.RoleMediator, "target@example.org")
	sessionsBefore := countObjects(t, n.Store, "sessions/")

	const attempts, workers = 10000, 8
	// One kept-alive connection per worker, its responses read to the end
	// so that it is reused: a new connection per attempt (the default
	// client keeps two idle ones per host, and an unread body closes its
	// connection) cost a dial, an accept and a close on each of the 10,000
	// attempts, most of this test's CPU. The limits count per account and
	// per client address (the host, not the port): the same either way.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer hc.CloseIdleConnections()
	var ok, limited, wrong, other atomic.Int64
	var wg sync.WaitGroup
	var next atomic.Int64
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= attempts {
				res, err := hc.Post(n.URL+"/api/v1/session", "application/json",
					strings.NewReader(`{"email":"target@example.org","password":"guess-guess-guess"}`))
				if err != nil {
					other.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				switch res.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				case http.StatusUnauthorized:
					wrong.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d failed logins in %s: %d refused as wrong, %d rate limited", attempts, time.Since(start).Round(time.Millisecond), wrong.Load(), limited.Load())
	if ok.Load() != 0 || other.Load() != 0 {
		t.Fatalf("%d succeeded, %d failed oddly", ok.Load(), other.Load())
	}
	// Only attempts inside a window reach the password check: 10 per
	// account per window.
	maxWindows := int64(time.Since(start)/n.Accounts.LoginWindow) + 1
	if wrong.Load() > int64(n.Accounts.LoginLimitPerAccount)*maxWindows {
		t.Fatalf("%d attempts reached the password check in %d windows", wrong.Load(), maxWindows)
	}
	if got := countObjects(t, n.Store, "sessions/"); got != sessionsBefore {
		t.Fatalf("failed logins left %d session objects (before: %d)", got, sessionsBefore)
	}
	time.Sleep(n.Accounts.LoginWindow + 100*time.Millisecond)
	if _, err := client.New(n.URL, "").Login(context.Background(), "target@example.org", nodetest.Password); err != nil {
		t.Fatalf("the real user is still locked out after the window: %v", err)
	}
}

func countObjects(t *testing.T, s objstore.Store, prefix string) int {
	n := 0
	if err := s.List(context.Background(), prefix, func(objstore.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDocumentNameTricks: names that are paths, hide characters or are
// too long are refused with a field-level 400 before anything is stored.
func TestDocumentNameTricks(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := t.Context()
	_, med := n.Staff(t, policy.RoleMediator, "names@example.org")
	c, err := med.CreateCase(ctx, "Names", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	objectsBefore := countObjectsExcept(t, n.Store, "audit/")
	for label, name := range map[string]string{
		"parent path":        "../../etc/passwd",
		"absolute path":      "/etc/passwd",
		"dot-dot":            "..",
		"NUL":                "report\x00.pdf",
		"newline":            "report\n.pdf",
		"RTL override":       "invoice\u202Efdp.exe",
		"RTL isolate":        "invoice\u2067fdp.exe",
		"very long":          strings.Repeat("a", vault.MaxNameLen+1),
		"invalid UTF-8":      "report\xff.pdf",
		"only spaces (NBSP)": "\u00a0 ",
	} {
		_, err := med.UploadDocument(ctx, c.ID, client.Upload{Name: name, Audience: "joint", Class: "evidence",
			Body: strings.NewReader("content"), Size: 7})
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest || len(ce.Problem.Errors) == 0 {
			t.Errorf("%s: %v, want a 400 problem", label, err)
			continue
		}
		if f := ce.Problem.Errors[0].Field; f != "name" && f != api.DocumentNameHeader {
			t.Errorf("%s: refusal names field %q", label, f)
		}
	}
	docs, err := med.Documents(ctx, c.ID)
	if err != nil || len(docs) != 0 {
		t.Fatalf("documents after refused uploads: %v %v", docs, err)
	}
	// No document object, key or record is left (the audit log aside).
	if got := countObjectsExcept(t, n.Store, "audit/"); got != objectsBefore {
		t.Fatalf("refused uploads left objects: %d, before %d", got, objectsBefore)
	}
	// A plain name with unicode letters still works.
	if _, err := med.UploadDocument(ctx, c.ID, client.Upload{Name: "Überweisung – März.pdf", Audience: "joint", Class: "evidence",
		Body: strings.NewReader("content"), Size: 7}); err != nil {
		t.Fatalf("ordinary unicode name refused: %v", err)
	}
}

func countObjectsExcept(t *testing.T, s objstore.Store, prefix string) int {
	return len(keysExcept(t, s, prefix))
}

// keysExcept lists the store's keys outside prefix.
func keysExcept(t *testing.T, s objstore.Store, prefix string) map[string]bool {
	keys := map[string]bool{}
	if err := s.List(context.Background(), "", func(i objstore.Info) error {
		if !strings.HasPrefix(i.Key, prefix) {
			keys[i.Key] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestCSRFEveryWriteRoute: every state-changing route of the live router,
// called with the session cookie from a foreign Origin (or with no Origin
// or Referer at all), is refused with 403 and changes nothing.
func TestCSRFEveryWriteRoute(t *testing.T) {
	k := newIsolationCast(t)
	n := k.node
	before := keysExcept(t, n.Store, "audit/")
	checked := 0
	for _, r := range allRoutes(t, n) {
		if r.method == http.MethodGet || r.method == http.MethodHead || r.method == http.MethodOptions {
			continue
		}
		path, _ := k.fill(r.pattern)
		for _, origin := range []string{"https://evil.example", ""} {
			req := k.request(t, r, path, "")
			req.Header.Del("Authorization")
			req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: k.as["mediator"].Token})
			if origin != "" {
				req.Header.Set("Origin", origin)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			checked++
			// The routes that need no session (sign-in, asking for an
			// emailed sign-in link, invite redemption, survey and check-in
			// answers) take their credential from the body, not a cookie: a
			// forged one has nothing to ride on. They must not succeed on
			// the cookie alone either.
			public := r.pattern == "/api/v1/session" && r.method == http.MethodPost || r.pattern == "/api/v1/session/link" ||
				r.pattern == "/api/v1/invites/redeem" || r.pattern == "/api/v1/surveys/responses" || r.pattern == "/api/v1/checkins"
			switch {
			case public && res.StatusCode < 400:
				t.Errorf("%s %s with a forged cookie request: %d", r.method, r.pattern, res.StatusCode)
			case !public && res.StatusCode != http.StatusForbidden:
				t.Errorf("%s %s from origin %q with the cookie: %d, want 403", r.method, r.pattern, origin, res.StatusCode)
			}
		}
	}
	after := keysExcept(t, n.Store, "audit/")
	// The messaging engine moves the set-up's committed batches from the
	// journal into history segments at its own pace (compaction), which
	// adds and removes keys meanwhile; no HTTP route posts to a room (the
	// WebSocket's handshake has its own Origin check).
	engine := regexp.MustCompile(`^(journal/|rooms/[^/]+/[^/]+/e[0-9]+/[0-9]+$)`)
	var added, gone []string
	for k := range after {
		if engine.MatchString(k) {
			continue
		}
		if !before[k] {
			added = append(added, k)
		}
	}
	for k := range before {
		if engine.MatchString(k) {
			continue
		}
		if !after[k] {
			gone = append(gone, k)
		}
	}
	if len(added)+len(gone) > 0 {
		t.Fatalf("cross-site writes changed the store: added %q, removed %q", added, gone)
	}
	if _, err := k.as["mediator"].Me(t.Context()); err != nil {
		t.Fatalf("the session was signed out by a cross-site DELETE: %v", err)
	}
	t.Logf("%d cross-site write attempts refused", checked)
}
