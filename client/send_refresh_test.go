package client_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestSendWithCachedStateWhenRefreshFails: a send after the chat has been
// idle fetches devices and the chain again first; when that fetch fails
// for want of the server (here a 503), the send goes out with the state
// the chat has verified instead of failing.
func TestSendWithCachedStateWhenRefreshFails(t *testing.T) {
	n := nodetest.Embedded(t)
	target, _ := url.Parse(n.URL)
	var failing atomic.Bool
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/e2ee/") {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	tc := seedE2EE(t, n, n.URL, proxy.URL)
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{StatementWait: 10 * time.Second})
	send(t, a, "caucus:A", "first")
	if got := expect(t, med, "caucus:A"); got.Text != "first" {
		t.Fatalf("mediator read %q", got.Text)
	}
	failing.Store(true)
	time.Sleep(3200 * time.Millisecond) // past sendRefresh
	send(t, a, "caucus:A", "while the refresh fails")
	if got := expect(t, med, "caucus:A"); got.Text != "while the refresh fails" {
		t.Fatalf("mediator read %q", got.Text)
	}
}
