package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/web"
)

// sessionStoreFailing is the node's real store, except that while
// failGet (failDelete) is set, reading (deleting) a session record fails
// as an unreachable store does.
type sessionStoreFailing struct {
	objstore.Store
	failGet, failDelete atomic.Bool
}

func isSessionKey(key string) bool { return strings.Contains(key, "sessions/") }

func (s *sessionStoreFailing) Get(ctx context.Context, key string, o objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if s.failGet.Load() && isSessionKey(key) {
		return nil, objstore.Info{}, fmt.Errorf("%w: s3 get %q: connection reset by peer", objstore.ErrUnavailable, key)
	}
	return s.Store.Get(ctx, key, o)
}

func (s *sessionStoreFailing) Delete(ctx context.Context, key, version string) error {
	if s.failDelete.Load() && isSessionKey(key) {
		return fmt.Errorf("%w: s3 delete %q: connection reset by peer", objstore.ErrUnavailable, key)
	}
	return s.Store.Delete(ctx, key, version)
}

// TestLogoutKeepsTheCookieWhenTheStoreFails: a browser's sign-out whose
// session the store cannot delete (or cannot even read, so the session is
// not resolved) is answered with the error and KEEPS the session cookie:
// the session lives on, so the page says it is not signed out yet, and its
// next try, with the cookie, ends it once the store answers. Clearing the
// cookie then (as an earlier change did) made that next try a 401 the page
// read as "signed out" while the session, and the browser's other tabs,
// lived on. A sign-out the store does take clears the cookie; one whose
// session has already ended clears the dead cookie; another origin's is
// refused and leaves the cookie alone, with or without a cookie sent.
func TestLogoutKeepsTheCookieWhenTheStoreFails(t *testing.T) {
	fs := &sessionStoreFailing{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fs.Store = s; return fs }})
	acct, _ := n.Staff(t, policy.RoleMediator, "logout-fails@browser.test")
	// logout signs out as the browser does: the session in its cookie,
	// from the page's own origin.
	logout := func(token string, origin string) (*http.Response, *http.Cookie) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, n.URL+"/api/v1/session", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		for _, c := range res.Cookies() {
			if c.Name == web.SessionCookie {
				return res, c
			}
		}
		return res, nil
	}
	for _, tc := range []struct {
		name string
		fail *atomic.Bool
	}{
		{"delete fails", &fs.failDelete},
		{"read fails", &fs.failGet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, _, err := n.Accounts.NewSession(t.Context(), acct)
			if err != nil {
				t.Fatal(err)
			}
			tc.fail.Store(true)
			res, c := logout(token, n.URL)
			tc.fail.Store(false)
			if res.StatusCode < 500 {
				t.Errorf("a sign-out the store could not take answered %d: want the error (5xx), so the page says it is not signed out", res.StatusCode)
			}
			if c != nil {
				t.Errorf("a sign-out the store could not take changed the session cookie (Set-Cookie %v): the session lives on, and the next try needs it", c)
			}
			// The session itself is still there (the store never deleted
			// it); a sign-out that reaches the store ends it.
			if _, _, err := n.Accounts.Authenticate(t.Context(), token); err != nil {
				t.Fatalf("the session after a failed sign-out: %v", err)
			}
			res, c = logout(token, n.URL)
			if res.StatusCode != http.StatusNoContent || c == nil || c.Value != "" || c.MaxAge >= 0 {
				t.Errorf("a sign-out the store took: %d, Set-Cookie %v; want 204 with the cookie expired", res.StatusCode, c)
			}
			if _, _, err := n.Accounts.Authenticate(t.Context(), token); err == nil {
				t.Error("the session is still valid after a sign-out the store took")
			}
			// Signing out again (another tab did it first): the session is
			// gone, the dead cookie is cleared.
			res, c = logout(token, n.URL)
			if res.StatusCode != http.StatusUnauthorized || c == nil || c.Value != "" || c.MaxAge >= 0 {
				t.Errorf("a sign-out of an ended session: %d, Set-Cookie %v; want 401 with the cookie expired", res.StatusCode, c)
			}
		})
	}
	// Another origin's sign-out (a same-site neighbour: SameSite sends it
	// the cookie) is refused and touches neither the session nor the cookie.
	token, _, err := n.Accounts.NewSession(t.Context(), acct)
	if err != nil {
		t.Fatal(err)
	}
	res, c := logout(token, "https://neighbour.example")
	if res.StatusCode != http.StatusForbidden || c != nil {
		t.Errorf("a cross-origin sign-out: %d, Set-Cookie %v; want 403 and the cookie left alone", res.StatusCode, c)
	}
	if _, _, err := n.Accounts.Authenticate(t.Context(), token); err != nil {
		t.Errorf("the session after a cross-origin sign-out: %v", err)
	}
	// Nor does another origin's sign-out that sends no cookie clear it.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, n.URL+"/api/v1/session", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://neighbour.example")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == web.SessionCookie {
			t.Errorf("a cookieless cross-origin sign-out set the session cookie: %v", c)
		}
	}
}
