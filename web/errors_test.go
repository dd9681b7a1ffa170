package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/web"
)

// rawPost sends body as-is and returns the status and decoded problem.
func rawPost(t *testing.T, url, token, body string, header map[string]string) (int, api.Problem, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p api.Problem
	if res.StatusCode >= 400 {
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("error answer has Content-Type %q, want application/problem+json", ct)
		}
		json.NewDecoder(res.Body).Decode(&p)
		if p.Status != res.StatusCode || p.Title == "" || !strings.HasPrefix(p.Type, "urn:parley:problem:") || p.RequestID == "" {
			t.Errorf("problem body incomplete: %+v", p)
		}
	}
	return res.StatusCode, p, res.Header
}

func apiErr(t *testing.T, err error) *client.Error {
	t.Helper()
	ce, ok := err.(*client.Error)
	if !ok {
		t.Fatalf("want *client.Error, got %v", err)
	}
	return ce
}

// TestErrorTable: one test per row of the table of wrong inputs.
func TestErrorTable(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	c, err := med.CreateCase(ctx, "Lee v. Park", "neighbour", "court", []string{"Lee", "Park"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("413 oversized body", func(t *testing.T) {
		big := `{"text":"` + strings.Repeat("x", web.MaxJSONBody) + `"}`
		status, p, _ := rawPost(t, n.URL+"/api/v1/cases/"+c.ID+"/objectives", med.Token, big, nil)
		if status != http.StatusRequestEntityTooLarge || p.Type != "urn:parley:problem:too-large" {
			t.Fatalf("got %d %+v", status, p)
		}
	})
	t.Run("413 oversized PDF to verify", func(t *testing.T) {
		big := strings.Repeat("x", agreement.MaxPDF+1)
		status, p, _ := rawPost(t, n.URL+"/api/v1/agreement-verify", med.Token, big, map[string]string{"Content-Type": "application/pdf"})
		if status != http.StatusRequestEntityTooLarge || p.Type != "urn:parley:problem:too-large" {
			t.Fatalf("got %d %+v", status, p)
		}
	})
	t.Run("400 malformed JSON names the problem", func(t *testing.T) {
		status, p, _ := rawPost(t, n.URL+"/api/v1/cases", med.Token, `{"title": "x", "sides": [`, nil)
		if status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != "body" {
			t.Fatalf("got %d %+v", status, p)
		}
	})
	t.Run("400 wrong type names the field", func(t *testing.T) {
		status, p, _ := rawPost(t, n.URL+"/api/v1/cases", med.Token, `{"title": 7, "type": "x", "sides": ["a","b"]}`, nil)
		if status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != "title" {
			t.Fatalf("got %d %+v", status, p)
		}
	})
	t.Run("400 unknown field names the field", func(t *testing.T) {
		status, p, _ := rawPost(t, n.URL+"/api/v1/cases", med.Token, `{"title": "t", "type": "x", "sides": ["a","b"], "colour": 1}`, nil)
		if status != http.StatusBadRequest || p.Errors[0].Field != "colour" {
			t.Fatalf("got %d %+v", status, p)
		}
	})
	t.Run("400 missing field names the field", func(t *testing.T) {
		_, err := med.CreateCase(ctx, "", "x", "", []string{"a", "b"})
		if e := apiErr(t, err); e.Status != 400 || e.Problem.Errors[0].Field != "title" {
			t.Fatalf("got %+v", e)
		}
	})
	t.Run("404 unknown case", func(t *testing.T) {
		_, err := med.Case(ctx, "c_aaaaaaaaaaaaaaaaaaaaaaaaaa")
		if e := apiErr(t, err); e.Status != http.StatusNotFound {
			t.Fatalf("got %+v", e)
		}
		_, err = med.Case(ctx, "not-an-id")
		if e := apiErr(t, err); e.Status != http.StatusNotFound {
			t.Fatalf("malformed id: got %+v", e)
		}
	})
	t.Run("403 wrong role", func(t *testing.T) {
		_, records := n.Staff(t, policy.RoleRecords, "records@example.org")
		_, err := records.Case(ctx, c.ID)
		if e := apiErr(t, err); e.Status != http.StatusForbidden {
			t.Fatalf("records reading case content: got %+v", e)
		}
		_, err = records.CreateCase(ctx, "t", "x", "", []string{"a", "b"})
		if e := apiErr(t, err); e.Status != http.StatusForbidden {
			t.Fatalf("records creating a case: got %+v", e)
		}
		if _, err := med.CreateAccount(ctx, "new@example.org", "New", "mediator", ""); apiErr(t, err).Status != http.StatusForbidden {
			t.Fatalf("mediator creating an account: %v", err)
		}
	})
	t.Run("410 reused and expired invites", func(t *testing.T) {
		inv, err := med.Invite(ctx, c.ID, "party", "A", "Lee", "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.New(n.URL, "").Join(ctx, inv.Link); err != nil {
			t.Fatal(err)
		}
		_, err = client.New(n.URL, "").Join(ctx, inv.Link)
		if e := apiErr(t, err); e.Status != http.StatusGone {
			t.Fatalf("reuse: got %+v", e)
		}
		_, err = client.New(n.URL, "").Join(ctx, "http://x/join#"+strings.Repeat("A", 43))
		if e := apiErr(t, err); e.Status != http.StatusGone {
			t.Fatalf("unknown token: got %+v", e)
		}
	})
	t.Run("429 too many logins", func(t *testing.T) {
		anon := client.New(n.URL, "")
		var last error
		for range n.Accounts.LoginLimitPerAccount + 1 {
			_, last = anon.Login(ctx, "med@example.org", "wrong password, wrong")
		}
		e := apiErr(t, last)
		if e.Status != http.StatusTooManyRequests {
			t.Fatalf("got %+v", e)
		}
		// Even the right password is refused from this address (it spent
		// its guesses on this account) while the window lasts.
		if _, err := anon.Login(ctx, "med@example.org", nodetest.Password); apiErr(t, err).Status != http.StatusTooManyRequests {
			t.Fatalf("right password during lockout: %v", err)
		}
	})
	t.Run("401 without a session", func(t *testing.T) {
		_, err := client.New(n.URL, "").Cases(ctx)
		if e := apiErr(t, err); e.Status != http.StatusUnauthorized {
			t.Fatalf("got %+v", e)
		}
	})
}

func TestRetryAfterHeader(t *testing.T) {
	n := nodetest.Embedded(t)
	var hdr http.Header
	var status int
	for range n.Accounts.LoginLimitPerAccount + 1 {
		status, _, hdr = rawPost(t, n.URL+"/api/v1/session", "", `{"email":"nobody@example.org","password":"x"}`, nil)
	}
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("status %d Retry-After %q", status, hdr.Get("Retry-After"))
	}
}

// TestCookieWritesNeedSameOrigin: a write carried by the session cookie
// from a foreign Origin is refused; the same write from our origin works.
func TestCookieWritesNeedSameOrigin(t *testing.T) {
	n := nodetest.Embedded(t)
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	body := `{"title":"t","type":"x","sides":["a","b"]}`
	cookie := map[string]string{"Cookie": web.SessionCookie + "=" + med.Token}
	withOrigin := func(o string) map[string]string {
		h := map[string]string{"Origin": o}
		for k, v := range cookie {
			h[k] = v
		}
		return h
	}
	if status, _, _ := rawPost(t, n.URL+"/api/v1/cases", "", body, withOrigin("https://evil.example")); status != http.StatusForbidden {
		t.Fatalf("foreign origin: %d", status)
	}
	if status, _, _ := rawPost(t, n.URL+"/api/v1/cases", "", body, cookie); status != http.StatusForbidden {
		t.Fatalf("no origin at all: %d", status)
	}
	// Same host, another scheme or port: another origin (issue 15 item 5).
	u, err := url.Parse(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"https://" + u.Host, "http://" + u.Hostname() + ":1", "ws://" + u.Host} {
		if status, _, _ := rawPost(t, n.URL+"/api/v1/cases", "", body, withOrigin(o)); status != http.StatusForbidden {
			t.Fatalf("origin %s on the http server %s: %d, want 403", o, n.URL, status)
		}
		if status, _, _ := rawPost(t, n.URL+"/api/v1/cases", "", body, map[string]string{"Cookie": cookie["Cookie"], "Referer": o + "/app"}); status != http.StatusForbidden {
			t.Fatalf("referer %s on the http server %s: %d, want 403", o, n.URL, status)
		}
	}
	if status, _, _ := rawPost(t, n.URL+"/api/v1/cases", "", body, withOrigin(n.URL)); status != http.StatusCreated {
		t.Fatalf("own origin: %d", status)
	}
	if status, _, _ := rawPost(t, n.URL+"/api/v1/cases", "", body, withOrigin("HTTP://"+strings.ToUpper(u.Host))); status != http.StatusCreated {
		t.Fatalf("own origin spelt in capitals: %d", status)
	}
}

func TestLogoutRevokes(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	stolen := client.New(n.URL, med.Token)
	if err := med.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := stolen.Me(ctx); apiErr(t, err).Status != http.StatusUnauthorized {
		t.Fatalf("token still works after logout: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSecretsInLogs drives sign-in, a case with canary text, an invite and
// its redemption, and some failures, then checks the server log holds none
// of the password, tokens or case text.
func TestNoSecretsInLogs(t *testing.T) {
	var logs syncBuffer
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	const canary = "CANARY-7f3a-confidential-title"
	c, err := med.CreateCase(ctx, canary, "family", "", []string{"A-" + canary, "B"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := med.CaseAction(ctx, c.ID, "disclosures", map[string]string{"text": canary}); err != nil {
		t.Fatal(err)
	}
	inv, err := med.Invite(ctx, c.ID, "party", "A", "Party "+canary, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	party := client.New(n.URL, "")
	if _, err := party.Join(ctx, inv.Link); err != nil {
		t.Fatal(err)
	}
	client.New(n.URL, "").Login(ctx, "med@example.org", "wrong-"+canary)
	med.Case(ctx, "c_"+strings.Repeat("a", 26))
	out := logs.String()
	if !strings.Contains(out, `"route"`) {
		t.Fatalf("no request log lines captured: %q", out)
	}
	for _, secret := range []string{nodetest.Password, med.Token, party.Token, inv.Token, canary} {
		if strings.Contains(out, secret) {
			t.Errorf("server log contains a secret or content: %q", secret)
		}
	}
}

// TestInvisibleNamesRefused: names made only of zero-width and other
// invisible characters are refused with a 400 naming the field, for people
// (accounts, invites), cases (title, side labels) and documents (issue 15
// item 5).
func TestInvisibleNamesRefused(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, admin := n.Staff(t, policy.RoleAdmin, "admin@example.org")
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	wantField := func(what string, err error, field string) {
		t.Helper()
		e := apiErr(t, err)
		if e.Status != http.StatusBadRequest || len(e.Problem.Errors) != 1 || e.Problem.Errors[0].Field != field {
			t.Fatalf("%s: got %+v, want 400 on %q", what, e, field)
		}
	}
	invisible := []string{"\u200b", "\u2060\ufeff", " \u200b\u200c\u200d ", "\u3164", "\u00ad\u0301"}
	for _, name := range invisible {
		_, err := admin.CreateAccount(ctx, "x@example.org", name, "mediator", "")
		wantField("account name "+strconv.Quote(name), err, "name")
		_, err = med.CreateCase(ctx, name, "family", "", []string{"A", "B"})
		wantField("case title "+strconv.Quote(name), err, "title")
		_, err = med.CreateCase(ctx, "Title", "family", "", []string{"A", name})
		wantField("side label "+strconv.Quote(name), err, "sides[1]")
	}
	c, err := med.CreateCase(ctx, "Invisible names", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range invisible {
		_, err := med.Invite(ctx, c.ID, "party", "A", name, "", time.Hour)
		wantField("invite name "+strconv.Quote(name), err, "name")
		_, err = med.UploadDocument(ctx, c.ID, client.Upload{Name: name, MediaType: "text/plain", Audience: "joint",
			Class: "evidence", Body: strings.NewReader("x"), Size: 1})
		wantField("document name "+strconv.Quote(name), err, "name")
	}
	// A name with one visible character among invisible ones is fine.
	if _, err := med.Invite(ctx, c.ID, "party", "A", "\u200bO", "", time.Hour); err != nil {
		t.Fatalf("visible name refused: %v", err)
	}
}
