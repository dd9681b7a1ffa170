package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSendQueueBoundedByBytes: a connection whose frames wait (here held,
// as while its checks decide; a client that stops reading fills it the
// same way) refuses a frame that would take the bytes waiting past
// opts.QueueBytes, well before opts.Queue frames wait: the hub then drops
// it as too slow (4008). A frame that finds nothing waiting is taken
// whatever its size. Before, the queue was bounded by frames only, and
// 1,024 frames of a catch-up of large messages held some 128 MiB for one
// connection.
func TestSendQueueBoundedByBytes(t *testing.T) {
	svc := dirService(t)
	got := make(chan *socket, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		got <- newSocket(r.Context(), svc, ws, socketOptions{User: "u_bytes", Auth: idleRoomAuth{}, QueueBytes: 1 << 20})
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := <-got
	defer c.ws.Close()
	c.qmu.Lock()
	c.hold = 1 // the writer takes no frame
	c.qmu.Unlock()

	if !c.Send(bytes.Repeat([]byte("a"), 3<<20)) {
		t.Fatal("a frame larger than the bound, with nothing waiting, was refused")
	}
	if c.Send([]byte("b")) {
		t.Fatal("a frame was taken with more than the bound waiting")
	}
	c.qmu.Lock()
	c.queue, c.qbytes = nil, 0
	c.qmu.Unlock()

	frame := bytes.Repeat([]byte("f"), 64<<10)
	taken := 0
	for range c.opts.Queue {
		if !c.Send(frame) {
			break
		}
		taken++
	}
	c.qmu.Lock()
	queued, n := c.qbytes, len(c.queue)
	c.qmu.Unlock()
	if taken != 16 || queued != 16*len(frame) || n != 16 {
		t.Fatalf("took %d frames of 64 KiB (%d bytes, %d queued) before refusing; want 16 (1 MiB)", taken, queued, n)
	}
}

// TestSendQueueBytesFreedOnWrite: the bytes count the frames waiting and
// those the writer is writing, and are freed once written: a client that
// reads is sent frames adding up to many times the bound.
func TestSendQueueBytesFreedOnWrite(t *testing.T) {
	svc := dirService(t)
	got := make(chan *socket, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := newSocket(r.Context(), svc, ws, socketOptions{User: "u_bytes", Auth: idleRoomAuth{}, QueueBytes: 256 << 10})
		got <- c
		c.serve()
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := <-got
	frame := []byte(`{"t":"presence","room":"` + strings.Repeat("r", 60<<10) + `"}`)
	const n = 64 // 64 frames of 60 KiB: 15 times the bound
	sent, read := 0, 0
	for sent < n {
		if c.Send(frame) {
			sent++
			continue
		}
		// Refused: the client reads one; once the writer has written
		// what it took, the bytes are free. Bounded: a frame is read for
		// every refusal, and only sent ones can be.
		if read == sent {
			// Every frame sent is read: the writer frees their bytes as
			// it next takes work, which it may not have done yet.
			for range 400 {
				if c.Send(frame) {
					sent++
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if read == sent {
				t.Fatalf("frame %d refused with every frame sent read: the bytes written were not freed", sent)
			}
			continue
		}
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil {
			t.Fatalf("after %d frames sent and %d read: %v", sent, read, err)
		}
		read++
	}
}
