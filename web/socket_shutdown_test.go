package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
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
