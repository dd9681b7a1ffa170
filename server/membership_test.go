package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
)

// TestMembershipChangeIsAnEventInTheRoomAndTheAuditLog: a party joining
// seals the joint room and their caucus into a new epoch (an event every
// connected member sees) and is audited.
func TestMembershipChangeIsAnEventInTheRoomAndTheAuditLog(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	p := seedCase(t, n)
	ch, err := client.New(n.URL, p.med.Token).Chat(ctx, p.caseID, map[string]*messaging.Position{"joint": nil, "caucus:B": nil, "caucus:A": nil})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	before := n.Audit.Size()
	inv, err := p.med.Invite(ctx, p.caseID, "counsel", "A", "Counsel for Avery", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(n.URL, "").Join(ctx, inv.Link); err != nil {
		t.Fatal(err)
	}
	sealed := map[string]bool{}
	deadline := time.After(5 * time.Second)
	for len(sealed) < 2 {
		select {
		case ev := <-ch.Events():
			if ev.Seal != nil {
				if !strings.Contains(ev.Seal.Reason, "participant.joined") {
					t.Fatalf("seal reason %q", ev.Seal.Reason)
				}
				sealed[ev.Room] = true
			}
		case <-deadline:
			t.Fatalf("sealed rooms %v, want joint and caucus:A", sealed)
		}
	}
	if !sealed["joint"] || !sealed["caucus:A"] || sealed["caucus:B"] {
		t.Fatalf("sealed rooms %v, want exactly joint and caucus:A", sealed)
	}
	found := false
	for i := before; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "room.membership" && ev.Attrs["change"] == "participant.joined" {
			found = true
		}
	}
	if !found {
		t.Fatal("no room.membership event in the audit log")
	}
	// The next message opens the new epoch (seedCase's two joins made
	// epochs 2 and 3; this join, 4).
	m, err := ch.Send(ctx, "joint", "after-join", []byte("x"))
	if err != nil || m.Epoch != 4 || m.Offset != 1 {
		t.Fatalf("first message after the join: %+v %v", m, err)
	}
}

// TestWebSocketFromForeignOriginRefused: cross-site WebSocket hijacking.
func TestWebSocketFromForeignOriginRefused(t *testing.T) {
	n := nodetest.Embedded(t)
	p := seedCase(t, n)
	url := strings.Replace(n.URL, "http", "ws", 1) + "/api/v1/cases/" + p.caseID + "/ws"
	h := http.Header{}
	h.Set("Cookie", "parley_session="+p.partyA.Token)
	h.Set("Origin", "https://evil.example")
	_, res, err := websocket.DefaultDialer.Dial(url, h)
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign-origin WebSocket: err %v, response %v", err, res)
	}
	h.Set("Origin", n.URL)
	ws, _, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatalf("same-origin WebSocket refused: %v", err)
	}
	ws.Close()
}

// TestOversizedFrameClosesWith1009.
func TestOversizedFrameClosesWith1009(t *testing.T) {
	n := nodetest.Embedded(t)
	p := seedCase(t, n)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+p.partyA.Token)
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(n.URL, "http", "ws", 1)+"/api/v1/cases/"+p.caseID+"/ws", h)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte(`{"t":"pub","room":"joint","id":"x","body":"`+strings.Repeat("A", api.MaxFrame)+`"}`))
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("want close 1009, got %v", err)
		}
		return
	}
}
