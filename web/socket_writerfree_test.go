package web

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
)

// storeGate stands in for a check's store reads: once armed, a call waits
// until the gate is released (or the connection's context ends).
type storeGate struct {
	armed   atomic.Bool
	done    atomic.Int32 // calls that returned
	inside  atomic.Int32 // calls waiting now
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func newStoreGate() *storeGate {
	return &storeGate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *storeGate) read(ctx context.Context) {
	defer g.done.Add(1)
	if !g.armed.Load() {
		return
	}
	g.inside.Add(1)
	defer g.inside.Add(-1)
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.release:
	case <-ctx.Done():
	}
}

// gateAuth lets the connection into any room, reading through g.
type gateAuth struct{ g *storeGate }

func (a gateAuth) Resolve(ctx context.Context, name, _ string) (messaging.Room, error) {
	a.g.read(ctx)
	return messaging.Room{ID: "r_gate", Name: name}, nil
}

func (gateAuth) Invalidate() {}

// TestFramesNeverWaitBehindChecks: the checks an announcement starts —
// the person's floor view (a floor change: a hand raised, a timer set in
// the other side's caucus), the re-check of their rooms (a room opened or
// closed among other people), their session — read the store. While
// those reads are slow, the connection's other frames still go out: a
// malformed frame's error comes back at once. Before, the checks ran on
// the connection's writer and the error waited behind them, so the other
// side's lawyer, timing the echoes of frames they sent, could tell when
// the other side's caucus was active (review: a timing channel).
func TestFramesNeverWaitBehindChecks(t *testing.T) {
	const topic = "case:c_wf"
	cases := []struct {
		name     string
		opts     func(g *storeGate) socketOptions
		prepare  func(t *testing.T, ws *websocket.Conn)
		announce func(svc *messaging.Service) // what starts the slow check
	}{
		{
			name: "floor",
			opts: func(g *storeGate) socketOptions {
				return socketOptions{User: "u_b", Auth: idleRoomAuth{}, Watch: topic,
					Floor: func(ctx context.Context, _ floorCall) []byte { g.read(ctx); return nil }}
			},
			announce: func(svc *messaging.Service) {
				svc.Announce(context.Background(), topic, []byte(`{"floor":1}`))
			},
		},
		{
			name: "recheck",
			opts: func(g *storeGate) socketOptions {
				return socketOptions{User: "u_b", Auth: gateAuth{g}, Watch: topic}
			},
			prepare: func(t *testing.T, ws *websocket.Conn) {
				sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "caucus-B"})
				nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
			},
			announce: func(svc *messaging.Service) {
				svc.Announce(context.Background(), topic, []byte(`{"change":"room.opened","account":"u_med"}`))
			},
		},
		{
			// The periodic session check: an announcement on the
			// session's topics ends sessions (a sign-out, a password
			// changed), and holds this person's own frames until the
			// check decides (TestEverySessionEndingAnnouncementHolds) —
			// an announcement of their own account, not of anyone
			// else's activity.
			name: "session",
			opts: func(g *storeGate) socketOptions {
				return socketOptions{User: "u_b", Auth: idleRoomAuth{}, Watch: topic,
					SessionTopics: []string{"session:s_wf"}, Fallback: 20 * time.Millisecond,
					Session: func(ctx context.Context) sessionState { g.read(ctx); return sessionValid }}
			},
			announce: func(*messaging.Service) {},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := dirService(t)
			g := newStoreGate()
			t.Cleanup(func() { close(g.release) })
			ws := optionsSocket(t, svc, tc.opts(g))
			if tc.prepare != nil {
				tc.prepare(t, ws)
			}
			// The connection's starting check (its floor view, its
			// session) has read without waiting; from now on reads wait.
			for deadline := time.Now().Add(10 * time.Second); tc.prepare == nil && g.done.Load() == 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the connection's starting check never ran")
				}
			}
			g.armed.Store(true)
			// Announce until a check waits on the store (bounded: the
			// connection watches its topics once it has started).
			for deadline := time.Now().Add(10 * time.Second); ; {
				tc.announce(svc)
				select {
				case <-g.entered:
				case <-time.After(20 * time.Millisecond):
					if time.Now().After(deadline) {
						t.Fatal("no check started on the announcement")
					}
					continue
				}
				break
			}
			if err := ws.WriteMessage(websocket.TextMessage, []byte("{")); err != nil {
				t.Fatal(err)
			}
			// A bound, not a timing: the check never returns until
			// released, so the error either does not wait for it or
			// never comes.
			ws.SetReadDeadline(time.Now().Add(2 * time.Second))
			for {
				var f api.ServerFrame
				if err := ws.ReadJSON(&f); err != nil {
					t.Fatalf("no error frame for a malformed frame while a %s check waits on the store: %v", tc.name, err)
				}
				if f.Type == api.FrameError && f.Code == api.CodeInvalid {
					break
				}
			}
			if g.inside.Load() == 0 {
				t.Fatal("the check was no longer waiting: the test proved nothing")
			}
		})
	}
}
