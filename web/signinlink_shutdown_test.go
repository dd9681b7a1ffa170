package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestSignInLinkQueueDrainedAtShutdown: requests for an emailed sign-in
// link already answered 202 wait in the worker's queue; when the node
// shuts down (its sockets close) the worker goes on with them for a short
// grace, so each gets its link, or is counted in a WARN "sign-in link
// requests dropped at shutdown". A request once the node is shutting down
// is answered 503 busy, not 202 and forgotten. Before, the worker
// returned at shutdown and dropped what was queued without a word, and
// later requests were answered 202 and never looked at.
func TestSignInLinkQueueDrainedAtShutdown(t *testing.T) {
	var logs syncBuffer
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	ctx := context.Background()
	tag := ids.New("x")[2:10]
	_, med := n.Staff(t, policy.RoleMediator, "drain-med-"+tag+"@example.test")
	c, err := med.CreateCase(ctx, "Drain v. Queue", "tenancy", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	// Twelve parties with confirmed addresses (fewer than the 20 requests
	// one client address may make in 15 minutes).
	const k = 12
	var addrs []string
	for i := range k {
		addr := fmt.Sprintf("drain-%d-%s@example.test", i, tag)
		inv, err := med.Invite(ctx, c.ID, "party", []string{"A", "B"}[i%2], fmt.Sprintf("Dee Drain %d", i), addr, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s, err := client.New(n.URL, "").Join(ctx, inv.Link)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Accounts.ConfirmParticipantEmail(ctx, s.Account.ID, addr); err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, addr)
	}
	from := n.Audit.Size()
	// All at once, then the node's sockets close as at shutdown.
	var wg sync.WaitGroup
	for _, addr := range addrs {
		wg.Go(func() {
			if code, body, _ := askSignInLink(t, n.URL, addr); code != http.StatusAccepted {
				t.Errorf("asking for a link: %d %s", code, body)
			}
		})
	}
	wg.Wait()
	n.API.CloseSockets() // returns once the worker has
	made := 0
	for i := from; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "case.reentry.created" && ev.Case == c.ID && ev.Attrs["via"] == "email" {
			made++
		}
	}
	dropped := 0
	for line := range strings.Lines(logs.String()) {
		var rec struct {
			Level, Msg string
			Count      int
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "sign-in link requests dropped at shutdown" {
			if rec.Level != "WARN" {
				t.Errorf("the drop logged at %s, want WARN", rec.Level)
			}
			dropped += rec.Count
		}
	}
	if made+dropped != k {
		t.Fatalf("of %d requests queued before shutdown, %d got a link and %d were logged dropped", k, made, dropped)
	}
	t.Logf("%d links made during shutdown's grace, %d dropped", made, dropped)
	// Once shutting down: 503 in plain words, not 202.
	if code, body, _ := askSignInLink(t, n.URL, addrs[0]); code != http.StatusServiceUnavailable || !strings.Contains(body, "Ask for the link again in a few seconds") {
		t.Fatalf("asking for a link while the node shuts down: %d %s, want 503", code, body)
	}
}
