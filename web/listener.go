package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/parley-mediation/parley/api"
)

// ProblemListener wraps the listener an http.Server serves, so that the
// few answers net/http writes itself, before any handler runs — 431 when a
// request's headers exceed the server's MaxHeaderBytes, 400 for a request
// line or header it cannot parse — are problem+json like every other
// error, not text/plain. net/http writes each such answer in one Write to
// the connection, in a fixed shape (see errorHeaders); only a write of
// exactly that shape, and only as the connection's first write, is
// rewritten: every later write (a handler's answer, a document's bytes,
// which a participant chooses) passes through untouched, so no content can
// be mistaken for one of these answers. (net/http closes the connection
// after such an answer; one that follows an earlier answer on a kept-alive
// connection stays text/plain.)
func ProblemListener(ln net.Listener) net.Listener { return problemListener{ln} }

type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c}, nil
}

// problemConn remembers whether anything was written yet (atomic: after a
// WebSocket upgrade, writes may come from another goroutine), and, after a
// WebSocket upgrade, can hold a burst of frames for one write (coalesce.go).
type problemConn struct {
	net.Conn
	wrote atomic.Bool
	held  heldWrites
}

// errorHeaders is what net/http's conn.serve puts between the status line
// and the body of the answers it writes itself.
const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *problemConn) Write(b []byte) (int, error) {
	if c.wrote.Swap(true) {
		if c.held.on.Load() {
			return c.writeHeld(b)
		}
		return c.Conn.Write(b)
	}
	if p, ok := rewriteServerError(b); ok {
		if _, err := c.Conn.Write(p); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// rewriteServerError turns "HTTP/1.1 431 Request Header Fields Too
// Large"+errorHeaders+body into the same status with a problem+json body.
func rewriteServerError(b []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if !bytes.HasPrefix(b, []byte(proto)) || len(b) < len(proto)+3 {
		return nil, false
	}
	i := bytes.Index(b, []byte(errorHeaders))
	if i < 0 || bytes.IndexByte(b[:i], '\n') >= 0 {
		return nil, false
	}
	code, err := strconv.Atoi(string(b[len(proto) : len(proto)+3]))
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	p := problem{Type: api.ProblemBadRequest, Title: "The request could not be read", Status: code,
		Detail: string(b[i+len(errorHeaders):])}
	if code == http.StatusRequestHeaderFieldsTooLarge {
		p.Type = api.ProblemHeadersTooLarge
		p.Title = "The request's headers are too large"
		p.Detail = "the headers (cookies included) exceed the server's limit; clear this site's cookies or send fewer headers"
	}
	body, _ := json.Marshal(wireProblem(p, "", ""))
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		code, http.StatusText(code), len(body), body), true
}
