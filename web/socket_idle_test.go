package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
)

// oneRoomAuth lets a connection into one room, whatever its name.
type oneRoomAuth struct{}

func (oneRoomAuth) Resolve(_ context.Context, name, _ string) (messaging.Room, error) {
	return messaging.Room{ID: "r_idle", Name: name}, nil
}

func (oneRoomAuth) Invalidate() {}

// TestIdleConnectionHoldsOneGoroutine: an idle subscribed connection —
// with every check a real one has (access announcements, session topics,
// a floor) — settles to one goroutine on the server, its reader: the
// writer is started for work and ends when there is none (issue #19, the
// idle memory per connection; a goroutine is its stack and the wait on
// its channels). A message then still reaches every idle connection, in
// order.
func TestIdleConnectionHoldsOneGoroutine(t *testing.T) {
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := messaging.NewService(messaging.NewLog(store), messaging.NewMemory(), messaging.Options{})
	defer svc.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(r.Context(), svc, ws, socketOptions{User: "u_idle", Auth: oneRoomAuth{}, Watch: "case:c_idle",
			SessionTopics: []string{"session:s_idle"}, SessionValid: func(context.Context) bool { return true },
			Floor: func(context.Context) []byte { return nil }})
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	// settled polls (bounded) until the goroutine count is at most want
	// and returns the last count.
	settled := func(want int) int {
		n := runtime.NumGoroutine()
		for deadline := time.Now().Add(10 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
			time.Sleep(20 * time.Millisecond)
		}
		return n
	}
	// The service's own goroutines (the room's hub) come with the first
	// subscriber: one connection opens the room before the baseline.
	const n = 40
	var conns []*websocket.Conn
	defer func() {
		for _, ws := range conns {
			ws.Close()
		}
	}()
	open := func() *websocket.Conn {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, ws)
		data, _ := json.Marshal(api.ClientFrame{Type: api.FrameSub, Room: "joint"})
		if err := ws.WriteMessage(websocket.TextMessage, data); err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			var f api.ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				t.Fatalf("no subscription answer: %v", err)
			}
			if f.Type == api.FrameSubscribed {
				return ws
			}
		}
	}
	open()
	base := runtime.NumGoroutine()
	for range n {
		open()
	}
	// One goroutine per connection (its reader) and a few to spare for
	// the runtime's own.
	if got := settled(base+n+3) - base; got > n+3 {
		t.Fatalf("%d idle subscribed connections hold %d goroutines on the server; want one each", n, got)
	}

	// A message still reaches every connection: their writers start again.
	pub, _ := json.Marshal(api.ClientFrame{Type: api.FramePub, Room: "joint", ID: "m1", Body: []byte("after the idle")})
	if err := conns[0].WriteMessage(websocket.TextMessage, pub); err != nil {
		t.Fatal(err)
	}
	for i, ws := range conns {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			var f api.ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				t.Fatalf("connection %d: the message did not arrive: %v", i, err)
			}
			if f.Type == api.FrameMsgs && len(f.Msgs) > 0 && string(f.Msgs[0].Body) == "after the idle" {
				break
			}
		}
	}
}
