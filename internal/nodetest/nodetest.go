// Package nodetest starts real Parley nodes for tests: embedded (a local
// directory) or scale mode (real MinIO and Redis from internal/testenv),
// served over real HTTP on a free loopback port.
//
// Importing it lowers the cost of the password hashes the test binary
// makes (internal/hashcost.UseTestCost: Argon2id at m=64 KiB, t=1): the tests
// that start nodes sign in hundreds of accounts, and under the race
// detector the production cost made that most of their CPU. Package
// account's own tests keep and check the production parameters.
package nodetest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/hashcost"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

func init() { hashcost.UseTestCost() }

// Password is the password of every account Staff makes.
const Password = "correct horse battery staple"

// Node is a running node and its base URL.
type Node struct {
	*server.Node
	URL string
}

// Embedded starts a node on a fresh data directory.
func Embedded(t testing.TB) *Node {
	t.Helper()
	return Start(t, server.Config{DataDir: t.TempDir()})
}

// Scale returns a config for scale mode on real MinIO (a fresh bucket) and
// Redis, with a fresh master key file. Start it once per node: nodes
// started from one config share the bucket, key and Redis.
func Scale(t testing.TB) server.Config {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := kms.GenerateMasterKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	return server.Config{S3: testenv.S3(t), RedisURL: testenv.RedisURL(t), MasterKeyFile: keyFile}
}

// Start opens a node from cfg and serves it until the test ends.
func Start(t testing.TB, cfg server.Config) *Node {
	t.Helper()
	return start(t, cfg, "http")
}

// StartPublicHTTPS starts a node as Start does, but whose public URL is
// https (as behind a load balancer that ends TLS): it serves plain http
// on its loopback port (Node.URL), and says https://… (the address) to
// browsers.
func StartPublicHTTPS(t testing.TB, cfg server.Config) (n *Node, public string) {
	t.Helper()
	n = start(t, cfg, "https")
	return n, "https://" + strings.TrimPrefix(n.URL, "http://")
}

func start(t testing.TB, cfg server.Config, scheme string) *Node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = ln.Addr().String()
	cfg.PublicURL = scheme + "://" + cfg.Addr
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := server.Open(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		n.Close()
	})
	return &Node{Node: n, URL: "http://" + cfg.Addr}
}

// Staff creates a staff account directly (as `parley admin user create`
// does) and returns it with a signed-in client.
func (n *Node) Staff(t testing.TB, role policy.Role, email string) (account.Account, *client.Client) {
	t.Helper()
	a, err := n.Accounts.Create(context.Background(), account.NewAccount{Email: email, Name: string(role) + " " + email, Role: role, Password: Password})
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(n.URL, "")
	if _, err := c.Login(context.Background(), email, Password); err != nil {
		t.Fatal(err)
	}
	return a, c
}

// AcceptTerms has c's person accept the case's current terms from a new
// device of theirs (made and registered here), as a party does before the
// opening session.
func AcceptTerms(t testing.TB, c *client.Client, caseID string) {
	t.Helper()
	ctx := context.Background()
	me, err := c.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := client.InitDevice(dir, me.ID, e2ee.KEMX25519); err != nil {
		t.Fatal(err)
	}
	x, err := c.E2EE(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Register(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := c.Terms(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.AcceptTerms(ctx, caseID, v.Terms); err != nil {
		t.Fatal(err)
	}
}
