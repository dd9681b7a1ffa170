package testenv

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
)

// PrivateRedis starts a redis-server of the test's own on a free loopback
// port and returns its URL and a restart function (for tests that flush,
// stop and restart Redis without disturbing other tests). It is stopped
// when the test ends. Without redis-server on PATH it skips or fails like
// the other service helpers.
func PrivateRedis(t testing.TB) (url string, restart func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		need(t, "PARLEY_TEST_REDIS_SERVER_BINARY")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	var cmd *exec.Cmd
	start := func() {
		cmd = exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("private redis-server did not start within 5s")
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	start()
	t.Cleanup(stop)
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port), func() { stop(); start() }
}
