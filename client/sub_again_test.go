package client

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
)

// TestChatAsksAgainForSubscriptionNotTaken: a subscription the server
// could not take just then (an error frame refusing the sub as
// "unavailable") is asked again on the same connection, so Chat returns
// once the second is taken; before, the room was waited for until
// Chat's 30 s ran out. The server here is a script of two answers.
func TestChatAsksAgainForSubscriptionNotTaken(t *testing.T) {
	var subs atomic.Int32
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			var f api.ClientFrame
			if err := ws.ReadJSON(&f); err != nil {
				return
			}
			if f.Type != api.FrameSub {
				continue
			}
			answer := api.ServerFrame{Type: api.FrameError, Room: f.Room, Refused: api.FrameSub, Code: api.CodeUnavailable, Detail: "could not subscribe; try again"}
			if subs.Add(1) > 1 {
				answer = api.ServerFrame{Type: api.FrameSubscribed, Room: f.Room, Head: &api.Position{Epoch: 1, Offset: 0}}
			}
			b, _ := json.Marshal(answer)
			if ws.WriteMessage(websocket.TextMessage, b) != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "token")
	start := time.Now()
	ch, err := c.Chat(t.Context(), "c_1", map[string]*api.Position{"joint": nil})
	if err != nil {
		t.Fatalf("Chat: %v (after %d subscriptions)", err, subs.Load())
	}
	defer ch.Close()
	if n := subs.Load(); n != 2 {
		t.Fatalf("%d subscriptions sent, want 2", n)
	}
	if ch.Reconnects != 0 {
		t.Fatalf("asked again by reconnecting (%d), want on the same connection", ch.Reconnects)
	}
	t.Logf("subscribed after %v", time.Since(start).Round(time.Millisecond))
}
