package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-mediation/parley/internal/canary"
	"github.com/parley-mediation/parley/objstore"
)

// The fault suite runs on a MinIO and a Redis of its own (not the shared
// ones `make test` starts for the other packages), because its scenarios
// stop, kill and flush them. They start once for the package; scenarios
// run one after another (none is parallel). After the last scenario the
// suite prints the table of results and scans everything it left behind
// — MinIO's data directory, a Redis RDB dump (SAVE), every node's log —
// for the plaintext canaries the scenarios sent.
var suite *suiteEnv

type suiteEnv struct {
	dir                    string
	minioBin               string
	minioAddr, consoleAddr string
	minioUser, minioPass   string
	minioData              string
	minio                  *exec.Cmd
	redisBin, redisAddr    string
	redisDir               string
	redis                  *exec.Cmd
	unavailable            string // why the services could not start
	mu                     sync.Mutex
	rows                   []string        // the scenario table
	canaries               []string        // plaintexts that must never be at rest
	controls               []string        // sent unencrypted on purpose: the scan must find them
	logs                   []*bytes.Buffer // every node's output (read after the nodes stopped)
	minioLog               *bytes.Buffer
}

func TestMain(m *testing.M) {
	suite = &suiteEnv{}
	code := 1
	func() {
		defer suite.stop()
		if err := suite.start(); err != nil {
			suite.unavailable = err.Error()
		}
		code = m.Run()
		if suite.unavailable != "" {
			return
		}
		suite.printTable()
		if err := suite.scanAtRest(); err != nil {
			fmt.Fprintln(os.Stderr, "AT-REST SCAN FAILED:", err)
			code = 1
		}
	}()
	os.Exit(code)
}

// need ends the test when the suite's services are missing: a failure
// under PARLEY_TEST_REQUIRE_SERVICES=1, else a skip.
func need(t *testing.T) *suiteEnv {
	t.Helper()
	if suite.unavailable != "" {
		if os.Getenv("PARLEY_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("fault suite services: %s, and PARLEY_TEST_REQUIRE_SERVICES=1", suite.unavailable)
		}
		t.Skipf("fault suite services: %s; run `make test-faults`", suite.unavailable)
	}
	return suite
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *suiteEnv) start() error {
	s.minioBin = os.Getenv("PARLEY_TEST_MINIO_BINARY")
	if s.minioBin == "" {
		return fmt.Errorf("PARLEY_TEST_MINIO_BINARY not set (scripts/services.sh start writes it)")
	}
	var err error
	if s.redisBin, err = exec.LookPath("redis-server"); err != nil {
		return fmt.Errorf("redis-server not on PATH")
	}
	if s.dir, err = os.MkdirTemp("", "parley-faults-"); err != nil {
		return err
	}
	s.minioData = filepath.Join(s.dir, "minio-data")
	s.redisDir = filepath.Join(s.dir, "redis")
	os.MkdirAll(s.minioData, 0o700)
	os.MkdirAll(s.redisDir, 0o700)
	s.minioUser, s.minioPass = "faults"+randomHex(4), randomHex(16)
	for _, p := range []*string{&s.minioAddr, &s.consoleAddr, &s.redisAddr} {
		if *p, err = freePort(); err != nil {
			return err
		}
	}
	s.minioLog = &bytes.Buffer{}
	if err := s.startMinIO(); err != nil {
		return err
	}
	return s.startRedis()
}

// startMinIO starts (or restarts) MinIO on the suite's port and data
// directory, and waits (bounded) until it is live.
func (s *suiteEnv) startMinIO() error {
	cmd := exec.Command(s.minioBin, "server", "--quiet", "--address", s.minioAddr, "--console-address", s.consoleAddr, s.minioData)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.minioUser, "MINIO_ROOT_PASSWORD="+s.minioPass, "MINIO_BROWSER=off", "MINIO_UPDATE=off")
	cmd.Stdout, cmd.Stderr = s.minioLog, s.minioLog
	if err := cmd.Start(); err != nil {
		return err
	}
	s.minio = cmd
	for range 240 {
		if res, err := http.Get("http://" + s.minioAddr + "/minio/health/live"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("MinIO not live within 60s: %s", tail(s.minioLog.String(), 2000))
}

// killMinIO kills MinIO with SIGKILL (no shutdown).
func (s *suiteEnv) killMinIO() {
	s.minio.Process.Kill()
	s.minio.Wait()
}

func (s *suiteEnv) pauseMinIO()  { s.minio.Process.Signal(syscall.SIGSTOP) }
func (s *suiteEnv) resumeMinIO() { s.minio.Process.Signal(syscall.SIGCONT) }

func (s *suiteEnv) startRedis() error {
	_, port, _ := net.SplitHostPort(s.redisAddr)
	// rdbcompression off: the at-rest scan reads the SAVE dump, and LZF
	// (on by default) splits a canary in a compressible value.
	cmd := exec.Command(s.redisBin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.redisDir,
		"--rdbcompression", "no")
	if err := cmd.Start(); err != nil {
		return err
	}
	s.redis = cmd
	for range 100 {
		if c, err := net.Dial("tcp", s.redisAddr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis-server not up within 5s")
}

// restartRedis stops Redis without saving and starts it again, empty.
func (s *suiteEnv) restartRedis() error {
	s.redis.Process.Kill()
	s.redis.Wait()
	return s.startRedis()
}

func (s *suiteEnv) redisURL() string { return "redis://" + s.redisAddr + "/0" }

func (s *suiteEnv) stop() {
	if s.minio != nil && s.minio.ProcessState == nil {
		s.resumeMinIO() // a scenario that failed while MinIO was stopped
		s.killMinIO()
	}
	if s.redis != nil && s.redis.ProcessState == nil {
		s.redis.Process.Kill()
		s.redis.Wait()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// s3 is a fresh bucket on the suite's MinIO.
func (s *suiteEnv) s3() objstore.S3Config {
	return objstore.S3Config{Endpoint: s.minioAddr, AccessKey: s.minioUser, SecretKey: s.minioPass,
		Bucket: "faults-" + randomHex(6), Insecure: true}
}

// row records one line of the scenario table (and logs it).
func (s *suiteEnv) row(t *testing.T, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	t.Log("SCENARIO " + line)
	s.mu.Lock()
	s.rows = append(s.rows, line)
	s.mu.Unlock()
}

// canary makes a distinctive plaintext that the at-rest scan looks for.
func (s *suiteEnv) canary(what string) string {
	c := "CANARY-" + what + "-" + randomHex(6)
	s.mu.Lock()
	s.canaries = append(s.canaries, c)
	s.mu.Unlock()
	return c
}

// lowerCanary is a canary in lower case, for a value the server folds
// to lower case before storing it (an email address).
func (s *suiteEnv) lowerCanary(what string) string {
	c := "canary-" + what + "-" + randomHex(6)
	s.mu.Lock()
	s.canaries = append(s.canaries, c)
	s.mu.Unlock()
	return c
}

// control makes a plaintext that a scenario stores unencrypted on purpose
// (a raw chat body, which the server keeps as given): the at-rest scan
// must find it in MinIO and in the Redis dump, or it is looking in the
// wrong place.
func (s *suiteEnv) control() string {
	c := "CONTROL-" + randomHex(8)
	s.mu.Lock()
	s.controls = append(s.controls, c)
	s.mu.Unlock()
	return c
}

func (s *suiteEnv) keepLog(b *bytes.Buffer) {
	s.mu.Lock()
	s.logs = append(s.logs, b)
	s.mu.Unlock()
}

func (s *suiteEnv) printTable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rows) == 0 {
		return
	}
	fmt.Println()
	fmt.Println("FAULT SCENARIOS (lost = acknowledged but missing; must be 0)")
	for _, r := range s.rows {
		fmt.Println("  " + r)
	}
}

// scanAtRest looks for every canary in MinIO's files, a fresh Redis RDB
// dump, and every node's log. The scan would fail on a single hit.
func (s *suiteEnv) scanAtRest() error {
	s.mu.Lock()
	canaries := append([]string(nil), s.canaries...)
	controls := append([]string(nil), s.controls...)
	logs := append([]*bytes.Buffer(nil), s.logs...)
	s.mu.Unlock()
	if len(canaries) == 0 {
		return nil // no scenario ran (-run chose none that sends any)
	}
	var problems []string
	hits, files, err := canary.ScanDir(s.minioData, canaries)
	if err != nil {
		return err
	}
	if files == 0 {
		problems = append(problems, "MinIO data directory holds no files: wrong directory?")
	}
	for path, c := range hits {
		problems = append(problems, fmt.Sprintf("%s holds %v", path, c))
	}
	opts, _ := redis.ParseURL(s.redisURL())
	rc := redis.NewClient(opts)
	defer rc.Close()
	// Uncompressed, whatever the server was started with: an LZF-compressed
	// value hides a canary from the search (it did before: a value with
	// repeats, JSON padding say, was saved compressed).
	if err := rc.ConfigSet(context.Background(), "rdbcompression", "no").Err(); err != nil {
		return fmt.Errorf("redis CONFIG SET rdbcompression no: %w", err)
	}
	if err := rc.Save(context.Background()).Err(); err != nil {
		return fmt.Errorf("redis SAVE: %w", err)
	}
	dump, err := os.ReadFile(filepath.Join(s.redisDir, "dump.rdb"))
	if err != nil {
		return fmt.Errorf("reading the Redis dump: %w", err)
	}
	if c := canary.Find(dump, canaries); len(c) > 0 {
		problems = append(problems, fmt.Sprintf("Redis dump holds %v", c))
	}
	logBytes := 0
	for i, b := range logs {
		logBytes += b.Len()
		if c := canary.Find(b.Bytes(), canaries); len(c) > 0 {
			problems = append(problems, fmt.Sprintf("node log %d holds %v", i, c))
		}
	}
	// The controls prove the search can see: each must be found in
	// MinIO's files and in the Redis dump (the recent window of batches).
	if len(controls) > 0 {
		chits, _, err := canary.ScanDir(s.minioData, controls)
		if err != nil {
			return err
		}
		if len(chits) == 0 {
			problems = append(problems, "the control plaintext was not found in MinIO's files: the scan is blind")
		}
		if len(canary.Find(dump, controls)) == 0 {
			problems = append(problems, "the control plaintext was not found in the Redis dump: the scan is blind")
		}
	}
	sort.Strings(problems)
	fmt.Printf("AT-REST SCAN: %d canaries searched in %d MinIO files, a %d-byte Redis dump and %d node logs (%d bytes): %d problems (%d unencrypted controls found as they must be)\n",
		len(canaries), files, len(dump), len(logs), logBytes, len(problems), len(controls))
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}
