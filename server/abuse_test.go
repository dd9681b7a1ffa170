package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
)

// TestMalformedFramesRefused: frames that are not JSON, binary, of an
// unknown type, with no room, an oversized id or a negative position are
// each answered with an "invalid" error; the socket stays usable and
// nothing reaches the room.
func TestMalformedFramesRefused(t *testing.T) {
	n := nodetest.Embedded(t)
	p := seedCase(t, n)
	ws := dialRoom(t, n.URL, p.caseID, p.partyA.Token) // subscribed to joint
	bad := []struct {
		kind int
		data string
	}{
		{websocket.TextMessage, `not json`},
		{websocket.TextMessage, `{"t":"pub","room":"joint","id":"x","body":"not base64!"}`},
		{websocket.TextMessage, `{"t":"launch","room":"joint"}`},
		{websocket.TextMessage, `{"t":"pub","id":"x","body":"eA=="}`},
		{websocket.TextMessage, `{"t":"pub","room":"joint","body":"eA=="}`},
		{websocket.TextMessage, `{"t":"pub","room":"joint","id":"","body":"eA=="}`},
		{websocket.TextMessage, `{"t":"sub","room":"joint","from":{"epoch":-1,"offset":0}}`},
		{websocket.TextMessage, `[1,2,3]`},
		{websocket.TextMessage, `{"t":"pub","room":"joint","id":"x","body":"eA==","t":"sub"}`},
		{websocket.BinaryMessage, "\x00\x01\x02"},
	}
	for _, b := range bad {
		if err := ws.WriteMessage(b.kind, []byte(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	ws.WriteJSON(api.ClientFrame{Type: "pub", Room: "joint", ID: "good", Body: []byte("ok")})
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	invalid, msgs := 0, 0
	for acked := false; !acked; {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("socket ended after malformed frames: %v", err)
		}
		var f api.ServerFrame
		json.Unmarshal(data, &f)
		switch f.Type {
		case "error":
			if f.Code == "invalid" {
				invalid++
			}
		case "msgs":
			msgs += len(f.Msgs)
		case "ack":
			acked = f.ID == "good"
		}
	}
	// The last-but-one frame is valid JSON whose duplicate key makes it a
	// subscription (JSON's last value wins): not an error.
	if invalid < len(bad)-1 {
		t.Fatalf("%d invalid answers for %d malformed frames", invalid, len(bad)-1)
	}
	var page struct {
		Messages []messaging.Message `json:"messages"`
	}
	if err := p.partyA.Do(t.Context(), http.MethodGet, "/api/v1/cases/"+p.caseID+"/rooms/joint/messages", nil, &page); err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, m := range page.Messages {
		if m.From != "" { // system events (joins) have no sender
			stored++
		}
	}
	if stored != 1 {
		t.Fatalf("%d messages stored after malformed frames and one good one, want 1", stored)
	}
}

// TestLargestBodyIsTaken: a pub whose body is api.MaxBody (64 KiB once in
// base64, plus its envelope) is acknowledged, not closed as too big (review:
// MaxFrame was 64 KiB, so the largest body allowed could never be sent).
func TestLargestBodyIsTaken(t *testing.T) {
	n := nodetest.Embedded(t)
	p := seedCase(t, n)
	ws := dialRoom(t, n.URL, p.caseID, p.partyA.Token) // subscribed to joint
	body := make([]byte, api.MaxBody)
	for i := range body {
		body[i] = byte(i)
	}
	if err := ws.WriteJSON(api.ClientFrame{Type: "pub", Room: "joint", ID: "largest", Body: body}); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("the socket ended before the largest body was acknowledged: %v", err)
		}
		var f api.ServerFrame
		json.Unmarshal(data, &f)
		if f.Type == "error" {
			t.Fatalf("the largest body was refused: %s", data)
		}
		if f.Type == "ack" && f.ID == "largest" {
			return
		}
	}
}
