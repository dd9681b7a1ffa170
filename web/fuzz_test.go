package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
)

// FuzzParseRange: a Range header is ignored, refused as unsatisfiable, or
// selects a non-empty span inside the version.
func FuzzParseRange(f *testing.F) {
	for _, h := range []string{"bytes=0-99", "bytes=-5", "bytes=10-", "bytes=5-1", "bytes=0-0,2-3", "items=0-1", "bytes= 1 - 2 ", "bytes=-0", "bytes=99999999999999999999-"} {
		f.Add(h, int64(100))
	}
	f.Add("bytes=0-", int64(0))
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return
		}
		offset, length, ok, err := parseRange(h, size)
		if err != nil {
			var re *rangeError
			if !errors.As(err, &re) {
				t.Fatalf("%q: error %v is not a rangeError", h, err)
			}
			return
		}
		if !ok {
			return
		}
		if offset < 0 || length <= 0 || offset > size-length {
			t.Fatalf("%q on %d bytes: offset %d length %d outside the version", h, size, offset, length)
		}
	})
}

// FuzzDecodeJSON: any request body is either decoded or refused with a
// field-level InvalidError or ErrTooLarge (never a panic, never another
// kind of error that would become a 500).
func FuzzDecodeJSON(f *testing.F) {
	for _, b := range []string{`{"title":"t","type":"x","sides":["a","b"]}`, `{"title":7}`, `{"colour":1}`, `{} {}`, `[`, ``, `{"sides":[1]}`, `{"title":"\ud800"}`} {
		f.Add(b, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Fuzz(func(t *testing.T, body, ct string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		var req api.CreateCaseRequest
		err := decodeJSON(httptest.NewRecorder(), r, &req)
		if err == nil {
			return
		}
		if _, ok := fault.AsInvalid(err); !ok && !errors.Is(err, fault.ErrTooLarge) {
			t.Fatalf("body %q: %v is neither invalid input nor too large", body, err)
		}
	})
}
