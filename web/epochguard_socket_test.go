package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
)

// oneRoomAuth lets the connection into one room.
type oneRoomAuth struct{ id string }

func (a oneRoomAuth) Resolve(_ context.Context, name, _ string) (messaging.Room, error) {
	return messaging.Room{ID: a.id, Name: name}, nil
}

func (oneRoomAuth) Invalidate() {}

// TestStaleEpochPubIsRefusedAndNotStored: after a seal ends epoch 1, a
// pub whose body was encrypted for epoch 1 gets an error frame with code
// "moved" and the room's current epoch, and nothing is stored; a pub for
// epoch 2, and one naming no epoch, are acknowledged in epoch 2.
func TestStaleEpochPubIsRefusedAndNotStored(t *testing.T) {
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := messaging.NewService(messaging.NewLog(store), messaging.NewMemory(), messaging.Options{})
	defer svc.Close()
	const room = "c_guard/joint"
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(r.Context(), svc, ws, socketOptions{User: "u_a", Auth: oneRoomAuth{id: room}})
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ctx := t.Context()
	pub := func(id string, epoch int64) api.ServerFrame {
		t.Helper()
		b, _ := json.Marshal(api.ClientFrame{Type: api.FramePub, Room: "joint", ID: id, Body: []byte("ciphertext " + id), Epoch: epoch})
		if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
			t.Fatal(err)
		}
		for {
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			var f api.ServerFrame
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatal(err)
			}
			if f.ID == id && (f.Type == api.FrameAck || f.Type == api.FrameError) {
				return f
			}
		}
	}
	if f := pub("first", 1); f.Type != api.FrameAck || f.Msg.Epoch != 1 {
		t.Fatalf("pub for epoch 1 before the seal: %+v", f)
	}
	if err := svc.Seal(ctx, room, `{"change":"mediator.recused"}`); err != nil {
		t.Fatal(err)
	}
	f := pub("stale", 1)
	if f.Type != api.FrameError || f.Code != api.CodeEpochMoved || f.Epoch != 2 || f.Room != "joint" {
		t.Fatalf("pub for epoch 1 after the seal: %+v, want a %q error naming epoch 2", f, api.CodeEpochMoved)
	}
	if f := pub("fresh", 2); f.Type != api.FrameAck || f.Msg.Pos() != (api.Position{Epoch: 2, Offset: 1}) {
		t.Fatalf("pub for epoch 2: %+v", f)
	}
	if f := pub("any", 0); f.Type != api.FrameAck || f.Msg.Pos() != (api.Position{Epoch: 2, Offset: 2}) {
		t.Fatalf("pub naming no epoch: %+v", f)
	}
	msgs, _, err := svc.Page(ctx, room, messaging.Position{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "first,fresh,any" {
		t.Fatalf("room holds %v; the stale body must not be stored", ids)
	}
}
