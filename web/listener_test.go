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
