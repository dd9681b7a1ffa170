package web

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
)

// TestServerShutdownClosesGoingAway: the server's context for its
// sockets ending (CloseSockets, at shutdown) closes an idle subscribed
// socket with 1001 ("going away"), on which clients reconnect to another
// node. The socket hears it through a callback on that context, not a
// goroutine of its own.
func TestServerShutdownClosesGoingAway(t *testing.T) {
	svc := dirService(t)
	sockets, closeSockets := context.WithCancel(context.Background())
	defer closeSockets()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(sockets, svc, ws, socketOptions{User: "u_a", Auth: oneRoomAuth{id: "c1/joint"}})
	}))
	t.Cleanup(srv.Close)
	ws := dialSubscribed(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	t.Cleanup(func() { ws.Close() })
	nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FramePresence })
	closeSockets()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f api.ServerFrame
		err := ws.ReadJSON(&f)
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("the socket ended with %v, want close %d (going away)", err, websocket.CloseGoingAway)
		}
		return
	}
}

// countingCtx counts the callbacks registered on it (context.AfterFunc
// calls its AfterFunc) and not yet stopped. Its own Done channel keeps
// context.AfterFunc from reaching a parent's children map instead.
type countingCtx struct {
	context.Context
	done chan struct{}
	mu   sync.Mutex
	live int
}

func (c *countingCtx) Done() <-chan struct{} { return c.done }

func (c *countingCtx) AfterFunc(func()) func() bool {
	c.mu.Lock()
	c.live++
	c.mu.Unlock()
	var once sync.Once
	return func() bool {
		stopped := false
		once.Do(func() {
			c.mu.Lock()
			c.live--
			c.mu.Unlock()
			stopped = true
		})
		return stopped
	}
}

func (c *countingCtx) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// TestClosedSocketsLeaveNoShutdownCallback: a socket's callback on the
// server's context is stopped when the socket closes, so that context
// holds the callbacks of live sockets only, not of every socket the
// process ever served (review 265).
func TestClosedSocketsLeaveNoShutdownCallback(t *testing.T) {
	svc := dirService(t)
	sockets := &countingCtx{Context: context.Background(), done: make(chan struct{})}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(sockets, svc, ws, socketOptions{User: "u_a", Auth: oneRoomAuth{id: "c1/joint"}})
	}))
	t.Cleanup(srv.Close)
	const n = 5
	var open []*websocket.Conn
	for range n {
		ws := dialSubscribed(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
		nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FramePresence })
		open = append(open, ws)
	}
	// Each open socket has its own context's and its shutdown callback.
	if got := sockets.count(); got < n {
		t.Fatalf("%d callbacks on the server's context for %d open sockets", got, n)
	}
	for _, ws := range open {
		ws.Close()
	}
	waitUntil(t, "every closed socket's callback stopped", func() bool { return sockets.count() == 0 })
}

// TestShutdownCutsASlowClientsBatch: a client reading slowly (64 KiB every
// 250 ms) while its socket's writer has a large batch to write (48 frames
// of 128 KiB) does not hold the server's shutdown: the socket ends within
// about closeWait of the server's context for its sockets ending (as
// CloseSockets does it), not once the whole batch is written. Before, the
// shutdown only raised a flag the writer looked at between batches, and
// each frame had its own 10 s deadline: this socket ended some 12 s
// later, and a client reading slower could hold a node's clean shutdown
// (Node.Close waits for CloseSockets) for minutes (review 395).
func TestShutdownCutsASlowClientsBatch(t *testing.T) {
	svc := dirService(t)
	sockets, closeSockets := context.WithCancel(context.Background())
	defer closeSockets()
	got := make(chan *socket, 1)
	ended := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		// Small kernel buffers, so that the frames wait on the client's
		// reads rather than in the buffers.
		if pc, ok := ws.NetConn().(*problemConn); ok {
			if tc, ok := pc.Conn.(*net.TCPConn); ok {
				tc.SetWriteBuffer(16 << 10)
			}
		}
		c := newSocket(sockets, svc, ws, socketOptions{User: "u_slow", Auth: idleRoomAuth{}})
		c.open()
		got <- c
		c.reader(c.ctx)
		c.close()
		close(ended)
	}))
	srv.Listener = ProblemListener(srv.Listener)
	srv.Start()
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	conn := ws.NetConn()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(16 << 10)
	}
	c := <-got
	frame := bytes.Repeat([]byte("f"), 128<<10)
	for k := range 48 {
		if !c.Send(frame) {
			t.Fatalf("frame %d refused", k)
		}
	}
	// The slow client: 64 KiB every 250 ms (the pace is the client's
	// behaviour under test, not a wait for a condition), bounded at 400
	// reads (more than the whole batch needs).
	var read atomic.Int64
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		buf := make([]byte, 64<<10)
		for range 400 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := conn.Read(buf)
			read.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-readerDone }()
	// The writer is in the middle of its batch.
	waitUntil(t, "the client read 256 KiB", func() bool { return read.Load() >= 256<<10 })
	start := time.Now()
	closeSockets()
	select {
	case <-ended:
	case <-time.After(15 * time.Second):
		t.Fatal("the socket did not end within 15 s of the shutdown")
	}
	took := time.Since(start)
	t.Logf("ended %v after the shutdown", took.Round(time.Millisecond))
	if took > closeWait+time.Second {
		t.Fatalf("the socket ended %v after the shutdown, having written %d KiB of the batch's %d KiB; want within %v", took.Round(time.Millisecond), read.Load()>>10, 48*128, closeWait+time.Second)
	}
}
