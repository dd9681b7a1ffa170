package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

// TestTwoNodesShareEverything runs two nodes on one MinIO bucket and one
// Redis with no affinity: every request alternates nodes, and each node
// sees what the other wrote, revokes what the other revoked, and counts
// login attempts the other counted.
func TestTwoNodesShareEverything(t *testing.T) {
	cfg := nodetest.Scale(t)
	a := nodetest.Start(t, cfg)
	b := nodetest.Start(t, cfg)
	ctx := context.Background()

	_, medA := a.Staff(t, policy.RoleMediator, "med@example.org")
	medB := client.New(b.URL, medA.Token) // the same session, the other node
	c, err := medA.CreateCase(ctx, "Okafor v. Lind", "workplace", "agency", []string{"Employee", "Employer"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := medB.CaseAction(ctx, c.ID, "stage", map[string]string{"stage": "opening"}); err != nil {
		t.Fatalf("node B moving a case made on node A: %v", err)
	}
	got, err := medA.Case(ctx, c.ID)
	if err != nil || got.Stage != "opening" {
		t.Fatalf("node A sees stage %q (err %v), want opening", got.Stage, err)
	}

	// An invite made on A is redeemed on B, and only once across both.
	inv, err := medA.Invite(ctx, c.ID, "party", "A", "Ola Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	party := client.New(b.URL, "")
	if _, err := party.Join(ctx, inv.Link); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(a.URL, "").Join(ctx, inv.Link); err == nil || err.(*client.Error).Status != http.StatusGone {
		t.Fatalf("second redemption on the other node: %v", err)
	}

	// Login attempts are counted across nodes (Redis).
	for i := range a.Accounts.LoginLimitPerAccount {
		node := []string{a.URL, b.URL}[i%2]
		client.New(node, "").Login(ctx, "target@example.org", "not the password")
	}
	_, err = client.New(a.URL, "").Login(ctx, "target@example.org", "not the password")
	if ce, ok := err.(*client.Error); !ok || ce.Status != http.StatusTooManyRequests {
		t.Fatalf("attempt past the shared limit: %v", err)
	}

	// Logout on B revokes the session on A.
	if err := medB.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := medA.Me(ctx); err == nil {
		t.Fatal("session still valid on node A after logout on node B")
	}

	// Both nodes appended to one audit log; it verifies.
	rep, err := audit.Verify(ctx, a.Store, a.AuditVerifierKey(), nil)
	if err != nil {
		t.Fatalf("shared audit log: %v", err)
	}
	if rep.Size < 5 {
		t.Fatalf("audit log has %d entries, want at least 5", rep.Size)
	}
}

// TestRedisFlushLosesNothing: flushing Redis wipes rate-limit counters
// and nothing else; every account, session and case survives, since the
// object store is the system of record. (The node uses a database of its
// own, flushed whole, so other packages' tests keep theirs.)
func TestRedisFlushLosesNothing(t *testing.T) {
	cfg := nodetest.Scale(t)
	cfg.RedisURL = testenv.FlushableRedisURL(t, 14)
	n := nodetest.Start(t, cfg)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	c, err := med.CreateCase(ctx, "Flush v. Safe", "commercial", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := redis.ParseURL(cfg.RedisURL)
	rc := redis.NewClient(opts)
	defer rc.Close()
	if err := rc.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := med.Case(ctx, c.ID)
	if err != nil || got.Title != "Flush v. Safe" {
		t.Fatalf("after FLUSHALL: %v %q", err, got.Title)
	}
	if _, err := client.New(n.URL, "").Login(ctx, "med@example.org", nodetest.Password); err != nil {
		t.Fatalf("login after FLUSHALL: %v", err)
	}
}

// TestNoPlaintextInMinIO: case text, names and emails written through a
// scale-mode node never appear in MinIO's data directory.
func TestNoPlaintextInMinIO(t *testing.T) {
	dir := os.Getenv("PARLEY_TEST_MINIO_DATA")
	testenv.S3(t) // skips or fails like every service test when MinIO is absent
	if dir == "" {
		t.Fatal("PARLEY_TEST_MINIO_DATA not set by scripts/services.sh")
	}
	cfg := nodetest.Scale(t)
	n := nodetest.Start(t, cfg)
	ctx := context.Background()
	const canary = "CANARY-minio-9c1d"
	_, med := n.Staff(t, policy.RoleMediator, "canary-9c1d@example.org")
	c, err := med.CreateCase(ctx, canary+" title", "family", "", []string{"A " + canary, "B"})
	if err != nil {
		t.Fatal(err)
	}
	med.CaseAction(ctx, c.ID, "disclosures", map[string]string{"text": canary + " disclosure"})
	med.Invite(ctx, c.ID, "party", "A", canary+" party", "", time.Hour)
	found := 0
	filepath.Walk(filepath.Join(dir, cfg.S3.Bucket), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		found++
		b, _ := os.ReadFile(path)
		for _, s := range []string{canary, "canary-9c1d@example.org", nodetest.Password} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds plaintext %q", path, s)
			}
		}
		return nil
	})
	if found < 5 {
		t.Fatalf("only %d files under the bucket's data directory: wrong path?", found)
	}
}

// TestForgedRedisTrafficIsCounted: a batch written into Redis by someone
// without the deployment's node key, on the topic of a room a mediator
// follows, is not delivered, and the node's metrics count it
// (parley_broker_refused_total, docs/operations.md).
func TestForgedRedisTrafficIsCounted(t *testing.T) {
	cfg := nodetest.Scale(t)
	n := nodetest.Start(t, cfg)
	ctx := context.Background()
	p := seedCase(t, n)
	chat, err := client.New(n.URL, p.med.Token).Chat(ctx, p.caseID, map[string]*messaging.Position{"joint": nil})
	if err != nil {
		t.Fatal(err)
	}
	defer chat.Close()
	if got := refusedMetric(t, n); got != 0 {
		t.Fatalf("parley_broker_refused_total = %v before anything was forged", got)
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	topic := "parley:room:" + p.caseID + "/joint"
	// A batch as a node would publish it, behind a version byte and a MAC
	// made without the key.
	forged := "\x01" + strings.Repeat("\x00", 32) +
		`{"room":"` + p.caseID + `/joint","epoch":1,"first":1,"msgs":[{"id":"forged","from":"x","body":"Zm9yZ2Vk","epoch":1,"offset":1}]}`
	var receivers int64
	for range 50 { // the node subscribes once the chat's hub is up
		if receivers, err = rc.Publish(ctx, topic, forged).Result(); err != nil {
			t.Fatal(err)
		}
		if receivers > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if receivers == 0 {
		t.Fatalf("nobody subscribes to %s", topic)
	}
	deadline := time.Now().Add(10 * time.Second)
	for refusedMetric(t, n) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the forged batch was not counted in parley_broker_refused_total")
		}
		time.Sleep(20 * time.Millisecond)
	}
	quiet(t, chat, "joint", 500*time.Millisecond)
	// The real traffic still flows.
	if _, err := chat.Send(ctx, "joint", "m1", []byte("opaque-1")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, chat, "joint"); string(m.Body) != "opaque-1" {
		t.Fatalf("after the forgery the mediator got %+v", m)
	}
}

// refusedMetric reads parley_broker_refused_total from n's metrics.
func refusedMetric(t *testing.T, n *nodetest.Node) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	n.API.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.SplitSeq(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "parley_broker_refused_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatal("no parley_broker_refused_total in the node's metrics")
	return 0
}
