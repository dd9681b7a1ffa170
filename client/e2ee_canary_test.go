package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/canary"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
)

// syncBuffer is a log sink shared by a node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func needEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("PARLEY_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s not set, and PARLEY_TEST_REQUIRE_SERVICES=1", name)
		}
		t.Skipf("%s not set; run `make test` to start MinIO and Redis", name)
	}
	return v
}

// TestNoPlaintextReachesTheServer sends canary plaintexts end-to-end
// encrypted through two real nodes on MinIO and Redis (a caucus, the joint
// room, a consented carry, a message from the X25519 fallback device), then
// looks for them — raw or encoded — in every file MinIO keeps for the
// nodes' bucket (scanMinIO), in a dump of Redis, and in both nodes' logs
// (at debug level).
// A plaintext control message, sent without encryption through the same
// path, proves the search would have found them.
func TestNoPlaintextReachesTheServer(t *testing.T) {
	t.Parallel()
	minioData := needEnv(t, "PARLEY_TEST_MINIO_DATA")
	cfg := nodetest.Scale(t)
	redisURL := cfg.RedisURL
	logs := []*syncBuffer{{}, {}}
	cfg.Log = slog.New(slog.NewJSONHandler(logs[0], &slog.HandlerOptions{Level: slog.LevelDebug}))
	n1 := nodetest.Start(t, cfg)
	cfg.Log = slog.New(slog.NewJSONHandler(logs[1], &slog.HandlerOptions{Level: slog.LevelDebug}))
	n2 := nodetest.Start(t, cfg)
	ctx := context.Background()

	tag := make([]byte, 6)
	rand.Read(tag)
	mark := hex.EncodeToString(tag)
	canaries := []string{
		"CANARY-" + mark + "-caucus-A-bottom-line-4000",
		"CANARY-" + mark + "-joint-from-B-fallback-device",
		"CANARY-" + mark + "-mediator-in-joint",
		"CANARY-" + mark + "-mediators-room",
		"CANARY-" + mark + "-" + strings.Repeat("long-", 2000),
	}
	control := "CONTROL-" + mark + "-sent-without-encryption"

	tc := seedE2EE(t, n1, n2.URL, n1.URL, n2.URL) // mediator and B on node 2, A on node 1
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	b := open(t, tc.b, tc.caseID, client.SecureOptions{})
	orig := send(t, a, "caucus:A", canaries[0])
	if ev := expect(t, med, "caucus:A"); ev.Text != canaries[0] {
		t.Fatalf("mediator read %q", ev.Text)
	}
	send(t, b, "joint", canaries[1])
	send(t, med, "joint", canaries[2])
	send(t, med, "mediators", canaries[3])
	send(t, a, "caucus:A", canaries[4])
	id, err := med.ProposeCarry(ctx, "caucus:A", orig.Pos(), "")
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev := expect(t, a, "caucus:A")
		if ev.Kind == e2ee.KindCarryProposal && ev.Carry.ID == id {
			if _, err := a.ApproveCarry(ctx, ev); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	got := map[string]bool{}
	for len(got) < 3 {
		ev := expect(t, b, "joint")
		got[ev.Text] = true
	}
	if !got[canaries[0]] || !got[canaries[1]] || !got[canaries[2]] {
		t.Fatalf("B read %v", got)
	}
	raw, err := tc.b.c.Chat(ctx, tc.caseID, map[string]*messaging.Position{"joint": nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Send(ctx, "joint", "control", []byte(control)); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	// MinIO: every file of the nodes' bucket and of MinIO's own area.
	all := append([]string{control}, canaries...)
	hits := scanMinIO(t, minioData, cfg.S3.Bucket, all)
	assertOnlyControl(t, "MinIO data directory", hits, control)

	// Redis: a dump of everything it holds, uncompressed so that nothing
	// hides inside LZF.
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	if err := rc.ConfigSet(ctx, "rdbcompression", "no").Err(); err != nil {
		t.Fatal(err)
	}
	defer rc.ConfigSet(ctx, "rdbcompression", "yes")
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found")
	}
	dump := filepath.Join(t.TempDir(), "dump.rdb")
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(dctx, cli, "-u", redisURL, "--rdb", dump).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --rdb: %v: %s", err, out)
	}
	data, err := os.ReadFile(dump)
	if err != nil || len(data) == 0 {
		t.Fatalf("redis dump: %v", err)
	}
	assertOnlyControl(t, "Redis dump", map[string][]string{dump: canary.Find(data, all)}, control)

	// Server logs: nothing at all, not even the control.
	for i, l := range logs {
		if f := canary.Find(l.Bytes(), all); len(f) > 0 {
			t.Fatalf("node %d's log holds %v", i+1, f)
		}
		if len(l.Bytes()) == 0 {
			t.Fatalf("node %d logged nothing: is the log captured?", i+1)
		}
	}
}

// scanMinIO looks for canaries in every file MinIO keeps for bucket under
// its data directory minioData: the bucket's directory (every object's
// versions, metadata and parts) and MinIO's own area (.minio.sys: its
// multipart staging, temporary files, bucket metadata and config), which
// is everything MinIO writes for a request to the bucket. Other buckets
// are other tests' (every test's nodes have one of their own): searching
// them found nothing of this test's, whose canaries carry a random mark,
// and cost most of the search, as the data directory holds what every
// package's tests stored so far in the run (in one run, 155 MB, 2.6 s of
// CPU for each search). It returns hits as canary.ScanDir does, and
// fails the test when the bucket has no file.
func scanMinIO(t *testing.T, minioData, bucket string, canaries []string) map[string][]string {
	t.Helper()
	root := filepath.Join(minioData, bucket)
	hits, files, err := canary.ScanDir(root, canaries)
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no files under %s", root)
	}
	own, _, err := canary.ScanDir(filepath.Join(minioData, ".minio.sys"), canaries)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(hits, own)
	return hits
}

// assertOnlyControl fails if any canary was found, or if the control was
// not (the search would then prove nothing).
func assertOnlyControl(t *testing.T, where string, hits map[string][]string, control string) {
	t.Helper()
	sawControl := false
	for file, found := range hits {
		for _, f := range found {
			if f == control {
				sawControl = true
				continue
			}
			t.Fatalf("%s: %s holds a plaintext canary (%.40s…)", where, file, f)
		}
	}
	if !sawControl {
		t.Fatalf("%s: the unencrypted control was not found, so the search cannot be trusted", where)
	}
}
