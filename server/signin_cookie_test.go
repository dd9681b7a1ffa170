package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/web"
)

// post sends body to url with header, and answers the response (closed
// when the test ends).
func post(t *testing.T, url, body string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// sessionCookie is the session cookie res sets, or nil.
func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == web.SessionCookie {
			return c
		}
	}
	return nil
}

// TestChangePasswordCookieLastsToTheSessionCap: the cookie the answer to
// a password change sets lasts until the new session's absolute end (its
// cap, 30 days), as sign-in's does, not until its first idle end (7
// days): a browser in use keeps it.
func TestChangePasswordCookieLastsToTheSessionCap(t *testing.T) {
	n := nodetest.Embedded(t)
	_, c := n.Staff(t, policy.RoleAdmin, "cap@example.org")
	body, _ := json.Marshal(api.ChangePasswordRequest{CurrentPassword: nodetest.Password, NewPassword: "a fresh passphrase of mine"})
	res := post(t, n.URL+"/api/v1/me/password", string(body),
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + c.Token})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("change password: status %d", res.StatusCode)
	}
	var s api.SessionResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	_, sess, err := n.Accounts.Authenticate(t.Context(), s.Token)
	if err != nil {
		t.Fatal(err)
	}
	ck := sessionCookie(res)
	if ck == nil {
		t.Fatal("the answer sets no session cookie")
	}
	if !ck.Expires.Equal(sess.Cap.Truncate(time.Second)) {
		t.Fatalf("the cookie expires %s, want the session's cap %s (its idle end is %s)", ck.Expires, sess.Cap, sess.Expires)
	}
}

// TestSignInFromAnotherOriginIsRefused: sign-in and an invitation's
// redemption, which open a session and set its cookie outside
// requireSession, refuse a body that does not say it is JSON (another
// site's page sends one without a CORS preflight: a form, a fetch of a
// string or a Blob) and a request from another origin (Origin, or
// Referer when there is no Origin), even a same-site neighbour on another
// port; they set no cookie and the invitation stays unused. Our own page
// (our Origin) and the Go client (no Origin) still sign in.
func TestSignInFromAnotherOriginIsRefused(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := t.Context()
	const email = "origin@example.org"
	_, med := n.Staff(t, policy.RoleMediator, email)
	login, _ := json.Marshal(api.LoginRequest{Email: email, Password: nodetest.Password})
	sibling := strings.Replace(n.URL, "127.0.0.1", "localhost", 1)
	for _, tc := range []struct {
		name   string
		header map[string]string
	}{
		{"no Content-Type, foreign Origin", map[string]string{"Origin": "http://sibling.example.org"}},
		{"no Content-Type, no Origin", nil},
		{"text/plain, our Origin", map[string]string{"Origin": n.URL, "Content-Type": "text/plain"}},
		{"JSON, foreign Origin", map[string]string{"Origin": "http://sibling.example.org", "Content-Type": "application/json"}},
		{"JSON, another host of ours", map[string]string{"Origin": sibling, "Content-Type": "application/json"}},
		{"JSON, null Origin", map[string]string{"Origin": "null", "Content-Type": "application/json"}},
		{"JSON, foreign Referer", map[string]string{"Referer": "http://sibling.example.org/page", "Content-Type": "application/json"}},
	} {
		res := post(t, n.URL+"/api/v1/session", string(login), tc.header)
		if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("%s: status %d, want a refusal", tc.name, res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: answer's Content-Type %q, want a problem", tc.name, ct)
		}
		if ck := sessionCookie(res); ck != nil {
			t.Errorf("%s: a session cookie was set", tc.name)
		}
	}
	for _, h := range []map[string]string{{"Origin": n.URL}, {"Referer": n.URL + "/app"}, nil} {
		hh := map[string]string{"Content-Type": "application/json; charset=utf-8"}
		for k, v := range h {
			hh[k] = v
		}
		res := post(t, n.URL+"/api/v1/session", string(login), hh)
		if res.StatusCode != http.StatusOK || sessionCookie(res) == nil {
			t.Fatalf("sign-in with %v: status %d, cookie %v; want 200 with the cookie", h, res.StatusCode, sessionCookie(res))
		}
	}

	c, err := med.CreateCase(ctx, "Origins", "family", "", []string{"Parent 1", "Parent 2"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := med.Invite(ctx, c.ID, "party", "A", "Ada", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	redeem, _ := json.Marshal(api.RedeemRequest{Token: inv.Token})
	for name, h := range map[string]map[string]string{
		"no Content-Type":   {"Origin": n.URL},
		"a foreign Origin":  {"Origin": "http://sibling.example.org", "Content-Type": "application/json"},
		"a foreign Referer": {"Referer": "http://sibling.example.org/", "Content-Type": "application/json"},
	} {
		res := post(t, n.URL+"/api/v1/invites/redeem", string(redeem), h)
		if res.StatusCode < 400 || sessionCookie(res) != nil {
			t.Errorf("redeeming with %s: status %d, cookie %v; want a refusal and none", name, res.StatusCode, sessionCookie(res))
		}
	}
	// The refusals left the invitation unused: the Go client joins with it.
	if _, err := client.New(n.URL, "").Join(ctx, inv.Link); err != nil {
		t.Fatalf("the Go client joining: %v", err)
	}
}

// TestBrowserAnswersCarryNoToken: sign-in, redemption and a password
// change answer the session token in the body only to a request without
// our Origin (the Go client, the CLI, which carry it as a bearer); to our
// own page (our Origin) the body holds none, and the HttpOnly cookie
// alone carries the session, which works.
func TestBrowserAnswersCarryNoToken(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := t.Context()
	const email = "notoken@example.org"
	_, med := n.Staff(t, policy.RoleMediator, email)
	page := map[string]string{"Origin": n.URL, "Content-Type": "application/json"}
	// noToken reads res's body and fails if it holds a "token" field, or
	// if res set no cookie; it answers the cookie.
	noToken := func(what string, res *http.Response) *http.Cookie {
		t.Helper()
		var body map[string]any
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d, %v", what, res.StatusCode, err)
		}
		if _, ok := body["token"]; ok {
			t.Fatalf("%s from our own page: the body holds the session token", what)
		}
		ck := sessionCookie(res)
		if ck == nil {
			t.Fatalf("%s: no session cookie", what)
		}
		return ck
	}
	login, _ := json.Marshal(api.LoginRequest{Email: email, Password: nodetest.Password})
	ck := noToken("sign-in", post(t, n.URL+"/api/v1/session", string(login), page))

	// The cookie alone carries the session: the page changes the password.
	change, _ := json.Marshal(api.ChangePasswordRequest{CurrentPassword: nodetest.Password, NewPassword: "the mediator's own phrase"})
	withCookie := map[string]string{"Origin": n.URL, "Content-Type": "application/json", "Cookie": ck.Name + "=" + ck.Value}
	noToken("password change", post(t, n.URL+"/api/v1/me/password", string(change), withCookie))

	c, err := med.Login(ctx, email, "the mediator's own phrase")
	if err != nil || c.Token == "" {
		t.Fatalf("the Go client's sign-in: token %q, %v; want one", c.Token, err)
	}
	k, err := med.CreateCase(ctx, "Tokens", "family", "", []string{"Parent 1", "Parent 2"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := med.Invite(ctx, k.ID, "party", "A", "Ada", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	redeem, _ := json.Marshal(api.RedeemRequest{Token: inv.Token})
	noToken("redemption", post(t, n.URL+"/api/v1/invites/redeem", string(redeem), page))

	inv2, err := med.Invite(ctx, k.ID, "party", "B", "Bo", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	party := client.New(n.URL, "")
	if s, err := party.Join(ctx, inv2.Link); err != nil || s.Token == "" {
		t.Fatalf("the Go client's redemption: token %q, %v; want one", s.Token, err)
	}
	if _, err := party.Me(ctx); err != nil {
		t.Fatalf("the Go client's token: %v", err)
	}
}

// startHTTPS starts a node whose public URL is https (as behind a load
// balancer that ends TLS), served over plain http on a free loopback
// port, and answers its address (http://…) and public URL.
func startHTTPS(t *testing.T) (n *server.Node, addr, public string) {
	t.Helper()
	node, public := nodetest.StartPublicHTTPS(t, server.Config{DataDir: t.TempDir()})
	return node.Node, node.URL, public
}

// TestHTTPSSessionCookieIsHostOnly: on an https deployment the session
// cookie is __Host-parley_session (Secure, Path=/, no Domain), which a
// page on a sibling subdomain can neither set nor overwrite; a
// parley_session cookie (a neighbour's toss, or one left by an earlier
// release, which sign-in expires) opens nothing. A plain-http deployment
// keeps parley_session (TestSignInFromAnotherOriginIsRefused and the
// browser tests use it).
func TestHTTPSSessionCookieIsHostOnly(t *testing.T) {
	n, addr, public := startHTTPS(t)
	const email = "host@example.org"
	if _, err := n.Accounts.Create(t.Context(), account.NewAccount{Email: email, Name: "Hana Host", Role: policy.RoleAdmin, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	login, _ := json.Marshal(api.LoginRequest{Email: email, Password: nodetest.Password})
	res := post(t, addr+"/api/v1/session", string(login), map[string]string{"Origin": public, "Content-Type": "application/json"})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: status %d", res.StatusCode)
	}
	var host *http.Cookie
	oldExpired := false
	for _, c := range res.Cookies() {
		switch c.Name {
		case web.SecureSessionCookie:
			host = c
		case web.SessionCookie:
			oldExpired = c.MaxAge < 0
		}
	}
	if host == nil || !host.Secure || host.Path != "/" || host.Domain != "" || !host.HttpOnly || host.SameSite != http.SameSiteStrictMode {
		t.Fatalf("the session cookie: %+v; want __Host-parley_session, Secure, HttpOnly, SameSite=Strict, Path=/, no Domain", host)
	}
	if !oldExpired {
		t.Fatalf("sign-in did not expire an old parley_session cookie: %v", res.Header.Values("Set-Cookie"))
	}
	me := func(cookie string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, addr+"/api/v1/me", nil)
		req.Header.Set("Cookie", cookie)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := me(web.SecureSessionCookie + "=" + host.Value); got != http.StatusOK {
		t.Fatalf("the __Host- cookie: status %d, want 200", got)
	}
	if got := me(web.SessionCookie + "=" + host.Value); got != http.StatusUnauthorized {
		t.Fatalf("the same token in parley_session: status %d, want 401", got)
	}
	// Signing out expires the __Host- cookie.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, addr+"/api/v1/session", nil)
	req.Header.Set("Cookie", web.SecureSessionCookie+"="+host.Value)
	req.Header.Set("Origin", public)
	out, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	cleared := false
	for _, c := range out.Cookies() {
		cleared = cleared || (c.Name == web.SecureSessionCookie && c.MaxAge < 0 && c.Secure)
	}
	if out.StatusCode != http.StatusNoContent || !cleared {
		t.Fatalf("sign-out: status %d, cookies %v", out.StatusCode, out.Header.Values("Set-Cookie"))
	}
}

// TestHTTPSOldSessionCookieEndsItsSession: on an https deployment a
// browser may still hold a parley_session cookie from the release before
// the __Host- name. Nothing reads it, but its session would live on the
// server until its idle end or cap, its token a working bearer token (a
// copied browser profile; a rollback). Sign-in and sign-out (also a
// sign-out whose own session has already ended) end that session on the
// server, and sign-out expires that cookie too.
func TestHTTPSOldSessionCookieEndsItsSession(t *testing.T) {
	n, addr, public := startHTTPS(t)
	const email = "old@example.org"
	if _, err := n.Accounts.Create(t.Context(), account.NewAccount{Email: email, Name: "Olga Old", Role: policy.RoleAdmin, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	// oldToken signs in as the earlier release's page did (its token was
	// the parley_session cookie's value).
	oldToken := func() *client.Client {
		c := client.New(addr, "")
		if _, err := c.Login(t.Context(), email, nodetest.Password); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Me(t.Context()); err != nil {
			t.Fatalf("an old-release token before: %v", err)
		}
		return c
	}
	ended := func(what string, c *client.Client) {
		t.Helper()
		var e *client.Error
		if _, err := c.Me(t.Context()); !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
			t.Fatalf("%s: the old parley_session token still opens its session: %v; want 401", what, err)
		}
	}
	expires := func(res *http.Response, name string) bool {
		for _, c := range res.Cookies() {
			if c.Name == name && c.MaxAge < 0 {
				return true
			}
		}
		return false
	}
	signOut := func(cookie string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, addr+"/api/v1/session", nil)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Origin", public)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}

	// Sign-in carrying the old cookie ends its session.
	old := oldToken()
	login, _ := json.Marshal(api.LoginRequest{Email: email, Password: nodetest.Password})
	res := post(t, addr+"/api/v1/session", string(login), map[string]string{"Origin": public, "Content-Type": "application/json",
		"Cookie": web.SessionCookie + "=" + old.Token})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: status %d", res.StatusCode)
	}
	ended("after sign-in", old)
	var host string
	for _, c := range res.Cookies() {
		if c.Name == web.SecureSessionCookie {
			host = c.Value
		}
	}

	// Sign-out with both cookies ends both sessions and expires both.
	old = oldToken()
	out := signOut(web.SecureSessionCookie + "=" + host + "; " + web.SessionCookie + "=" + old.Token)
	if out.StatusCode != http.StatusNoContent || !expires(out, web.SecureSessionCookie) || !expires(out, web.SessionCookie) {
		t.Fatalf("sign-out: status %d, cookies %v; want 204, both expired", out.StatusCode, out.Header.Values("Set-Cookie"))
	}
	ended("after sign-out", old)

	// A sign-out whose own session has already ended (the dead cookie's
	// clear) does the same.
	old = oldToken()
	out = signOut(web.SecureSessionCookie + "=" + host + "; " + web.SessionCookie + "=" + old.Token)
	if out.StatusCode != http.StatusUnauthorized || !expires(out, web.SecureSessionCookie) || !expires(out, web.SessionCookie) {
		t.Fatalf("sign-out of an ended session: status %d, cookies %v; want 401, both expired", out.StatusCode, out.Header.Values("Set-Cookie"))
	}
	ended("after the dead cookie's clear", old)

	// Two such cookies (a sibling subdomain's, with a longer path, sent
	// first): a sign-in ends both sessions.
	first, second := oldToken(), oldToken()
	res = post(t, addr+"/api/v1/session", string(login), map[string]string{"Origin": public, "Content-Type": "application/json",
		"Cookie": web.SessionCookie + "=" + first.Token + "; " + web.SessionCookie + "=" + second.Token})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sign-in with two old cookies: status %d", res.StatusCode)
	}
	ended("the first of two old cookies, after sign-in", first)
	ended("the second of two old cookies, after sign-in", second)
}
