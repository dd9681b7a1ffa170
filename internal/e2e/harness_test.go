package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// parleyBinary builds cmd/parley once for the package's tests.
func parleyBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "parley-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "parley")
		out, err := exec.Command("go", "build", "-o", binary, "github.com/parley-mediation/parley/cmd/parley").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// cluster is N nodes sharing one bucket (on the suite's MinIO), master
// key and the suite's Redis.
type cluster struct {
	t       *testing.T
	bin     string
	s3      objstore.S3Config
	storage []string // flags shared by every node and CLI verb
	serve   []string // extra flags for every node
	nodes   []*node
	lb      *balancer
}

type node struct {
	addr string
	cmd  *exec.Cmd
	logs *bytes.Buffer
	dead bool
}

// newCluster starts n nodes, each with the extra serve flags.
func newCluster(t *testing.T, n int, serve ...string) *cluster {
	t.Helper()
	env := need(t)
	bin := parleyBinary(t)
	s3 := env.s3()
	redisURL := env.redisURL()
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := kms.GenerateMasterKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "s3secret")
	os.WriteFile(secret, []byte(s3.SecretKey), 0o600)
	c := &cluster{t: t, bin: bin, s3: s3, serve: serve, storage: []string{
		"--s3-endpoint", s3.Endpoint, "--s3-bucket", s3.Bucket, "--s3-access-key", s3.AccessKey,
		"--s3-secret-key-file", secret, "--s3-insecure", "--master-key-file", keyFile, "--redis-url", redisURL,
	}}
	for range n {
		c.start()
	}
	var addrs []string
	for _, nd := range c.nodes {
		addrs = append(addrs, nd.addr)
	}
	c.lb = newBalancer(t, addrs)
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			if !nd.dead {
				nd.cmd.Process.Kill()
				nd.cmd.Wait()
			}
			if t.Failed() {
				t.Logf("node %s log tail:\n%s", nd.addr, tail(nd.logs.String(), 3000))
			}
		}
	})
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (c *cluster) start() *node {
	addr := freeAddr(c.t)
	logs := &bytes.Buffer{}
	// No metrics listener: every node would try serve's one default
	// address, and all but one (all, beside another program holding it)
	// log an ERROR into the tails a failure prints.
	args := append(append([]string{"serve", "--addr", addr, "--log-level", "info", "--metrics-addr", "off"}, c.serve...), c.storage...)
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	nd := &node{addr: addr, cmd: cmd, logs: logs}
	suite.keepLog(logs) // read by the at-rest scan once every node has stopped
	for range 200 {
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				c.nodes = append(c.nodes, nd)
				return nd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("node %s not ready within 10s:\n%s", addr, logs.String())
	return nil
}

// kill9 kills a node the hard way: no shutdown, no flush.
func (c *cluster) kill9(nd *node) {
	nd.cmd.Process.Signal(os.Kill)
	nd.cmd.Wait()
	nd.dead = true
	c.lb.remove(nd.addr)
}

// cli runs a parley verb against the cluster's storage.
func (c *cluster) cli(stdin string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, append(args, c.storage...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("parley %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// balancer is a round-robin TCP load balancer with no affinity: each new
// connection goes to the next live backend.
type balancer struct {
	mu       sync.Mutex
	backends []string
	next     int
	ln       net.Listener
	URL      string
}

func newBalancer(t *testing.T, backends []string) *balancer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{backends: backends, ln: ln, URL: "http://" + ln.Addr().String()}
	go b.serve()
	t.Cleanup(func() { ln.Close() })
	return b
}

func (b *balancer) remove(addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, a := range b.backends {
		if a == addr {
			b.backends = append(b.backends[:i], b.backends[i+1:]...)
			return
		}
	}
}

func (b *balancer) add(addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, addr)
}

func (b *balancer) pick() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.backends) == 0 {
		return ""
	}
	a := b.backends[b.next%len(b.backends)]
	b.next++
	return a
}

func (b *balancer) serve() {
	for {
		in, err := b.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			addr := b.pick()
			if addr == "" {
				return
			}
			out, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				return
			}
			defer out.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(out, in); done <- struct{}{} }()
			go func() { io.Copy(in, out); done <- struct{}{} }()
			<-done
		}()
	}
}
