package server_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/parley-mediation/parley/server"
)

// outboxSweeps counts the goroutines running the outbox's background
// sweep (mail's runSweep), from a dump of every goroutine's stack.
func outboxSweeps() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("mail.(*Outbox).runSweep("))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestCloseEndsOutboxSweep: a serving node's outbox sweep (every node
// runs one, a pass a minute) runs only while the node does: Close ends
// it, and its goroutine is gone once Close returns (bounded polls).
func TestCloseEndsOutboxSweep(t *testing.T) {
	before := outboxSweeps()
	n, err := server.Open(context.Background(), server.Config{DataDir: t.TempDir(), MailFrom: "sessions@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); outboxSweeps() <= before; {
		if time.Now().After(deadline) {
			n.Close()
			t.Fatal("no outbox sweep while the node runs")
		}
		time.Sleep(10 * time.Millisecond) // the poll's interval
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); outboxSweeps() > before; {
		if time.Now().After(deadline) {
			t.Fatal("the outbox sweep still runs after the node's Close")
		}
		time.Sleep(10 * time.Millisecond) // the poll's interval
	}
}
