package web_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestStatementUnseatingClosesRoomsAtOnce: a co-mediator, admitted and
// subscribed to the joint room, is signed out of the case's membership by
// the seated mediator's next statement while still on the case record.
// Their open socket is told "you are no longer in this room" within
// about a second: the stored statement is announced on the case's topic,
// so the socket puts its cached rights in doubt and re-checks with the
// node's seats forgotten. Before, the key directory only forgot its own
// node's cached seats and announced nothing, and the socket kept its
// cached right to the room until its check a minute later (review 395).
func TestStatementUnseatingClosesRoomsAtOnce(t *testing.T) {
	n := nodetest.Embedded(t)
	unseatingEndsRooms(t, n, n)
}

// TestStatementUnseatingClosesRoomsOnOtherNodes: as
// TestStatementUnseatingClosesRoomsAtOnce, with the co-mediator's socket
// on another node than the one that stores the statement. That node
// forgets its own cached seats when it hears the announcement, before its
// sockets re-check: otherwise a re-check within cases.SeatTTL of its last
// read of the seats would keep the room, and nothing would ask again
// before the socket's minute check.
func TestStatementUnseatingClosesRoomsOnOtherNodes(t *testing.T) {
	cfg := nodetest.Scale(t)
	unseatingEndsRooms(t, nodetest.Start(t, cfg), nodetest.Start(t, cfg))
}

// unseatingEndsRooms: the statement is posted on node n, the
// co-mediator's socket is on node on.
func unseatingEndsRooms(t *testing.T, n, on *nodetest.Node) {
	ctx := t.Context()
	m1, m1C := n.Staff(t, policy.RoleMediator, "m1@example.org")
	m2, m2C := n.Staff(t, policy.RoleMediator, "m2@example.org")
	c, err := m1C.CreateCase(ctx, "Flat 3", "neighbour", "", []string{"Lee", "Park"})
	if err != nil {
		t.Fatal(err)
	}
	if err := addMediator(t, m1C, c.ID, m2.ID); err != nil {
		t.Fatal(err)
	}
	x := newRegisteredDevice(t, m1C, m1.ID)
	sc, err := x.OpenSecureChat(ctx, c.ID, client.SecureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.Close)
	if err := sc.AdmitMediator(ctx, m2.ID); err != nil {
		t.Fatalf("admitting the co-mediator: %v", err)
	}
	seats := func(account string) bool {
		return slices.ContainsFunc(sc.Chain().Latest().People, func(p e2ee.Person) bool { return p.Account == account })
	}
	for deadline := time.Now().Add(20 * time.Second); sc.Chain().Latest() == nil || !seats(m2.ID); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the chain does not seat the co-mediator within 20 s")
		}
	}

	h := http.Header{}
	h.Set("Authorization", "Bearer "+m2C.Token)
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(on.URL, "http", "ws", 1)+"/api/v1/cases/"+c.ID+"/ws", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
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
	// The subscribe reads the seats on the socket's node (kept for
	// cases.SeatTTL), just before the statement.
	ws.WriteJSON(api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	for subscribed := false; !subscribed; {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatal("the co-mediator's socket ended before it subscribed")
			}
			if f.Type == api.FrameError {
				t.Fatalf("the admitted co-mediator's subscribe was refused: %+v", f)
			}
			subscribed = f.Type == api.FrameSubscribed && f.Room == "joint"
		case <-time.After(10 * time.Second):
			t.Fatal("the admitted co-mediator's socket did not subscribe within 10 s")
		}
	}

	// The seated mediator signs the next statement without them.
	latest := sc.Chain().Latest()
	var people []e2ee.Person
	for _, p := range latest.People {
		if p.Account != m2.ID {
			people = append(people, p)
		}
	}
	epochs := map[string]int64{}
	for _, r := range latest.Rooms {
		epochs[r.Name] = r.Epoch
	}
	next := e2ee.StatementFor(c.ID, people, []string{"A", "B"}, epochs)
	next.Seq, next.Prev = latest.Seq+1, latest.Hash()
	raw, err := next.Sign(x.Me)
	if err != nil {
		t.Fatal(err)
	}
	if err := m1C.Do(ctx, http.MethodPost, "/api/v1/cases/"+c.ID+"/e2ee/statements", api.RecordRequest{Record: raw}, nil); err != nil {
		t.Fatalf("the statement signing the co-mediator out: %v", err)
	}
	stored := time.Now()
	timeout := time.After(3 * time.Second)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("the socket ended %v after the statement without saying why", time.Since(stored).Round(time.Millisecond))
			}
			if f.Type == api.FrameError && f.Room == "joint" {
				if !strings.Contains(f.Detail, "no longer in this room") {
					b, _ := json.Marshal(f)
					t.Fatalf("the socket was told %s", b)
				}
				t.Logf("told %v after the statement", time.Since(stored).Round(time.Millisecond))
				return
			}
		case <-timeout:
			t.Fatal("3 s after a statement stopped seating the co-mediator, their socket still has the joint room")
		}
	}
}
