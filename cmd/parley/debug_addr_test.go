package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDebugAddrLoopbackOnly: pprof and /debug/parley/ have no
// authentication, so `parley serve --debug-addr` refuses, in one line and
// before opening anything, an address other machines could reach.
func TestDebugAddrLoopbackOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, addr := range []string{":6060", "0.0.0.0:6060", "[::]:6060", "192.0.2.10:6060", "example.org:6060", "6060"} {
		dir := t.TempDir()
		var code int
		stderr := captureStderr(t, func() {
			code = run(ctx, []string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--metrics-addr", "off", "--debug-addr", addr})
		})
		if ctx.Err() != nil {
			t.Fatalf("serve --debug-addr %s started", addr)
		}
		first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
		if code != 2 || !strings.Contains(first, "--debug-addr "+addr+": ") || !strings.Contains(first, "loopback address only") {
			t.Fatalf("serve --debug-addr %s: exit %d, %q", addr, code, stderr)
		}
	}
	// localhost is listened on as 127.0.0.1, never looked up.
	for addr, want := range map[string]string{"127.0.0.1:6060": "127.0.0.1:6060", "localhost:6060": "127.0.0.1:6060", "LocalHost:6060": "127.0.0.1:6060",
		"[::1]:6060": "[::1]:6060", "127.0.0.2:0": "127.0.0.2:0", "10.0.0.1:6060": ""} {
		if got, ok := loopbackAddr(addr); ok != (want != "") || ok && got != want {
			t.Errorf("loopbackAddr(%q) = %q, %v, want %q", addr, got, ok, want)
		}
	}
}
