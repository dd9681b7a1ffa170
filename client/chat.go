package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
)

// Event is something that happened in a room, in order per room.
type Event struct {
	Room     string
	Msg      *api.Message // a message (or a system event)
	Seal     *api.Seal    // the epoch ended (membership changed)
	Presence *PresenceEvent
	// Head is the room's last position when a subscription was confirmed
	// (its epoch is the room's current epoch).
	Head *api.Position
	// Floor: the case's room controls changed; what this person sees now
	// (Room is empty).
	Floor *api.FloorView
}

// PresenceEvent says a user entered or left a room.
type PresenceEvent struct {
	User string
	Here bool
}

// Chat is a connection to a case's rooms that survives dropped
// connections and node loss: it reconnects with backoff (to whichever node
// the load balancer picks), resumes every room from the last position it
// delivered, pages history over HTTP when the gap is too old for the
// server's recent window, resends unacknowledged messages, and delivers
// every message exactly once, in order per room.
type Chat struct {
	c      *Client
	caseID string
	events chan Event

	mu      sync.Mutex
	ws      *websocket.Conn
	pos     map[string]*api.Position // nil: start live
	pending map[string]*outgoing
	order   []string // pending ids in send order, for resends
	seen    map[string]bool
	seenQ   []string
	closed  bool

	wmu  sync.Mutex // one writer at a time
	done chan struct{}
	// waiting lists the rooms whose first subscription is not confirmed
	// yet; ready closes when it empties.
	waiting map[string]bool
	ready   chan struct{}
	// subTries counts, per room, the subscriptions this connection sent
	// again after the server could not take one ("unavailable"); a
	// reconnection clears it (it asks for every room anyway).
	subTries map[string]int
	// Reconnects counts reconnections (for tests and the CLI's status line).
	Reconnects int
}

type outgoing struct {
	frame   api.ClientFrame
	ack     chan ackResult
	retries int // resends after "unavailable" (guarded by Chat.mu)
}

type ackResult struct {
	pos api.Message
	err error
}

// seenLimit bounds the sender-id memory used to drop a resent duplicate.
const seenLimit = 100000

// maxServerFrame bounds one frame the client reads from the server. The
// server sends a room's committed batch as one frame, now at most 512
// messages and 1 MiB of bodies (about 1.5 MiB); a server from before that
// cut sent up to 512 messages of up to api.MaxBody each, base64-encoded,
// about 32 MiB at most, which this still reads (it was 2 × api.MaxFrame,
// so a batch of three 40 KiB messages dropped the connection, and
// reconnecting met the same frame again).
const maxServerFrame = 40 << 20

// Chat opens the case's rooms. rooms maps each room name to the position
// to resume after, or nil to start live.
func (c *Client) Chat(ctx context.Context, caseID string, rooms map[string]*api.Position) (*Chat, error) {
	ch := &Chat{c: c, caseID: caseID, events: make(chan Event, 4096), pos: map[string]*api.Position{},
		pending: map[string]*outgoing{}, seen: map[string]bool{}, done: make(chan struct{}),
		waiting: map[string]bool{}, ready: make(chan struct{})}
	for r, p := range rooms {
		ch.waiting[r] = true
		if p != nil {
			cp := *p
			ch.pos[r] = &cp
		} else {
			ch.pos[r] = nil
		}
	}
	if err := ch.connect(ctx); err != nil {
		return nil, err
	}
	go ch.run()
	// Return once every room is subscribed, so that a message sent after
	// Chat returns is one this chat receives.
	select {
	case <-ch.ready:
		return ch, nil
	case <-ctx.Done():
		ch.Close()
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		ch.Close()
		return nil, errors.New("rooms were not confirmed within 30s (refused, or server unreachable)")
	}
}

func (ch *Chat) confirmed(room string) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.waiting[room] {
		delete(ch.waiting, room)
		if len(ch.waiting) == 0 {
			close(ch.ready)
		}
	}
}

// Events delivers what happens in the rooms.
func (ch *Chat) Events() <-chan Event { return ch.events }

// Position returns the last delivered position of a room.
func (ch *Chat) Position(room string) (api.Position, bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	p := ch.pos[room]
	if p == nil {
		return api.Position{}, false
	}
	return *p, true
}

// Close ends the chat.
func (ch *Chat) Close() {
	ch.mu.Lock()
	if ch.closed {
		ch.mu.Unlock()
		return
	}
	ch.closed = true
	ws := ch.ws
	ch.mu.Unlock()
	close(ch.done)
	if ws != nil {
		ws.Close()
	}
}

func (ch *Chat) wsURL() string {
	u := strings.Replace(ch.c.BaseURL, "http", "ws", 1)
	return u + "/api/v1/cases/" + url.PathEscape(ch.caseID) + "/ws"
}

// ErrCloseCode is returned when the server closed the connection for a
// reason reconnecting cannot fix (access lost, signed out).
type ErrCloseCode struct{ Code int }

func (e *ErrCloseCode) Error() string {
	return fmt.Sprintf("server closed the connection (code %d)", e.Code)
}

func (ch *Chat) connect(ctx context.Context) error {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+ch.c.Token)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, EnableCompression: false}
	ws, res, err := d.DialContext(ctx, ch.wsURL(), h)
	if err != nil {
		if res != nil && res.StatusCode >= 400 {
			// A refusal's problem+json says why in words (too many
			// connections open, a session ended…); the dialer keeps the
			// start of the body, which holds a problem whole.
			e := &Error{Status: res.StatusCode}
			if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
				json.NewDecoder(res.Body).Decode(&e.Problem)
			}
			if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
				e.RetryAfter = time.Duration(s) * time.Second
			}
			return e
		}
		return err
	}
	ws.SetReadLimit(maxServerFrame)
	ch.mu.Lock()
	ch.ws = ws
	clear(ch.subTries)
	subs := make([]api.ClientFrame, 0, len(ch.pos))
	for room, p := range ch.pos {
		f := api.ClientFrame{Type: api.FrameSub, Room: room}
		if p != nil {
			cp := *p
			f.From = &cp
		}
		subs = append(subs, f)
	}
	resend := make([]api.ClientFrame, 0, len(ch.order))
	for _, id := range ch.order {
		if o := ch.pending[id]; o != nil {
			resend = append(resend, o.frame)
		}
	}
	ch.mu.Unlock()
	for _, f := range append(subs, resend...) {
		if err := ch.write(ws, f); err != nil {
			ws.Close()
			return err
		}
	}
	return nil
}

func (ch *Chat) write(ws *websocket.Conn, f api.ClientFrame) error {
	b, _ := json.Marshal(f)
	ch.wmu.Lock()
	defer ch.wmu.Unlock()
	ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return ws.WriteMessage(websocket.TextMessage, b)
}

// Send publishes body to room and returns once the server acknowledges it
// as durable, with its position. If the connection drops first, the message
// is resent (same id) after reconnecting.
func (ch *Chat) Send(ctx context.Context, room, id string, body []byte) (api.Message, error) {
	return ch.SendFor(ctx, room, id, body, 0)
}

// EpochMovedError: the server did not store a body sent with SendFor,
// because the room had moved past the epoch it was encrypted for (a seal
// came first). Epoch is the room's current epoch: encrypt again for it.
type EpochMovedError struct{ Epoch int64 }

func (e *EpochMovedError) Error() string {
	return fmt.Sprintf("not stored: the room moved on to epoch %d", e.Epoch)
}

// SendFor is Send for a body encrypted for epoch (0: any): the server
// stores it only in that epoch, and otherwise answers *EpochMovedError.
// A resend after reconnecting names the same epoch.
func (ch *Chat) SendFor(ctx context.Context, room, id string, body []byte, epoch int64) (api.Message, error) {
	o := &outgoing{frame: api.ClientFrame{Type: api.FramePub, Room: room, ID: id, Body: body, Epoch: epoch}, ack: make(chan ackResult, 1)}
	ch.mu.Lock()
	if _, dup := ch.pending[id]; dup {
		ch.mu.Unlock()
		return api.Message{}, errors.New("a message with this id is already waiting")
	}
	ch.pending[id] = o
	ch.order = append(ch.order, id)
	ws := ch.ws
	ch.mu.Unlock()
	if ws != nil {
		ch.write(ws, o.frame) // on failure the reconnect resends it
	}
	select {
	case r := <-o.ack:
		return r.pos, r.err
	case <-ctx.Done():
		ch.forget(id)
		return api.Message{}, ctx.Err()
	case <-ch.done:
		return api.Message{}, errors.New("chat closed")
	}
}

func (ch *Chat) forget(id string) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	delete(ch.pending, id)
	for i, x := range ch.order {
		if x == id {
			ch.order = append(ch.order[:i], ch.order[i+1:]...)
			break
		}
	}
}

// run reads frames and reconnects until Close.
func (ch *Chat) run() {
	defer close(ch.events)
	backoff := 50 * time.Millisecond
	for {
		ch.mu.Lock()
		ws := ch.ws
		ch.mu.Unlock()
		err := ch.read(ws)
		var cc *ErrCloseCode
		if errors.As(err, &cc) {
			ch.failPending(err)
			return
		}
		select {
		case <-ch.done:
			return
		default:
		}
		for attempt := 0; ; attempt++ {
			select {
			case <-ch.done:
				return
			case <-time.After(backoff):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err := ch.connect(ctx)
			cancel()
			if err == nil {
				ch.mu.Lock()
				ch.Reconnects++
				ch.mu.Unlock()
				backoff = 50 * time.Millisecond
				break
			}
			var ae *Error
			if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound) {
				ch.failPending(err)
				return
			}
			backoff = min(backoff*2, 2*time.Second)
			// A refusal that says when to come back (429: too many
			// connections open for this session) is tried no sooner.
			if errors.As(err, &ae) && ae.RetryAfter > 0 {
				backoff = max(backoff, min(ae.RetryAfter, time.Minute))
			}
		}
	}
}

func (ch *Chat) failPending(err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for id, o := range ch.pending {
		o.ack <- ackResult{err: err}
		delete(ch.pending, id)
	}
	ch.order = nil
}

func (ch *Chat) read(ws *websocket.Conn) error {
	defer ws.Close()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && (ce.Code == api.CloseAccessLost || ce.Code == api.CloseSessionEnded) {
				return &ErrCloseCode{Code: ce.Code}
			}
			return err
		}
		var f api.ServerFrame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		if err := ch.handle(&f); err != nil {
			return err
		}
	}
}

func (ch *Chat) handle(f *api.ServerFrame) error {
	switch f.Type {
	case "subscribed":
		ch.mu.Lock()
		if ch.pos[f.Room] == nil && f.Head != nil {
			h := *f.Head
			ch.pos[f.Room] = &h
		}
		ch.mu.Unlock()
		if f.Head != nil {
			ch.emit(Event{Room: f.Room, Head: f.Head})
		}
		ch.confirmed(f.Room)
	case "msgs":
		for _, m := range f.Msgs {
			ch.deliverMsg(f.Room, m)
		}
	case "seal":
		ch.mu.Lock()
		p := ch.pos[f.Room]
		// A seal always opens the next epoch; anything else is malformed
		// and must not move the position (back) at all.
		next := api.Position{}
		if f.Seal != nil && f.Seal.Next == f.Epoch+1 && f.Epoch > 0 {
			next = api.Position{Epoch: f.Seal.Next}
		}
		fresh := next.Epoch > 0 && (p == nil || p.Before(next))
		if fresh {
			ch.pos[f.Room] = &next
		}
		ch.mu.Unlock()
		if fresh {
			ch.emit(Event{Room: f.Room, Seal: f.Seal})
		}
	case "reload":
		if f.From != nil && f.Head != nil {
			ch.emit(Event{Room: f.Room, Head: f.Head})
			err := ch.reload(f.Room, *f.From, *f.Head)
			ch.confirmed(f.Room)
			return err
		}
	case "ack":
		ch.mu.Lock()
		o := ch.pending[f.ID]
		ch.mu.Unlock()
		if o != nil && f.Msg != nil {
			ch.forget(f.ID)
			o.ack <- ackResult{pos: *f.Msg}
		}
	case "presence":
		ch.emit(Event{Room: f.Room, Presence: &PresenceEvent{User: f.User, Here: f.Here}})
	case api.FrameFloor:
		if f.Floor != nil {
			ch.emit(Event{Floor: f.Floor})
		}
	case "error":
		if f.ID == "" && f.Code == "forbidden" {
			// A refused subscription: stop waiting for it (and forget it,
			// so reconnects do not ask again).
			ch.mu.Lock()
			delete(ch.pos, f.Room)
			ch.mu.Unlock()
			ch.confirmed(f.Room)
		}
		if f.Refused == api.FrameSub && f.Code == api.CodeUnavailable {
			// Not taken just then (the store did not answer, or the
			// server was still checking this person's access): ask again.
			ch.subLater(f.Room)
		}
		if f.ID != "" && f.Code == "unavailable" {
			// Not stored (the object store did not answer): send it again
			// after a backoff, for as long as the caller's Send waits.
			ch.resendLater(f.ID)
		}
		if f.ID != "" && f.Code != "unavailable" {
			ch.mu.Lock()
			o := ch.pending[f.ID]
			ch.mu.Unlock()
			if o != nil {
				ch.forget(f.ID)
				err := fmt.Errorf("%s: %s", f.Code, f.Detail)
				if f.Code == api.CodeEpochMoved {
					err = &EpochMovedError{Epoch: f.Epoch}
				}
				o.ack <- ackResult{err: err}
			}
		}
	}
	return nil
}

// resendLater resends a pending message after a growing pause (0.25 s,
// doubling, at most 4 s), unless it was acknowledged, given up or the chat
// closed in between. A resend is safe: receivers drop duplicates by sender
// and id.
func (ch *Chat) resendLater(id string) {
	ch.mu.Lock()
	o := ch.pending[id]
	if o == nil {
		ch.mu.Unlock()
		return
	}
	wait := min(250*time.Millisecond<<min(o.retries, 4), 4*time.Second)
	o.retries++
	ch.mu.Unlock()
	go func() {
		select {
		case <-time.After(wait):
		case <-ch.done:
			return
		}
		ch.mu.Lock()
		still := ch.pending[id] == o
		ws := ch.ws
		ch.mu.Unlock()
		if still && ws != nil {
			ch.write(ws, o.frame) // on failure the reconnect resends it
		}
	}()
}

// subMaxTries bounds the subscriptions of one room sent again on one
// connection; past it the room waits for the next reconnection (and a
// first subscription, Chat's 30 s).
const subMaxTries = 5

// subLater asks again, after a growing pause (1 s, doubling, at most 4 s),
// for a room whose subscription the server could not take, if the chat
// still follows the room and the connection is the one that was refused.
func (ch *Chat) subLater(room string) {
	ch.mu.Lock()
	ws := ch.ws
	_, follows := ch.pos[room]
	if ws == nil || !follows || ch.subTries[room] >= subMaxTries {
		ch.mu.Unlock()
		return
	}
	if ch.subTries == nil {
		ch.subTries = map[string]int{}
	}
	n := ch.subTries[room]
	ch.subTries[room] = n + 1
	ch.mu.Unlock()
	wait := min(time.Second<<n, 4*time.Second)
	go func() {
		select {
		case <-time.After(wait):
		case <-ch.done:
			return
		}
		ch.mu.Lock()
		p, follows := ch.pos[room]
		same := ch.ws == ws
		f := api.ClientFrame{Type: api.FrameSub, Room: room}
		if p != nil {
			cp := *p
			f.From = &cp
		}
		ch.mu.Unlock()
		if follows && same {
			ch.write(ws, f) // on failure the reconnect asks again
		}
	}()
}

// deliverMsg emits m if it is past the room's position, and not a resent
// duplicate of a message already delivered (same sender and id).
func (ch *Chat) deliverMsg(room string, m api.Message) {
	ch.mu.Lock()
	p := ch.pos[room]
	if p != nil && !p.Before(m.Pos()) {
		ch.mu.Unlock()
		return
	}
	np := m.Pos()
	ch.pos[room] = &np
	key := room + "\x00" + m.From + "\x00" + m.ID
	dup := m.From != "" && ch.seen[key]
	if !dup && m.From != "" {
		ch.seen[key] = true
		ch.seenQ = append(ch.seenQ, key)
		if len(ch.seenQ) > seenLimit {
			delete(ch.seen, ch.seenQ[0])
			ch.seenQ = ch.seenQ[1:]
		}
	}
	ch.mu.Unlock()
	if !dup {
		ch.emit(Event{Room: room, Msg: &m})
	}
}

// reload pages history over HTTP from `from` up to `head`, then live
// messages continue on the socket.
func (ch *Chat) reload(room string, from, head api.Position) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pos := from
	for pos.Before(head) {
		var page api.HistoryPage
		path := fmt.Sprintf("/api/v1/cases/%s/rooms/%s/messages?epoch=%d&offset=%d&limit=500",
			url.PathEscape(ch.caseID), url.PathEscape(room), pos.Epoch, pos.Offset)
		if err := ch.c.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return err
		}
		for _, m := range page.Messages {
			ch.deliverMsg(room, m)
		}
		if !pos.Before(page.Next) {
			break // nothing more stored yet
		}
		pos = page.Next
	}
	return nil
}

func (ch *Chat) emit(e Event) {
	select {
	case ch.events <- e:
	case <-ch.done:
	}
}
