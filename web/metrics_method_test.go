package web

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRequestMetricsBoundMethods: parley_http_requests_total and the
// request log name a method from a fixed set. net/http accepts any token
// as a method, so labelling with the raw one let any client, signed in or
// not, create a metric series (and write a log field) of its choosing with
// each request.
func TestRequestMetricsBoundMethods(t *testing.T) {
	var logs bytes.Buffer
	a := New(Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	h := a.Handler()
	const n = 200
	for i := range n {
		r := httptest.NewRequest(http.MethodGet, "/nowhere", nil)
		r.Method = fmt.Sprintf("M%03d", i) + strings.Repeat("X", 16<<10) // 16 KiB, each different
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/nowhere", nil))

	families, err := a.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "parley_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					methods[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	if len(methods) != 2 || methods["other"] != n || methods[http.MethodGet] != 1 {
		names := make([]string, 0, len(methods))
		for m := range methods {
			names = append(names, m[:min(len(m), 20)])
		}
		t.Fatalf("%d method labels (%v), want GET once and %d requests counted as \"other\"", len(methods), names, n)
	}
	if strings.Contains(logs.String(), "XXXX") {
		t.Fatal("the request log prints a client's made-up method")
	}
}
