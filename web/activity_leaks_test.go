package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Per-route counters and the audit log's size let whoever reads them time
// other people's uploads, carries and recusals. The users' listener serves
// neither to a stranger: /metrics is not on it at all (it has a listener
// of its own), and the audit checkpoint answers records staff and admins
// only.
func TestMetricsAndCheckpointNotPublic(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@leaks.test")
	_, rec := n.Staff(t, policy.RoleRecords, "records@leaks.test")
	k, err := med.CreateCase(ctx, "Leak case", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := med.Invite(ctx, k.ID, "party", "B", "Bea", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	party := client.New(n.URL, "")
	if _, err := party.Join(ctx, inv.Link); err != nil {
		t.Fatal(err)
	}

	if code, body := get(t, n.URL+"/metrics", ""); code != http.StatusNotFound || strings.Contains(body, "parley_http_requests_total") {
		t.Errorf("anonymous GET /metrics on the users' listener: %d %.80q, want 404", code, body)
	}
	if code, body := get(t, n.URL+"/metrics", party.Token); code != http.StatusNotFound || strings.Contains(body, "parley_http_requests_total") {
		t.Errorf("a party's GET /metrics: %d %.80q, want 404", code, body)
	}
	cp := n.URL + "/api/v1/audit/checkpoint"
	if code, body := get(t, cp, ""); code != http.StatusUnauthorized {
		t.Errorf("anonymous checkpoint: %d %.80q, want 401", code, body)
	}
	if code, body := get(t, cp, party.Token); code != http.StatusForbidden {
		t.Errorf("a party's checkpoint: %d %.80q, want 403", code, body)
	}
	if code, body := get(t, cp, rec.Token); code != http.StatusOK || !strings.HasPrefix(body, "parley/audit\n") {
		t.Errorf("records staff's checkpoint: %d %.80q, want the signed checkpoint", code, body)
	}

	// The metrics listener of its own serves them.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.ServeMetrics(mctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("metrics listener: %v", err)
		}
	})
	if code, body := get(t, "http://"+ln.Addr().String()+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "parley_http_requests_total") {
		t.Errorf("metrics listener: %d %.80q", code, body)
	}
	if code, _ := get(t, "http://"+ln.Addr().String()+"/api/v1/cases", med.Token); code != http.StatusNotFound {
		t.Errorf("the metrics listener serves the API: %d", code)
	}
}
