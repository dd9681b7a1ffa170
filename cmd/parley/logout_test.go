package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLogoutForgetsTheSessionWhenTheServerCannotBeTold: `parley logout`
// removes the local session file whether or not the server could be told.
// When it could not (unreachable, or failing), one line says so and how
// the session ends anyway, with exit 1; a server that says the session
// had already ended (401) is a plain sign-out.
func TestLogoutForgetsTheSessionWhenTheServerCannotBeTold(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + closed.Addr().String()
	closed.Close()
	answering := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodDelete || r.URL.Path != "/api/v1/session" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			w.Write([]byte(`{"type":"urn:parley:problem:x","title":"Internal detail c_secret","status":` + strconv.Itoa(status) + `}`))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	for _, tc := range []struct {
		what     string
		server   string
		wantCode int
	}{
		{"unreachable", unreachable, 1},
		{"failing", answering(http.StatusServiceUnavailable), 1},
		{"already ended there", answering(http.StatusUnauthorized), 0},
	} {
		t.Run(tc.what, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("PARLEY_CONFIG_DIR", dir)
			if err := saveSession(cliSession{Server: tc.server, Token: "tok"}); err != nil {
				t.Fatal(err)
			}
			var code int
			stderr := captureStderr(t, func() { captureStdout(t, func() { code = run(context.Background(), []string{"logout"}) }) })
			if _, err := os.Stat(filepath.Join(dir, "session.json")); !os.IsNotExist(err) {
				t.Errorf("the session file is still there (%v)", err)
			}
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.wantCode, stderr)
			}
			if tc.wantCode == 0 {
				if stderr != "" {
					t.Errorf("stderr %q", stderr)
				}
				return
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 ||
				!strings.Contains(stderr, "could not be told") || !strings.Contains(stderr, "another device") {
				t.Errorf("want one line saying the server could not be told and how the session ends; got %q", stderr)
			}
			if strings.Contains(stderr, "c_secret") || strings.Contains(stderr, "HTTP") || strings.Contains(stderr, "127.0.0.1") {
				t.Errorf("a raw error reached the person: %q", stderr)
			}
		})
	}
}
