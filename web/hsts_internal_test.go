package web

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHSTSOnlyOnHTTPS: every answer of a deployment whose public URL is
// https, or to a request that came over TLS, carries
// Strict-Transport-Security for a year; a plain-http deployment's answers
// to plain-http requests carry none.
func TestHSTSOnlyOnHTTPS(t *testing.T) {
	for _, tc := range []struct {
		public string
		tls    bool
		want   string
	}{
		{"https://parley.example.org", false, "max-age=31536000"},
		{"http://127.0.0.1:8080", true, "max-age=31536000"},
		{"http://127.0.0.1:8080", false, ""},
		{"", false, ""},
	} {
		a := New(Deps{PublicURL: tc.public, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		h := a.Handler()
		for _, path := range []string{"/healthz", "/app", "/api/v1/nowhere"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := rec.Header().Get("Strict-Transport-Security"); got != tc.want {
				t.Errorf("public URL %q, TLS %v, %s: Strict-Transport-Security %q, want %q", tc.public, tc.tls, path, got, tc.want)
			}
		}
		a.CloseSockets()
	}
}
