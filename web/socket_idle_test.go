package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
)

// idleRoomAuth lets a connection into one room, whatever its name.
type idleRoomAuth struct{}

func (idleRoomAuth) Resolve(_ context.Context, name, _ string) (messaging.Room, error) {
	return messaging.Room{ID: "r_idle", Name: name}, nil
}

func (idleRoomAuth) Invalidate() {}

// TestIdleConnectionHoldsOneGoroutine: an idle subscribed connection —
// with every check a real one has (access announcements, session topics,
// a floor) — settles to one goroutine on the server, its reader: the
// writer is started for work and ends when there is none (issue #19, the
// idle memory per connection; a goroutine is its stack and the wait on
// its channels). A message then still reaches every idle connection, in
// order.
func TestIdleConnectionHoldsOneGoroutine(t *testing.T) {
	svc := dirService(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(r.Context(), svc, ws, socketOptions{User: "u_idle", Auth: idleRoomAuth{}, Watch: "case:c_idle",
			SessionTopics: []string{"session:s_idle"}, Session: func(context.Context) sessionState { return sessionValid },
			Floor: func(context.Context, floorCall) []byte { return nil }})
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	// settled polls (bounded) until the goroutine count is at most want
	// and returns the last count.
	settled := func(want int) int {
		n := runtime.NumGoroutine()
		for deadline := time.Now().Add(10 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
			time.Sleep(20 * time.Millisecond)
		}
		return n
	}
	// The service's own goroutines (the room's hub) come with the first
	// subscriber: one connection opens the room before the baseline.
	const n = 40
	var conns []*websocket.Conn
	defer func() {
		for _, ws := range conns {
			ws.Close()
		}
	}()
	open := func() *websocket.Conn {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, ws)
		data, _ := json.Marshal(api.ClientFrame{Type: api.FrameSub, Room: "joint"})
		if err := ws.WriteMessage(websocket.TextMessage, data); err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			var f api.ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				t.Fatalf("no subscription answer: %v", err)
			}
			if f.Type == api.FrameSubscribed {
				return ws
			}
		}
	}
	open()
	base := runtime.NumGoroutine()
	for range n {
		open()
	}
	// One goroutine per connection (its reader) and a few to spare for
	// the runtime's own.
	if got := settled(base+n+3) - base; got > n+3 {
		t.Fatalf("%d idle subscribed connections hold %d goroutines on the server; want one each", n, got)
	}

	// A message still reaches every connection: their writers start again.
	pub, _ := json.Marshal(api.ClientFrame{Type: api.FramePub, Room: "joint", ID: "m1", Body: []byte("after the idle")})
	if err := conns[0].WriteMessage(websocket.TextMessage, pub); err != nil {
		t.Fatal(err)
	}
	for i, ws := range conns {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			var f api.ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				t.Fatalf("connection %d: the message did not arrive: %v", i, err)
			}
			if f.Type == api.FrameMsgs && len(f.Msgs) > 0 && string(f.Msgs[0].Body) == "after the idle" {
				break
			}
		}
	}
}

// TestWriterEndsAndStartsWithoutLosingFrames: with a writer that ends
// after a few microseconds without work, frames queued while it is ending
// (the race between "no work: the writer goes" and Send) are written — by
// it, or by a writer started for them — once and in order, to every
// connection. Run with -race: at most one writer may touch a connection at
// a time, and every writer belongs to its connection's serveSocket.
func TestWriterEndsAndStartsWithoutLosingFrames(t *testing.T) {
	svc := dirService(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(r.Context(), svc, ws, socketOptions{User: "u_linger", Auth: idleRoomAuth{}, Linger: 20 * time.Microsecond})
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	const members, msgs = 4, 300
	var conns []*websocket.Conn
	defer func() {
		for _, ws := range conns {
			ws.Close()
		}
	}()
	for range members {
		conns = append(conns, dialSubscribed(t, url))
	}
	// The publisher sends one message at a time, and every connection
	// must receive it (the publisher also its acknowledgement) before the
	// next, sometimes after a pause of about the linger: so each frame
	// reaches a writer that has just ended, is ending or lingers, and a
	// frame left in a queue with no writer to send it (until the next
	// frame, or the next ping 20 s later) fails the test here.
	pub := conns[0]
	for k := range msgs {
		body := fmt.Sprintf("b%03d", k)
		data, _ := json.Marshal(api.ClientFrame{Type: api.FramePub, Room: "joint", ID: fmt.Sprintf("m%d", k), Body: []byte(body)})
		if err := pub.WriteMessage(websocket.TextMessage, data); err != nil {
			t.Fatal(err)
		}
		for i, ws := range conns {
			acked, got := i != 0, false
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			for !acked || !got {
				var f api.ServerFrame
				if err := ws.ReadJSON(&f); err != nil {
					t.Fatalf("connection %d, message %d: acknowledged %v, received %v, then %v", i, k, acked, got, err)
				}
				switch f.Type {
				case api.FrameAck:
					acked = acked || f.ID == fmt.Sprintf("m%d", k)
				case api.FrameMsgs:
					for _, m := range f.Msgs {
						if string(m.Body) != body || got {
							t.Fatalf("connection %d: received %q (again or out of order) waiting for %q", i, m.Body, body)
						}
						got = true
					}
				}
			}
		}
		if k%3 == 0 {
			deadline := time.Now().Add(time.Duration(k%50) * time.Microsecond)
			for time.Now().Before(deadline) {
				runtime.Gosched()
			}
		}
	}
}

// deepAuth lets a connection into one room after using about 16 KiB of
// its caller's stack, as the policy evaluation behind a real Resolve
// does: the reader's stack grows while it subscribes.
type deepAuth struct{}

func (deepAuth) Resolve(ctx context.Context, name, action string) (messaging.Room, error) {
	burnStack(64)
	return idleRoomAuth{}.Resolve(ctx, name, action)
}

func (deepAuth) Invalidate() {}

//go:noinline
func burnStack(n int) byte {
	var pad [256]byte
	pad[n%len(pad)] = byte(n)
	if n > 0 {
		return burnStack(n-1) + pad[0]
	}
	return pad[1]
}

// TestIdleSocketStack: once a connection has subscribed (growing its
// reader's stack) and gone idle, the runtime shrinks the reader's stack
// to 4 KiB: serve keeps little on the stack under the reader's wait
// (issue #19, the idle memory per connection; before, serveSocket's and
// the handler closure's frames under it kept every idle reader at
// 8 KiB; later, a closure around serve that gave back the connection's
// place, which kept them at 8 KiB again). The connections run as
// roomSocket runs them: on a goroutine of their own started by
// sync.WaitGroup.Go with the socket's serve itself, and an Ended option.
func TestIdleSocketStack(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes the stack's frames")
	}
	svc := dirService(t)
	var sockets sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ended := func() {}
		sockets.Go(newSocket(ctx, svc, ws, socketOptions{User: "u_stack", Auth: deepAuth{}, Linger: 10 * time.Millisecond, Ended: ended}).serve)
	}))
	defer func() {
		srv.Close()
		cancel()
		sockets.Wait()
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var conns []*websocket.Conn
	defer func() {
		for _, ws := range conns {
			ws.Close()
		}
	}()
	open := func() {
		conns = append(conns, dialSubscribed(t, url))
	}
	// stacks collects until the goroutine count and the stack memory hold
	// still (each collection halves the stacks that may shrink) and
	// returns the stack memory and the goroutine count.
	stacks := func() (uint64, int) {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
		var last uint64
		var g int
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			runtime.GC()
			metrics.Read(sample)
			cur, n := sample[0].Value.Uint64(), runtime.NumGoroutine()
			if cur == last && n == g {
				break
			}
			last, g = cur, n
			time.Sleep(20 * time.Millisecond)
		}
		return last, g
	}
	open()
	base, baseG := stacks()
	const n = 200
	for range n {
		open()
	}
	after, afterG := stacks()
	per := float64(int64(after)-int64(base)) / n
	t.Logf("%d idle connections: %.0f bytes of stack each, %d goroutines more", n, per, afterG-baseG)
	if afterG-baseG > n+3 {
		t.Fatalf("%d idle connections hold %d goroutines; want one each", n, afterG-baseG)
	}
	if per > 6<<10 {
		t.Fatalf("an idle connection holds %.0f bytes of stack; want its reader's stack shrunk to 4 KiB", per)
	}
}

// TestLargeFrameThroughSmallReadBuffer: a publish many times the size of
// the upgrader's read buffer (kept small for idle connections) arrives
// whole, and is acknowledged and delivered.
func TestLargeFrameThroughSmallReadBuffer(t *testing.T) {
	svc := dirService(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(r.Context(), svc, ws, socketOptions{User: "u_large", Auth: idleRoomAuth{}})
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	body := make([]byte, 40<<10)
	for i := range body {
		body[i] = byte(i * 7)
	}
	for _, f := range []api.ClientFrame{{Type: api.FrameSub, Room: "joint"}, {Type: api.FramePub, Room: "joint", ID: "big", Body: body}} {
		data, _ := json.Marshal(f)
		if f.Type == api.FramePub && len(data) < 64*upgrader.ReadBufferSize {
			t.Fatalf("the frame (%d bytes) is not many times the read buffer (%d)", len(data), upgrader.ReadBufferSize)
		}
		if err := ws.WriteMessage(websocket.TextMessage, data); err != nil {
			t.Fatal(err)
		}
	}
	acked, delivered := false, false
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !acked || !delivered {
		var f api.ServerFrame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("acknowledged %v, delivered %v, then %v", acked, delivered, err)
		}
		switch f.Type {
		case api.FrameAck:
			acked = f.ID == "big"
		case api.FrameMsgs:
			for _, m := range f.Msgs {
				if slices.Equal(m.Body, body) {
					delivered = true
				}
			}
		case api.FrameError:
			t.Fatalf("error frame: %s %s", f.Code, f.Detail)
		}
	}
}

// TestFrameQueuedAsWriterEnds: a frame queued at the moment the writer has
// lingered without work and is about to end — its last look for work not
// yet taken — is written, by that writer, at once (not left in the queue
// until the next frame or ping starts another writer).
func TestFrameQueuedAsWriterEnds(t *testing.T) {
	svc := dirService(t)
	const frames = 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		sent := 0 // only the writer calls lingered, one at a time
		serveSocket(r.Context(), svc, ws, socketOptions{User: "u_ending", Auth: idleRoomAuth{}, Linger: time.Millisecond,
			lingered: func(c *socket) {
				if sent < frames {
					sent++
					c.Send(encodeFrame(api.ServerFrame{Type: api.FrameError, Detail: fmt.Sprintf("queued as the writer ends %d", sent)}))
				}
			}})
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// The subscription's answer starts the first writer.
	data, _ := json.Marshal(api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	if err := ws.WriteMessage(websocket.TextMessage, data); err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= frames; k++ {
		want := fmt.Sprintf("queued as the writer ends %d", k)
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			var f api.ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				t.Fatalf("frame %d, queued as the writer was ending, was not written: %v", k, err)
			}
			if f.Type == api.FrameError && f.Detail == want {
				break
			}
		}
	}
}
