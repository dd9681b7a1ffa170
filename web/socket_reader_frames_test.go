package web_test

import (
	"bytes"
	"net/http"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestIdleReaderFramesThroughTheAPI: a case socket opened through the
// node's handler waits for its client with nothing under the reader but
// the socket's serve and the goroutine's start. The runtime halves an idle
// stack only while less than a quarter of it is used, and the reader's
// wait sits close to that line for 4 KiB: one more frame under it (a
// closure around serve, as when the place among the session's sockets was
// given back by a deferred call there) kept every idle reader's stack at
// 8 KiB, 2.2 KiB more per connection in `parley bench fanout --idle`.
// TestIdleSocketStack measures the stack itself, without the race
// detector; this one checks the production path's frames, with it too.
func TestIdleReaderFramesThroughTheAPI(t *testing.T) {
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := t.Context()
	_, med := n.Staff(t, policy.RoleMediator, "frames@sockets.test")
	c, err := med.CreateCase(ctx, "Reader frames", "commercial", "", []string{"Buyer", "Seller"})
	if err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(n.URL, "http", "ws", 1) + "/api/v1/cases/" + c.ID + "/ws"
	h := http.Header{}
	h.Set("Authorization", "Bearer "+med.Token)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	const open = 3
	for range open {
		ws, _, err := d.DialContext(ctx, url, h)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if err := ws.WriteJSON(api.ClientFrame{Type: api.FrameSub, Room: "joint"}); err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			var f api.ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				t.Fatalf("waiting to be subscribed: %v", err)
			}
			if f.Type == api.FrameSubscribed {
				break
			}
		}
	}
	// The readers, once each waits for its client again (bounded).
	var readers [][]string
	for deadline := time.Now().Add(10 * time.Second); ; {
		readers = readerStacks(t)
		if len(readers) >= open || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(readers) < open {
		t.Fatalf("%d socket readers found, want %d", len(readers), open)
	}
	for _, below := range readers {
		want := []string{"web.(*socket).serve", "sync.(*WaitGroup).Go.func1"}
		if len(below) != len(want) || !strings.HasSuffix(below[0], want[0]) || !strings.HasSuffix(below[1], want[1]) {
			t.Fatalf("frames under an idle reader: %q, want only %q", below, want)
		}
	}
}

// readerStacks returns, for each goroutine whose stack holds the
// socket's reader waiting in gorilla's NextReader, the functions below
// the reader, innermost first.
func readerStacks(t *testing.T) [][]string {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, g := range strings.Split(buf.String(), "\n\n") {
		var funcs []string
		for _, line := range strings.Split(g, "\n") {
			if line == "" || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "goroutine ") || strings.HasPrefix(line, "created by ") {
				continue
			}
			// "pkg.(*T).f(0xc000012345, ...)": the name ends where the
			// arguments begin, at the line's last parenthesis.
			if i := strings.LastIndex(line, "("); i > 0 {
				funcs = append(funcs, line[:i])
			}
		}
		waiting := false
		for i, f := range funcs {
			if strings.HasSuffix(f, "websocket.(*Conn).NextReader") {
				waiting = true
			}
			if waiting && strings.HasSuffix(f, "web.(*socket).reader") {
				out = append(out, funcs[i+1:])
				break
			}
		}
	}
	return out
}
