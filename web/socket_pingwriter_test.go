package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestPingAloneLeavesNoWriter: a writer started only to send a ping ends
// once it is sent, rather than lingering for more work (here an hour),
// so an idle connection's ping every 20 s does not keep a writer, its
// stack and its timer, a tenth of the time. A writer that wrote frames
// still lingers. Before, the ping's writer waited the whole linger.
func TestPingAloneLeavesNoWriter(t *testing.T) {
	svc := dirService(t)
	up := websocket.Upgrader{}
	socks := make(chan *socket, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := newSocket(r.Context(), svc, ws, socketOptions{User: "u_a", Auth: idleRoomAuth{}, Linger: time.Hour})
		c.open() // as serve does, before the test raises work
		socks <- c
		c.reader(c.ctx)
		c.close()
	}))
	t.Cleanup(srv.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	pinged := make(chan struct{}, 8)
	ws.SetPingHandler(func(string) error {
		pinged <- struct{}{}
		return nil
	})
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	frames, _ := framesOf(ws) // reads, so that pings are handled
	c := <-socks
	writing := func() bool {
		c.qmu.Lock()
		defer c.qmu.Unlock()
		return c.writing
	}
	c.kick(wantPing)
	select {
	case <-pinged:
	case <-time.After(10 * time.Second):
		t.Fatal("no ping within 10 s")
	}
	waitUntil(t, "the ping's writer to end", func() bool { return !writing() })
	// A frame's writer lingers (the hour): it is still there once the
	// frame has arrived.
	c.Send([]byte(`{"t":"error","detail":"x"}`))
	select {
	case <-frames:
	case <-time.After(10 * time.Second):
		t.Fatal("no frame within 10 s")
	}
	if !writing() {
		t.Fatal("the writer of a frame ended without lingering")
	}
}
