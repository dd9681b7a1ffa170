package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
)

// namedRoomsAuth resolves each room name to a room of its own.
type namedRoomsAuth struct{ prefix string }

func (a namedRoomsAuth) Resolve(_ context.Context, name, _ string) (messaging.Room, error) {
	return messaging.Room{ID: a.prefix + strings.ReplaceAll(name, ":", "_"), Name: name}, nil
}

func (namedRoomsAuth) Invalidate() {}

// TestCatchUpsShareTheQueue: a client resuming several rooms, each far
// enough behind for a large catch-up, on a connection whose frames wait
// (held here; a client on a slow link fills it the same way), is sent the
// catch-ups that fit three quarters of its send queue's bytes and a
// reload for each room after that (it pages those over HTTP); the
// connection stays open, and what waits stays under the bound. Before,
// each catch-up was bounded alone (4 MiB of bodies, about 5.5 MiB of
// frames) and three rooms' took the 16 MiB queue past its bound, so the
// connection was closed with 4008 (here scaled down: catch-ups of about
// 320 KiB, a queue of 1 MiB).
func TestCatchUpsShareTheQueue(t *testing.T) {
	svc := dirService(t)
	auth := namedRoomsAuth{prefix: "c_share/"}
	rooms := []string{"joint", "caucus:A", "caucus:B", "caucus:C"}
	body := bytes.Repeat([]byte("m"), 40<<10)
	for _, name := range rooms {
		r, _ := auth.Resolve(t.Context(), name, "post")
		for i := range 6 { // 240 KiB of bodies: a frame of about 320 KiB
			if _, err := svc.Publish(t.Context(), r.ID, messaging.Message{ID: fmt.Sprintf("%s-%d", name, i), From: "u", Body: body}); err != nil {
				t.Fatal(err)
			}
		}
	}
	const queueBytes = 1 << 20
	got := make(chan *socket, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		got <- newSocket(r.Context(), svc, ws, socketOptions{User: "u_share", Auth: auth, QueueBytes: queueBytes})
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := <-got
	defer c.ws.Close()
	c.qmu.Lock()
	c.hold = 1 // the writer takes no frame
	c.qmu.Unlock()

	for _, name := range rooms {
		c.subscribe(t.Context(), &api.ClientFrame{Type: api.FrameSub, Room: name, From: &api.Position{Epoch: 1}})
	}
	if c.isClosed() {
		t.Fatal("the connection was closed by its own catch-ups")
	}
	c.qmu.Lock()
	queue, queued := append([][]byte(nil), c.queue...), c.qbytes
	c.qmu.Unlock()
	if queued > queueBytes*3/4 {
		t.Errorf("%d bytes queued; want at most %d", queued, queueBytes*3/4)
	}
	caught, reloaded := map[string]int{}, map[string]bool{}
	for _, f := range queue {
		var sf api.ServerFrame
		if err := json.Unmarshal(f, &sf); err != nil {
			t.Fatal(err)
		}
		switch sf.Type {
		case api.FrameMsgs:
			caught[sf.Room] += len(sf.Msgs)
		case api.FrameReload:
			if sf.From == nil || *sf.From != (api.Position{Epoch: 1}) || sf.Head == nil || *sf.Head != (api.Position{Epoch: 1, Offset: 6}) {
				t.Errorf("reload of %s: from %v head %v", sf.Room, sf.From, sf.Head)
			}
			reloaded[sf.Room] = true
		case api.FrameError:
			t.Errorf("error frame: %s", f)
		}
	}
	// 320 KiB each: two catch-ups fit 768 KiB, the third does not.
	for i, name := range rooms {
		if want := i < 2; (caught[name] == 6) != want || reloaded[name] == want || caught[name]%6 != 0 {
			t.Errorf("room %s: %d messages caught up, reload %v; want caught up %v, else a reload", name, caught[name], reloaded[name], want)
		}
	}
}
