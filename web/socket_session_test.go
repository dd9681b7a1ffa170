package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
)

// TestSocketSignedOutDuringStartIsClosed: a session that ends after the
// handshake authenticated it but before the connection watches its
// session topics (so the sign-out's announcement reached no one) closes
// the connection with 4001 at once, not at the fallback check a minute
// later. The test signs out in exactly that window: before the
// connection starts, announcing nothing.
func TestSocketSignedOutDuringStartIsClosed(t *testing.T) {
	svc := dirService(t)
	var signedOut atomic.Bool
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		// The handshake's authentication passed; the person signs out
		// now, before the connection watches for it.
		signedOut.Store(true)
		serveSocket(context.Background(), svc, ws, socketOptions{User: "u_a", Auth: &gatedAuth{}, Watch: "case:c_start",
			SessionTopics: []string{"session:s_start", "account:u_a"},
			Session: func(context.Context) sessionState {
				if signedOut.Load() {
					return sessionEnded
				}
				return sessionValid
			}})
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// Bounded well below fallbackCheck, the fallback that would close it
	// without the check at start.
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, api.CloseSessionEnded) {
			t.Fatalf("connection of a signed-out session: %v, want close %d", err, api.CloseSessionEnded)
		}
		return
	}
}
