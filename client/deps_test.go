package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientDependsOnNoServerCode: the Go client speaks the wire (package
// api), end-to-end encryption (e2ee) and the transparency-log verifier
// (tlogverify), and nothing of the server: none of its packages and none
// of the libraries only the server needs.
func TestClientDependsOnNoServerCode(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/parley-mediation/parley/client").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/minio/minio-go", "github.com/redis/go-redis", "github.com/cedar-policy/cedar-go",
		"github.com/prometheus/", "github.com/go-chi/chi", "k8s.io/", "github.com/compose-spec/",
	}
	for _, p := range []string{"web", "messaging", "keydir", "vault", "cases", "caucus", "account", "retention",
		"policy", "audit", "metastore", "objstore", "kms", "server", "ratelimit", "evaluation"} {
		forbidden = append(forbidden, "github.com/parley-mediation/parley/"+p)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, f := range forbidden {
			if base := strings.TrimSuffix(f, "/"); d == base || strings.HasPrefix(d, base+"/") {
				t.Errorf("client depends on %s", d)
			}
		}
	}
	if len(deps) == 0 {
		t.Fatal("go list printed no packages")
	}
}
