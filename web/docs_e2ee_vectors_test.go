package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowserDocVectors runs the browser's end-to-end document code
// (web/client/src/docs-e2ee.ts, built by make web) against
// e2ee/testdata/doc-vectors.json under node: the stream seals and opens
// byte for byte as Go's, tampering is refused, the wrap opens for its
// audience's devices only, and a wrap made there reaches the same devices.
// The other direction (Go opening what the browser made) is
// e2ee.TestDocVectors, on e2ee/testdata/doc-vectors-browser.json.
func TestBrowserDocVectors(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		requireServices(t, "node")
	}
	clientDir, _ := filepath.Abs("client")
	if _, err := os.Stat(filepath.Join(clientDir, "build", "docs-e2ee.mjs")); err != nil {
		t.Fatal("web/client/build/docs-e2ee.mjs is missing: run `make web`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "test/vectors-docs.mjs")
	cmd.Dir = clientDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("document vectors under node: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "checks passed") {
		t.Fatalf("document vectors under node said: %s", out)
	}
	t.Log(strings.TrimSpace(string(out)))
}
