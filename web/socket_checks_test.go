package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
)

// gatedAuth is an Authorizer whose access check (of a connection with no
// room subscribed: caseGone, its CaseGone) waits at a gate, as a slow
// store read does; it counts the checks. Invalidate, called from the
// broker's callback, must not block, and does not.
type gatedAuth struct {
	calls   atomic.Int32
	entered chan struct{}
	gate    chan struct{}
}

func (a *gatedAuth) Resolve(context.Context, string, string) (messaging.Room, error) {
	return messaging.Room{}, nil
}

func (a *gatedAuth) Invalidate() {}

func (a *gatedAuth) caseGone(context.Context) (bool, error) {
	if a.calls.Add(1) == 1 {
		close(a.entered)
	}
	<-a.gate
	return false, nil
}

// TestAnnouncementsAreCoalescedPerConnection: a burst of access-change
// announcements while a check is running leaves one more check to do, not
// a goroutine per announcement (issue #19).
func TestAnnouncementsAreCoalescedPerConnection(t *testing.T) {
	svc := dirService(t)
	auth := &gatedAuth{entered: make(chan struct{}), gate: make(chan struct{})}
	ended := make(chan struct{})
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(context.Background(), svc, ws, socketOptions{User: "u_a", Auth: auth, Watch: "case:c_burst", CaseGone: auth.caseGone})
		close(ended)
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ctx := t.Context()
	// Wait (bounded) until the connection watches its topic: the first
	// announcement then starts a check, which waits at the gate.
	deadline := time.Now().Add(10 * time.Second)
	for {
		svc.Announce(ctx, "case:c_burst", []byte("x"))
		select {
		case <-auth.entered:
		case <-time.After(20 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no check started")
			}
			continue
		}
		break
	}
	before := runtime.NumGoroutine()
	for range 1000 {
		svc.Announce(ctx, "case:c_burst", []byte("x"))
	}
	grown := runtime.NumGoroutine() - before
	close(auth.gate)
	if grown > 20 {
		t.Fatalf("1,000 announcements during a check started %d goroutines", grown)
	}
	for range 200 { // bounded: the pending check runs
		if auth.calls.Load() >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := auth.calls.Load(); n < 2 || n > 3 {
		t.Fatalf("the burst led to %d checks; want the running one and one more", n)
	}
	ws.Close()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection did not end")
	}
}

// checkedSocket serves one connection with auth, watching a case topic
// and checking every fallback, and dials it; the test's cleanup closes
// both.
func checkedSocket(t *testing.T, auth messaging.Authorizer, fallback time.Duration) *websocket.Conn {
	t.Helper()
	svc := dirService(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(r.Context(), svc, ws, socketOptions{User: "u_checked", Auth: auth, Watch: "case:c_checked", Fallback: fallback})
	}))
	t.Cleanup(srv.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteJSON(api.ClientFrame{Type: api.FrameSub, Room: "caucus-A"}); err != nil {
		t.Fatal(err)
	}
	return ws
}

// flipAuth allows every room until lost is set, then answers that access
// to the case ended.
type flipAuth struct{ lost atomic.Bool }

func (a *flipAuth) Resolve(_ context.Context, name, _ string) (messaging.Room, error) {
	if a.lost.Load() {
		return messaging.Room{}, messaging.ErrAccessLost
	}
	return messaging.Room{ID: "r_flip", Name: name}, nil
}

func (a *flipAuth) Invalidate() {}

// TestLostAnnouncementStillEndsAccess: access to the case ends and its
// announcement never arrives (the broker's are at most once: a Redis blip
// or a dropped message). The connection's fallback check asks about its
// rooms again unannounced and closes it with CloseAccessLost; before, only
// an announcement led to a re-check, and a recused mediator's open socket
// kept its caucus for as long as it stayed open.
func TestLostAnnouncementStillEndsAccess(t *testing.T) {
	auth := &flipAuth{}
	ws := checkedSocket(t, auth, 50*time.Millisecond)
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f api.ServerFrame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("before subscribed: %v", err)
		}
		if f.Type == api.FrameSubscribed {
			break
		}
	}
	auth.lost.Store(true) // and nothing is announced
	for {
		var f api.ServerFrame
		err := ws.ReadJSON(&f)
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, api.CloseAccessLost) {
			t.Fatalf("the connection ended with %v, not %d (access lost), within 10 s", err, api.CloseAccessLost)
		}
		return
	}
}

// blipAuth answers as caucus's connection authorizer does when the store
// fails a read: an error that decided nothing (not ErrForbidden). It
// counts the answers given while the store is down.
type blipAuth struct {
	down     atomic.Bool
	duringUp atomic.Int32
}

func (a *blipAuth) Resolve(_ context.Context, name, _ string) (messaging.Room, error) {
	if a.down.Load() {
		a.duringUp.Add(1)
		return messaging.Room{}, errors.New("objstore: get: storage unavailable")
	}
	return messaging.Room{ID: "r_blip", Name: name}, nil
}

func (a *blipAuth) Invalidate() {}

// TestStoreBlipKeepsRooms: the fallback checks a connection's rooms every
// minute; one that falls in a storage blip decided nothing, so the
// connection keeps its room (and is not told it is no longer in it).
func TestStoreBlipKeepsRooms(t *testing.T) {
	auth := &blipAuth{}
	ws := checkedSocket(t, auth, 20*time.Millisecond)
	frames := make(chan api.ServerFrame, 64)
	go func() {
		defer close(frames)
		for {
			var f api.ServerFrame
			if ws.ReadJSON(&f) != nil {
				return
			}
			frames <- f
		}
	}()
	for f := range frames {
		if f.Type == api.FrameSubscribed {
			break
		}
	}
	auth.down.Store(true)
	for deadline := time.Now().Add(10 * time.Second); auth.duringUp.Load() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d fallback checks during the blip, want 3: the room was dropped after a check that decided nothing", auth.duringUp.Load())
		}
	}
	auth.down.Store(false)
	// Publish: the room is still subscribed, so the message comes back.
	if err := ws.WriteJSON(api.ClientFrame{Type: api.FramePub, Room: "caucus-A", ID: "m1", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatal("the connection ended")
			}
			if f.Type == api.FrameError {
				t.Fatalf("during a store blip: %s %q (room %s)", f.Code, f.Detail, f.Room)
			}
			if f.Type == api.FrameMsgs {
				return
			}
		case <-timeout:
			t.Fatal("the message never came back: the room was dropped")
		}
	}
}
