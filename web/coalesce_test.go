package web

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
)

// recordConn records each Write and the Close.
type recordConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	closed bool
}

func (c *recordConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.writes = append(c.writes, bytes.Clone(b))
	return len(b), nil
}

func (c *recordConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }

// Held writes go out as one write when released, in order; a write after
// the release goes straight through; a large burst is written out as it
// passes heldFlushAt.
func TestHeldWritesGoOutAsOneWrite(t *testing.T) {
	rec := &recordConn{}
	c := &problemConn{Conn: rec}
	c.wrote.Store(true) // past the HTTP answer
	c.holdWrites()
	c.Write([]byte("one,"))
	c.Write([]byte("two,"))
	if len(rec.writes) != 0 {
		t.Fatalf("held writes reached the connection: %q", rec.writes)
	}
	if err := c.releaseWrites(); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("three"))
	if len(rec.writes) != 2 || string(rec.writes[0]) != "one,two," || string(rec.writes[1]) != "three" {
		t.Fatalf("writes %q, want [one,two, three]", rec.writes)
	}
	rec.writes = nil
	c.holdWrites()
	chunk := bytes.Repeat([]byte("x"), heldFlushAt/4)
	for range 5 {
		c.Write(chunk)
	}
	if len(rec.writes) != 1 || len(rec.writes[0]) != heldFlushAt {
		t.Fatalf("a %d-byte burst was not written out at %d bytes: %d writes", 5*len(chunk), heldFlushAt, len(rec.writes))
	}
	c.releaseWrites()
	if len(rec.writes) != 2 || len(rec.writes[1]) != len(chunk) {
		t.Fatalf("the rest of the burst: %d writes", len(rec.writes))
	}
}

// A close frame written while another goroutine holds the connection's
// writes (a slow client's overflow, a lost access) reaches the client
// before the connection closes, after what was held before it.
func TestCloseWritesWhatIsHeld(t *testing.T) {
	rec := &recordConn{}
	c := &problemConn{Conn: rec}
	c.wrote.Store(true)
	c.holdWrites()
	c.Write([]byte("frame,"))
	c.Write([]byte("close-frame"))
	c.Close()
	if len(rec.writes) != 1 || string(rec.writes[0]) != "frame,close-frame" || !rec.closed {
		t.Fatalf("writes %q, closed %v", rec.writes, rec.closed)
	}
	if err := c.releaseWrites(); err != nil {
		t.Fatalf("release after close: %v", err)
	}
}

// Through a real connection behind ProblemListener: a socket's burst of
// frames arrives whole and in order, and a shutdown from another
// goroutine while the writer may be holding a burst still delivers its
// close code (not an abnormal closure) after a prefix of the frames.
func TestBurstAndShutdownThroughHeldWrites(t *testing.T) {
	svc := dirService(t)
	const frames = 400
	var shutdownAt sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if _, ok := ws.NetConn().(writeHolder); !ok {
			t.Error("the upgraded connection cannot hold writes")
		}
		c := newSocket(r.Context(), svc, ws, socketOptions{User: "u_burst", Auth: idleRoomAuth{}})
		c.open()
		cut, _ := shutdownAt.Load(r.URL.Query().Get("run"))
		for k := range frames {
			if k == cut.(int) {
				go c.shutdown(api.CloseTooSlow, "fell behind")
			}
			c.Send(encodeFrame(api.ServerFrame{Type: api.FrameError, Detail: fmt.Sprintf("f%04d", k)}))
		}
		if cut.(int) >= frames {
			c.Send(encodeFrame(api.ServerFrame{Type: api.FrameError, Detail: "end"}))
		}
		c.reader(c.ctx)
		c.close()
	}))
	srv.Listener = ProblemListener(srv.Listener)
	srv.Start()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	for run, cut := range []int{frames, 0, 1, 7, 50, 150, 399, frames, 3, 90} {
		shutdownAt.Store(fmt.Sprint(run), cut)
		ws, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("%s?run=%d", url, run), nil)
		if err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		next := 0
		for {
			var f api.ServerFrame
			err := ws.ReadJSON(&f)
			if cut >= frames {
				if err != nil {
					t.Fatalf("run %d: after %d frames: %v", run, next, err)
				}
				if f.Detail == "end" {
					if next != frames {
						t.Fatalf("run %d: %d frames before the end, want %d", run, next, frames)
					}
					break
				}
			} else if err != nil {
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != api.CloseTooSlow {
					t.Fatalf("run %d (shutdown at frame %d): after %d frames the connection ended with %v, want close code %d", run, cut, next, err, api.CloseTooSlow)
				}
				break
			}
			if want := fmt.Sprintf("f%04d", next); f.Detail != want {
				t.Fatalf("run %d: frame %q, want %q", run, f.Detail, want)
			}
			next++
		}
		ws.Close()
	}
}
