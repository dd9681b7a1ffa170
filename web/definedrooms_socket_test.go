package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
)

// TestDefinedRoomNotOnOutsidersSocket: a mediator opens and closes a room
// of themselves and side A's party while side B's party has the case's
// socket open. The opening and closing are announced on the case's broker
// topic, but side B's socket gets no frame from them: the next frame it
// receives is the joint-room message the mediator posts afterwards, and no
// frame before it names the room, its label or its people.
func TestDefinedRoomNotOnOutsidersSocket(t *testing.T) {
	k := newIsolationCast(t)
	n := k.node
	url := strings.Replace(n.URL, "http", "ws", 1) + "/api/v1/cases/" + k.caseID + "/ws"
	dial := func(who string) *websocket.Conn {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+k.as[who].Token)
		ws, _, err := websocket.DefaultDialer.Dial(url, h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		return ws
	}
	// next reads frames until one matches, failing on a frame that names
	// what side B must not learn.
	next := func(ws *websocket.Conn, forbidden []string, match func(api.ServerFrame) bool) {
		t.Helper()
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("socket ended before the frame awaited: %v", err)
			}
			for _, s := range forbidden {
				if s != "" && bytes.Contains(data, []byte(s)) {
					t.Fatalf("side B's socket got a frame naming %q: %.200s", s, data)
				}
			}
			var f api.ServerFrame
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatal(err)
			}
			if match(f) {
				return
			}
		}
	}
	b := dial("partyB")
	b.WriteJSON(api.ClientFrame{Type: "sub", Room: "joint"})
	next(b, nil, func(f api.ServerFrame) bool { return f.Type == "subscribed" && f.Room == "joint" })

	const id = "0123456789abcdef0123456789abcdef"
	label := "Quiet word with the buyer"
	var opened api.DefinedRoom
	if err := k.as["mediator"].Do(t.Context(), "POST", "/api/v1/cases/"+k.caseID+"/defined-rooms",
		api.OpenRoomRequest{ID: id, Label: label, Members: []string{k.id["mediator"], k.id["partyA"]}}, &opened); err != nil {
		t.Fatal(err)
	}
	if err := k.as["mediator"].Do(t.Context(), "POST", "/api/v1/cases/"+k.caseID+"/defined-rooms/"+opened.Room+"/close", struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	m := dial("mediator")
	m.WriteJSON(api.ClientFrame{Type: "pub", Room: "joint", ID: "m-1", Body: []byte("after the room")})
	next(m, nil, func(f api.ServerFrame) bool { return f.Type == "ack" })
	forbidden := []string{id, opened.Room, label, k.id["partyA"], "room.opened", "room.closed"}
	next(b, forbidden, func(f api.ServerFrame) bool { return f.Type == "msgs" && f.Room == "joint" })
}
