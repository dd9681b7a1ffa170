package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/messaging"
)

// TestSlowConsumer: a WebSocket client that stops reading while its three
// rooms are busy is closed with 4008 (its send queue overflowed) once it
// reads again, and recovers every acknowledged message — exactly once, in
// order — by reconnecting and resuming after the last position it got.
//
// The nodes run with a send queue of 16 frames (`--ws-send-queue`, default
// 1,024) and the client with a small receive buffer, so a couple of hundred
// 40 KiB messages are enough to overflow it; the mechanism is the one every
// queue size uses.
func TestSlowConsumer(t *testing.T) {
	const queue, perRoom, bodySize = 16, 60, 40 << 10
	c := newCluster(t, 2, "--ws-send-queue", fmt.Sprint(queue))
	cv := startConversation(t, c)
	ctx := context.Background()

	// The slow reader: the mediator's own raw socket on four rooms.
	rooms := []string{"joint", "mediators", "caucus:A", "caucus:B"}
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: (&net.Dialer{
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			return serr
		}}).DialContext}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+cv.tokens["mediator"])
	ws, _, err := dialer.Dial(strings.Replace(c.lb.URL, "http", "ws", 1)+"/api/v1/cases/"+cv.caseID+"/ws", h)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	pos := map[string]messaging.Position{}
	received := map[string][]messaging.Message{}
	for _, r := range rooms {
		ws.WriteJSON(api.ClientFrame{Type: "sub", Room: r})
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for confirmed := 0; confirmed < len(rooms); {
		var f api.ServerFrame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("subscribing: %v", err)
		}
		if f.Type == "subscribed" && f.Head != nil {
			pos[f.Room] = *f.Head
			confirmed++
		}
	}

	// It stops reading; everyone talks, each in a room it reads (the
	// mediator in two).
	senders := map[string]string{"mediator": "joint", "mediator/2": "mediators", "partyA": "caucus:A", "partyB": "caucus:B"}
	acked := map[string][]string{}
	var mu sync.Mutex
	sent := 0
	var wg sync.WaitGroup
	start := time.Now()
	for who, room := range senders {
		wg.Go(func() {
			body := []byte(strings.Repeat("x", bodySize))
			for i := range perRoom {
				id := fmt.Sprintf("%s-%d", who, i)
				sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err := cv.chats[strings.TrimSuffix(who, "/2")].Send(sctx, room, id, body)
				cancel()
				mu.Lock()
				sent++
				if err == nil {
					acked[room] = append(acked[room], id)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	stalled := time.Since(start)

	// It reads again: what was queued or buffered, then the close.
	closeCode := 0
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				closeCode = ce.Code
			} else {
				t.Logf("socket ended without a close frame: %v", err)
			}
			break
		}
		var f api.ServerFrame
		if json.Unmarshal(data, &f) != nil || f.Type != "msgs" {
			continue
		}
		for _, m := range f.Msgs {
			if pos[f.Room].Before(m.Pos()) {
				received[f.Room] = append(received[f.Room], m)
				pos[f.Room] = m.Pos()
			}
		}
	}
	beforeClose := 0
	for _, ms := range received {
		beforeClose += len(ms)
	}

	// It reconnects and resumes after the last position it got.
	from := map[string]*messaging.Position{}
	for _, r := range rooms {
		p := pos[r]
		from[r] = &p
	}
	ch, err := client.New(c.lb.URL, cv.tokens["mediator"]).Chat(ctx, cv.caseID, from)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	want := 0
	for _, ids := range acked {
		want += len(ids)
	}
	deadline := time.After(60 * time.Second)
	for got := beforeClose; got < want; {
		select {
		case ev, ok := <-ch.Events():
			if !ok {
				t.Fatal("resumed chat closed")
			}
			if ev.Msg != nil {
				received[ev.Room] = append(received[ev.Room], *ev.Msg)
				got++
			}
		case <-deadline:
			t.Fatalf("resumed reader has %d of %d acknowledged messages after 60s", got, want)
		}
	}

	var lost, dups, disorder, total int
	for _, r := range rooms {
		ms := received[r]
		total += len(ms)
		seen := map[string]int{}
		for i, m := range ms {
			seen[m.ID]++
			if i > 0 && !ms[i-1].Pos().Before(m.Pos()) {
				disorder++
			}
		}
		for id, n := range seen {
			if n > 1 {
				dups += n - 1
				t.Errorf("%s received %d times in %s", id, n, r)
			}
		}
		for _, id := range acked[r] {
			if seen[id] == 0 {
				lost++
				t.Errorf("acknowledged %s never received in %s", id, r)
			}
		}
	}
	suite.row(t, "%-40s sent %5d  acknowledged %5d  received %6d  lost %d  duplicated %d  out-of-order %d  (close %d after a %s stall; %d before it, %d on resume)",
		fmt.Sprintf("slow consumer (queue %d)", queue), sent, want, total, lost, dups, disorder, closeCode, stalled.Round(100*time.Millisecond), beforeClose, total-beforeClose)
	if closeCode != api.CloseTooSlow {
		t.Errorf("the stalled socket ended with close code %d, want %d (fell behind)", closeCode, api.CloseTooSlow)
	}
	if lost+dups+disorder > 0 {
		t.Fatalf("%d lost, %d duplicated, %d out of order", lost, dups, disorder)
	}
}
