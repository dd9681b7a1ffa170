package web

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-mediation/parley/api"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	actorKey
	sessionKey // the actor's account.Session (requireSession)
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withRequestID gives every request a fresh id, returned in X-Request-Id and
// quoted in every log line and problem. Incoming ids are not trusted.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// securityHeaders applies to every answer: nothing here is framed, sniffed
// or cached by a shared cache, and pages load only their own scripts.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		next.ServeHTTP(w, r)
	})
}

// HSTS is the Strict-Transport-Security value an https deployment sends:
// a year, so a browser that has been here once never again asks for it
// over plain http, where a network attacker could answer instead (and
// strip the Secure session cookie's protection with a downgrade).
const HSTS = "max-age=31536000"

// strictTransport sends HSTS when the request came over TLS or the public
// URL is https (the node usually serves plain http behind a load balancer
// that ends TLS, so the public URL is what says the deployment is https).
// A plain-http deployment (tests, `make run`) sends none: a browser
// ignores it over http, and it would pin the host to https it lacks.
func (a *API) strictTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil || a.secureCookies {
			w.Header().Set("Strict-Transport-Security", HSTS)
		}
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hijack lets the WebSocket upgrade take the connection over.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("connection cannot be hijacked")
	}
	if s.status == 0 {
		s.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "parley_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// knownMethod names a request's method for metrics and logs: one of a
// fixed set, else "other". net/http accepts any token as a method, so the
// raw one would let any client create metric series without bound (and
// fill the log with what it likes).
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// observe logs and measures every request by its route pattern — never its
// raw path or query, which may carry ids or tokens.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				a.log.ErrorContext(r.Context(), "panic", slog.String("request_id", requestID(r.Context())), slog.Any("panic", p))
				if rec.status == 0 {
					writeProblem(rec, r, problem{Type: api.ProblemInternal, Title: "Something went wrong on the server", Status: 500})
				}
			}
			route := chi.RouteContext(r.Context()).RoutePattern()
			if route == "" {
				route = "unmatched"
			}
			code := rec.status
			if code == 0 {
				code = http.StatusOK
			}
			elapsed := time.Since(start)
			method := knownMethod(r.Method)
			a.metrics.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
			a.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
			a.log.InfoContext(r.Context(), "request",
				slog.String("request_id", requestID(r.Context())),
				slog.String("method", method), slog.String("route", route),
				slog.Int("status", code), slog.Int("bytes", rec.bytes),
				slog.Float64("ms", float64(elapsed.Microseconds())/1000))
		}()
		next.ServeHTTP(rec, r)
	})
}
