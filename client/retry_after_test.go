package client

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
)

// TestChatReconnectHonoursRetryAfter: a reconnection refused with 429 and
// Retry-After (too many connections open for the session) is not tried
// again before the wait the server asked for; before, Chat came back
// after its own backoff (100 ms here). The server is a script: the first
// connection is taken and dropped, the next dial refused with
// Retry-After: 1, the one after taken.
func TestChatReconnectHonoursRetryAfter(t *testing.T) {
	var (
		mu    sync.Mutex
		dials []time.Time
	)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		dials = append(dials, time.Now())
		n := len(dials)
		mu.Unlock()
		if n == 2 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"type":"about:blank","title":"Too many connections","status":429,"code":"too-many-connections"}`))
			return
		}
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
			b, _ := json.Marshal(api.ServerFrame{Type: api.FrameSubscribed, Room: f.Room, Head: &api.Position{Epoch: 1, Offset: 0}})
			if ws.WriteMessage(websocket.TextMessage, b) != nil {
				return
			}
			if n == 1 {
				return // the first connection drops once subscribed
			}
		}
	}))
	defer srv.Close()
	ch, err := New(srv.URL, "token").Chat(t.Context(), "c_1", map[string]*api.Position{"joint": nil})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	defer ch.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(dials)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dials after 20 s, want 3", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	gap := dials[2].Sub(dials[1])
	mu.Unlock()
	if gap < time.Second {
		t.Fatalf("dialled again %v after a 429 with Retry-After: 1, want at least 1 s", gap)
	}
}
