package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
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
