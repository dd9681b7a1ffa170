package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/parley-mediation/parley/api"
)

// TestFrameLimitsSlowAConnection: a client that sends frames faster than
// its connection's limits (frames, and subscribes on their own) is not
// served faster than the limits allow: the reader waits before the next
// frame. The limits here are small so that the wait is measurable; the
// check is a lower bound on the time, which a limit that does not hold
// fails and a slow machine cannot.
func TestFrameLimitsSlowAConnection(t *testing.T) {
	for _, tc := range []struct {
		name         string
		frames, subs *rate.Limiter
		n            int
		least        time.Duration
	}{
		// 22 frames, 2 at once, then one per 20 ms. The reader takes a
		// frame's token before it reads the frame, so the first token
		// goes as the connection opens, before start; the bucket holds
		// at most 2 at start, and the other 19 come at one per 20 ms:
		// at least 380 ms.
		{"frames", rate.NewLimiter(rate.Every(20*time.Millisecond), 2), rate.NewLimiter(rate.Inf, 1), 22, 380 * time.Millisecond},
		// 22 subscribes, taken as each is handled (after start), 2 at
		// once, then one per 20 ms: at least 400 ms.
		{"subscribes", rate.NewLimiter(rate.Inf, 1), rate.NewLimiter(rate.Every(20*time.Millisecond), 2), 22, 400 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := dirService(t)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := upgrader.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				serveSocket(r.Context(), svc, ws, socketOptions{User: "u_limits", Auth: idleRoomAuth{}, Frames: tc.frames, Subs: tc.subs})
			}))
			defer srv.Close()
			ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			start := time.Now()
			for i := range tc.n {
				data, _ := json.Marshal(api.ClientFrame{Type: api.FrameSub, Room: fmt.Sprintf("room-%d", i)})
				if err := ws.WriteMessage(websocket.TextMessage, data); err != nil {
					t.Fatal(err)
				}
			}
			ws.SetReadDeadline(time.Now().Add(20 * time.Second))
			for got := 0; got < tc.n; {
				var f api.ServerFrame
				if err := ws.ReadJSON(&f); err != nil {
					t.Fatalf("after %d subscribed: %v", got, err)
				}
				switch f.Type {
				case api.FrameSubscribed:
					got++
				case api.FrameError:
					t.Fatalf("error frame: %s %s", f.Code, f.Detail)
				}
			}
			if took := time.Since(start); took < tc.least {
				t.Fatalf("%d subscribes were served in %v, faster than the limit allows (%v)", tc.n, took, tc.least)
			}
		})
	}
}

// TestDefaultFrameLimitsLetABrowserReconnect: the default limits let a
// reconnecting client's subscribes for many rooms and a full window of
// resent publishes through at once (the bursts), so a browser never waits
// on them.
func TestDefaultFrameLimitsLetABrowserReconnect(t *testing.T) {
	frames, subs := rate.NewLimiter(frameRate, frameBurst), rate.NewLimiter(subRate, subBurst)
	now := time.Now()
	if !frames.AllowN(now, 64+maxInFlight) {
		t.Fatalf("the frame burst (%d) does not take 64 subscribes and %d publishes", frameBurst, maxInFlight)
	}
	if !subs.AllowN(now, 64) {
		t.Fatalf("the subscribe burst (%d) does not take 64 rooms", subBurst)
	}
}
