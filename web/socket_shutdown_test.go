package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
