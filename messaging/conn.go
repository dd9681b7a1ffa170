package messaging

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
)

// Connection timing and queue size.
const (
	writeWait    = 10 * time.Second
	pongWait     = 45 * time.Second
	pingInterval = 20 * time.Second
	// DefaultSendQueue is how many frames may wait for a slow client
	// before it is disconnected with CloseTooSlow.
	DefaultSendQueue = 1024
	// maxInFlight bounds one connection's unacknowledged publishes.
	maxInFlight = 256
	// sessionRecheck is how often a connection re-checks its session
	// without being told (a lost sign-out announcement, an expiry). Each
	// check reads two records from the store, so it is kept slow.
	sessionRecheck = time.Minute
)

// Errors an Authorizer returns.
var (
	// ErrForbidden: not this room (the connection stays).
	ErrForbidden = errors.New("not allowed in this room")
	// ErrAccessLost: no access to anything on this connection any more
	// (recused, removed, signed out); the connection is closed.
	ErrAccessLost = errors.New("access lost")
)

// Authorizer decides, for one connection, which rooms a client name means
// and whether the connection's user may join or post there. It is asked
// again for every subscribed room when the Watch topic announces a change.
//
// The connection serialises its calls (its reader and its re-check after a
// change take turns), so an Authorizer may cache without locks; Invalidate
// drops any cache before a re-check.
type Authorizer interface {
	Resolve(ctx context.Context, name string, action string) (Room, error)
	Invalidate()
}

// ConnOptions configures one WebSocket connection.
type ConnOptions struct {
	User  string
	Auth  Authorizer
	Watch string // broker topic announcing access changes, e.g. "case:<id>"
	Queue int    // send queue length (default DefaultSendQueue)
	// SessionTopics are the broker topics announcing that the
	// connection's session may have ended (its sign-out, a revocation of
	// all its account's sessions); SessionValid says whether it is still
	// valid. On an announcement, and every minute as a fallback for a
	// lost announcement or an expiry, a session that is no longer
	// valid closes the connection with CloseSessionEnded.
	SessionTopics []string
	SessionValid  func(ctx context.Context) bool
}

// conn is one client connection: one reader (this goroutine), one writer.
type conn struct {
	s    *Service
	ws   *websocket.Conn
	opts ConnOptions
	id   string
	send chan []byte

	authMu sync.Mutex // serialises calls to opts.Auth

	mu     sync.Mutex
	subs   map[string]*Subscription // by client room name
	closed bool
	// inFlight holds the connection's unacknowledged publishes, in the
	// order they arrived; the acker answers each once it is durable. Both
	// are made on the first publish (by the reader, the only goroutine
	// that touches inFlight before the acker starts), so that an idle
	// connection costs neither.
	inFlight chan inFlightPub
	tasks    *sync.WaitGroup
	done     chan struct{}
}

// ServeConn runs a WebSocket connection until the client leaves, falls
// behind, loses access, or ctx ends.
func (s *Service) ServeConn(ctx context.Context, ws *websocket.Conn, opts ConnOptions) {
	if opts.Queue <= 0 {
		opts.Queue = DefaultSendQueue
	}
	b := make([]byte, 8)
	rand.Read(b)
	c := &conn{s: s, ws: ws, opts: opts, id: hex.EncodeToString(b), send: make(chan []byte, opts.Queue),
		subs: map[string]*Subscription{}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	c.tasks = &wg
	wg.Go(func() { c.writer(ctx) })
	if opts.Watch != "" {
		stop := s.broker.Subscribe(opts.Watch, func([]byte) { go c.recheck(ctx) })
		defer stop()
	}
	if opts.SessionValid != nil {
		for _, topic := range opts.SessionTopics {
			stop := s.broker.Subscribe(topic, func([]byte) { go c.checkSession(ctx) })
			defer stop()
		}
		wg.Go(func() {
			t := time.NewTicker(sessionRecheck)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					c.checkSession(ctx)
				case <-c.done:
					return
				case <-ctx.Done():
					return
				}
			}
		})
	}
	c.reader(ctx)
	c.shutdown(websocket.CloseNormalClosure, "")
	cancel()
	wg.Wait()
	for _, sub := range c.takeSubs() {
		sub.Unsubscribe(context.Background())
	}
}

func (c *conn) takeSubs() []*Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		out = append(out, s)
	}
	c.subs = map[string]*Subscription{}
	return out
}

// Send implements Sink.
func (c *conn) Send(frame []byte) bool {
	select {
	case c.send <- frame:
		return true
	case <-c.done:
		return true // closing anyway
	default:
		return false
	}
}

// Overflow implements Sink: a client that fell behind is disconnected; it
// reconnects and resumes from its last position.
func (c *conn) Overflow() { c.shutdown(CloseTooSlow, "fell behind; reconnect and resume") }

// shutdown sends a close frame (once) and closes the socket, which ends
// the reader.
func (c *conn) shutdown(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(writeWait))
	c.ws.Close()
}

func (c *conn) writer(ctx context.Context) {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		select {
		case f := <-c.send:
			c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
				c.shutdown(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.shutdown(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.done:
			return
		case <-ctx.Done():
			c.shutdown(websocket.CloseGoingAway, "server shutting down")
			return
		}
	}
}

func (c *conn) reader(ctx context.Context) {
	c.ws.SetReadLimit(MaxFrame)
	c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.shutdown(websocket.CloseMessageTooBig, "frame too large")
			}
			return
		}
		c.ws.SetReadDeadline(time.Now().Add(pongWait))
		if kind != websocket.TextMessage {
			c.error("", "", api.CodeInvalid, "text frames only")
			continue
		}
		f, err := DecodeClientFrame(data)
		if err != nil {
			c.error("", "", api.CodeInvalid, err.Error())
			continue
		}
		switch f.Type {
		case api.FrameSub:
			c.subscribe(ctx, f)
		case api.FrameUnsub:
			c.unsubscribe(f.Room)
		case api.FramePub:
			c.publish(ctx, f)
		}
		if c.isClosed() {
			return
		}
	}
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *conn) error(room, id string, code api.ErrorCode, detail string) {
	c.Send(encodeFrame(api.ServerFrame{Type: api.FrameError, Room: room, ID: id, Code: code, Detail: detail}))
}

// refuse answers an authorization failure: a room refusal is an error
// frame; lost access closes the connection.
func (c *conn) refuse(room, id string, err error) {
	if errors.Is(err, ErrAccessLost) {
		c.shutdown(CloseAccessLost, "access to this case ended")
		return
	}
	c.error(room, id, api.CodeForbidden, "not allowed in this room")
}

func (c *conn) resolve(ctx context.Context, name, action string) (Room, error) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return c.opts.Auth.Resolve(ctx, name, action)
}

func (c *conn) subscribe(ctx context.Context, f *api.ClientFrame) {
	room, err := c.resolve(ctx, f.Room, "join")
	if err != nil {
		c.refuse(f.Room, "", err)
		return
	}
	c.unsubscribe(f.Room)
	sub, err := c.s.Subscribe(ctx, room, c.opts.User, c.id, f.From, c)
	if err != nil {
		c.error(f.Room, "", api.CodeUnavailable, "could not subscribe; try again")
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		sub.Unsubscribe(ctx)
		return
	}
	c.subs[f.Room] = sub
	c.mu.Unlock()
}

func (c *conn) unsubscribe(name string) {
	c.mu.Lock()
	sub := c.subs[name]
	delete(c.subs, name)
	c.mu.Unlock()
	if sub != nil {
		sub.Unsubscribe(context.Background())
	}
}

// publish enqueues in arrival order, then waits for durability off the
// read loop, so a client may pipeline up to maxInFlight messages.
func (c *conn) publish(ctx context.Context, f *api.ClientFrame) {
	room, err := c.resolve(ctx, f.Room, "post")
	if err != nil {
		c.refuse(f.Room, f.ID, err)
		return
	}
	done, err := c.s.Enqueue(ctx, room.ID, Message{ID: f.ID, From: c.opts.User, Body: f.Body})
	if err != nil {
		c.error(f.Room, f.ID, api.CodeUnavailable, "not stored; send again")
		return
	}
	if c.inFlight == nil {
		c.inFlight = make(chan inFlightPub, maxInFlight)
		in := c.inFlight
		c.tasks.Go(func() { c.acker(ctx, in) })
	}
	select {
	case c.inFlight <- inFlightPub{room: f.Room, id: f.ID, done: done}:
	case <-ctx.Done():
	}
}

// inFlightPub is one publish waiting for durability.
type inFlightPub struct {
	room, id string
	done     <-chan Result
}

// acker answers the connection's publishes in the order they arrived: an
// ack once durable, or "send again".
func (c *conn) acker(ctx context.Context, in <-chan inFlightPub) {
	for {
		var p inFlightPub
		select {
		case p = <-in:
		case <-ctx.Done():
			return
		}
		select {
		case r := <-p.done:
			if r.Err != nil {
				c.error(p.room, p.id, api.CodeUnavailable, "not stored; send again")
				continue
			}
			m := Message{Epoch: r.Msg.Epoch, Offset: r.Msg.Offset, At: r.Msg.At}
			c.Send(encodeFrame(api.ServerFrame{Type: api.FrameAck, Room: p.room, ID: p.id, Msg: &m}))
		case <-ctx.Done():
			return
		}
	}
}

// checkSession closes the connection with CloseSessionEnded once its
// session is no longer valid.
func (c *conn) checkSession(ctx context.Context) {
	if c.isClosed() || ctx.Err() != nil {
		return
	}
	if !c.opts.SessionValid(ctx) {
		c.shutdown(CloseSessionEnded, "session ended; sign in again")
	}
}

// recheck asks the Authorizer again about every subscribed room after an
// access change, dropping the rooms no longer allowed.
func (c *conn) recheck(ctx context.Context) {
	c.mu.Lock()
	names := make([]string, 0, len(c.subs))
	for n := range c.subs {
		names = append(names, n)
	}
	c.mu.Unlock()
	c.authMu.Lock()
	c.opts.Auth.Invalidate()
	c.authMu.Unlock()
	for _, n := range names {
		if _, err := c.resolve(ctx, n, "join"); err != nil {
			if errors.Is(err, ErrAccessLost) {
				c.shutdown(CloseAccessLost, "access to this case ended")
				return
			}
			c.unsubscribe(n)
			c.error(n, "", api.CodeForbidden, "you are no longer in this room")
		}
	}
}
