package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestSendWithCachedStateWhenRefreshFails: a send after the chat has been
// idle fetches devices and the chain again first; when that fetch fails
// for want of the server (here a 503), the send goes out with the state
// the chat has verified instead of failing.
func TestSendWithCachedStateWhenRefreshFails(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	target, _ := url.Parse(n.URL)
	var failing atomic.Bool
	var refused atomic.Int32
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/e2ee/") {
			refused.Add(1)
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
	client.AdvanceRefreshClockForTest(a, client.SendRefreshForTest+200*time.Millisecond)
	send(t, a, "caucus:A", "while the refresh fails")
	if refused.Load() == 0 {
		t.Fatal("the send past the refresh interval fetched nothing again: the test proves nothing")
	}
	if got := expect(t, med, "caucus:A"); got.Text != "while the refresh fails" {
		t.Fatalf("mediator read %q", got.Text)
	}

	// This device has meanwhile verified a later statement (another of
	// its processes saw a change, a removal say): the server's silence
	// must not make this chat send to the older membership.
	path := filepath.Join(tc.a.dir, "statements.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pins map[string]map[string]any
	if err := json.Unmarshal(b, &pins); err != nil {
		t.Fatal(err)
	}
	pins[tc.caseID]["seq"] = pins[tc.caseID]["seq"].(float64) + 1
	if b, err = json.Marshal(pins); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	client.AdvanceRefreshClockForTest(a, client.SendRefreshForTest+200*time.Millisecond)
	if _, err := a.Send(context.Background(), "caucus:A", "with an older membership"); !errors.Is(err, e2ee.ErrMembership) {
		t.Fatalf("send while behind this device's pin: %v, want a membership error", err)
	}
}
