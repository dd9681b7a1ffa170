package web

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// Only a connection's first write can be one of net/http's own answers: a
// later write of the same shape (a document's bytes, chosen by whoever
// uploaded it) passes through byte for byte.
func TestProblemConnRewritesOnlyFirstWrite(t *testing.T) {
	shape := []byte("HTTP/1.1 431 Request Header Fields Too Large" + errorHeaders + "431 Request Header Fields Too Large")
	for _, tc := range []struct {
		name    string
		writes  [][]byte
		rewrite bool
	}{
		{"first write", [][]byte{shape}, true},
		{"inside a body", [][]byte{[]byte("HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 999\r\n\r\n"), shape}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			c := &problemConn{Conn: a}
			got := make(chan []byte, 1)
			go func() { all, _ := io.ReadAll(b); got <- all }()
			for _, w := range tc.writes {
				if n, err := c.Write(w); err != nil || n != len(w) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			a.Close()
			all := <-got
			last := tc.writes[len(tc.writes)-1]
			passed := bytes.HasSuffix(all, last)
			if tc.rewrite == passed || tc.rewrite != bytes.Contains(all, []byte("application/problem+json")) {
				t.Fatalf("rewrite=%v, connection got %q", tc.rewrite, all)
			}
		})
	}
}

// TestServerErrorProblemTypes: the answers the listener rewrites carry
// the same type URIs, titles and members as before the types were
// declared in package api (bad-request, headers-too-large): byte for byte.
func TestServerErrorProblemTypes(t *testing.T) {
	for _, tc := range []struct {
		in, body string
	}{
		{"HTTP/1.1 431 Request Header Fields Too Large" + errorHeaders + "431 Request Header Fields Too Large",
			`{"type":"urn:parley:problem:headers-too-large","title":"The request's headers are too large","status":431,"detail":"the headers (cookies included) exceed the server's limit; clear this site's cookies or send fewer headers"}`},
		{"HTTP/1.1 400 Bad Request" + errorHeaders + "400 Bad Request: malformed Host header",
			`{"type":"urn:parley:problem:bad-request","title":"The request could not be read","status":400,"detail":"400 Bad Request: malformed Host header"}`},
	} {
		out, ok := rewriteServerError([]byte(tc.in))
		if !ok {
			t.Fatalf("%q not rewritten", tc.in)
		}
		if _, body, _ := bytes.Cut(out, []byte("\r\n\r\n")); string(body) != tc.body {
			t.Errorf("body %s, want %s", body, tc.body)
		}
	}
}
