package web_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// TestTenThousandFailedLogins: a guessing run is refused throughout,
// costs at most a handful of password hashes, leaves no session behind,
// and does not lock the real user out past the window.
func TestTenThousandFailedLogins(t *testing.T) {
	n := nodetest.Embedded(t)
	n.Accounts.LoginWindow = 3 * time.Second
	n.Staff(t, policy.RoleMediator, "target@example.org")
	sessionsBefore := countObjects(t, n.Store, "sessions/")

	const attempts, workers = 10000, 8
	var ok, limited, wrong, other atomic.Int64
	var wg sync.WaitGroup
	var next atomic.Int64
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= attempts {
				res, err := http.Post(n.URL+"/api/v1/session", "application/json",
					strings.NewReader(`{"email":"target@example.org","password":"guess-guess-guess"}`))
				if err != nil {
					other.Add(1)
					continue
				}
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
	// account per window (the test's windows are 3 s long).
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
