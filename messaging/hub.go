package messaging

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-mediation/parley/api"
)

// maxCatchUp bounds how many messages a resuming subscriber gets over the
// WebSocket, and maxCatchUpBytes the bytes of their bodies (about 5.4 MiB
// of frames once base64-encoded); a longer gap is sent to history paging
// ("reload"), which pages it a bounded response at a time. The catch-up
// is encoded for its subscriber alone and waits in its send queue: without
// a bound on bytes, a resume from the start of a room filled with large
// messages held up to 2,048 of them (about 128 MiB) per subscribe.
const (
	maxCatchUp      = 2048
	maxCatchUpBytes = 4 << 20
)

// presenceTTL is how long a presence entry lives without refresh.
const presenceTTL = 45 * time.Second

// Sink is where a subscription's frames go (a connection's send queue).
// Send must not block; it returns false when the queue is full, and the
// hub then drops the subscription and calls Overflow once.
type Sink interface {
	Send(frame []byte) bool
	Overflow()
}

// CatchUpSink is a Sink that bounds the catch-ups waiting in it, which
// subscribes of several rooms on one connection share: a resuming
// subscribe's subscribed frame and catch-up go to SendCatchUp, which
// queues them all, in order, or none (false) when they do not fit the
// share of its queue it leaves to catch-ups. The subscriber then gets a
// reload naming the range to page over HTTP, as for a gap too long to
// send, rather than be dropped (each catch-up is bounded, maxCatchUpBytes,
// but a connection resuming several busy rooms at once queued several).
// SendCatchUp must not block.
type CatchUpSink interface {
	Sink
	SendCatchUp(frames [][]byte) bool
}

// Room names a room twice: ID is the internal id (part of object keys),
// Name what clients call it ("joint", "caucus:A").
type Room struct {
	ID   string
	Name string
}

// Subscription is one sink's subscription to one room.
type Subscription struct {
	h     *hub
	sink  Sink
	user  string
	conn  string
	last  Position
	ended bool
}

// hub is one room's fan-out on this node. Its goroutine (run) owns the
// room's delivery state (pos, known, last, gapFailed, idleSince) and does
// every store and broker read the room needs; mu guards only subs and is
// never held across I/O. Broker callbacks and the commit path hand batches
// to run through a bounded inbox and never block: a batch that finds the
// inbox full is dropped and read from the store instead, as a lost
// broadcast is. A hub whose last subscriber left is freed after
// timing.idle: its broker subscriptions end and its goroutine exits.
type hub struct {
	s      *Service
	room   Room
	quoted []byte // room.Name as a JSON string, for delivery frames

	mu   sync.Mutex
	subs map[*Subscription]struct{}
	// conns counts each user's subscriptions in subs: the room is told a
	// user left only when their last one here ends (Unsubscribe).
	conns map[string]int
	// ended holds the connections whose subscriptions here ended in the
	// last presenceTTL, with when: a presence entry of theirs that is
	// still in the broker (a removal that failed, or a refresh that raced
	// the end) is not someone still here. tick forgets entries older
	// than presenceTTL, when any such entry has expired anyway.
	ended map[string]time.Time

	inbox  chan *hubEvent // pointers: the collector scans a channel's whole buffer
	joins  chan *joinReq
	done   chan struct{} // closed when run has ended
	behind atomic.Bool   // a batch was dropped: read the store

	// Owned by run.
	pos       Position // last batch end delivered here
	known     bool
	last      time.Time // when a batch last arrived
	gapFailed time.Time // when the store last could not fill a gap
	dropRead  time.Time // when readStore last read after a drop (run)
	idleSince time.Time // when the hub was last seen without subscribers

	cancelTopic, cancelPresence func()
}

// hubEvent is one thing for run to deliver: a batch (decoded, or as the
// broker tagged it) or a presence change.
type hubEvent struct {
	batch    *Batch
	raw      []byte
	presence []byte
	at       int64 // StageClock when posted (0: not traced)
}

// hubInbox bounds what waits for a hub's goroutine. Its buffer is
// allocated whole with the hub (8 bytes a slot), for every room a node
// serves: 256 slots are 2 KiB a room. A room committing at the highest
// benchmarked rate posts a few dozen batches a second, so 256 outlast a
// stall of seconds; past them a batch is read from the store (post).
const hubInbox = 256

// joinReq asks run to add a subscription (see Subscribe).
type joinReq struct {
	ctx        context.Context
	user, conn string
	from       *Position
	sink       Sink
	reply      chan joinResult
}

type joinResult struct {
	sub *Subscription
	err error
}

func (s *Service) hub(room Room) (*hub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	h := s.hubs[room.ID]
	if h == nil {
		quoted, _ := json.Marshal(room.Name)
		h = &hub{s: s, room: room, quoted: quoted, subs: map[*Subscription]struct{}{}, conns: map[string]int{}, ended: map[string]time.Time{},
			inbox: make(chan *hubEvent, hubInbox), joins: make(chan *joinReq), done: make(chan struct{})}
		s.hubs[room.ID] = h
		s.wg.Add(1)
		go h.run()
	}
	return h, nil
}

func presenceTopic(room string) string { return "presence:" + room }

// subscribeBroker subscribes the hub to its room's broker topics; run
// does it before it takes a join (so a subscriber misses no batch
// broadcast after the head its join reads), never under s.mu: with Redis
// a subscription is a round trip, tried up to 5 times with 5 s each while
// Redis does not answer, which every room's publish would otherwise wait
// out.
func (h *hub) subscribeBroker() {
	h.cancelTopic = h.s.broker.Subscribe(roomTopic(h.room.ID), h.onBatch)
	h.cancelPresence = h.s.broker.Subscribe(presenceTopic(h.room.ID), h.onPresence)
}

// cancelBroker ends what subscribeBroker began; run does it as it ends.
func (h *hub) cancelBroker() {
	h.cancelTopic()
	h.cancelPresence()
}

// maxJoinAttempts bounds how often Subscribe finds its hub freed between
// looking it up and joining it.
const maxJoinAttempts = 4

// Subscribe adds sink to room for user's connection conn. With from nil
// the subscription starts live (after the current head); with a position it
// first receives every message after it — or, if that gap is older than
// what can be resent here, a reload frame naming the range to page over
// HTTP, followed by live messages after it.
func (s *Service) Subscribe(ctx context.Context, room Room, user, conn string, from *Position, sink Sink) (*Subscription, error) {
	for range maxJoinAttempts {
		h, err := s.hub(room)
		if err != nil {
			return nil, err
		}
		req := &joinReq{ctx: ctx, user: user, conn: conn, from: from, sink: sink, reply: make(chan joinResult, 1)}
		select {
		case h.joins <- req:
		case <-h.done:
			continue // freed meanwhile (or the service stopped): look again
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r := <-req.reply // run answers every join it takes
		if r.err != nil {
			return nil, r.err
		}
		// Presence goes out from here, not from run: the in-process broker
		// delivers synchronously, back into this hub.
		s.broker.SetPresence(ctx, room.ID, conn, user, presenceTTL)
		// A subscription that ended during that round trip (closed, or
		// dropped as too slow) has had its leave decided already: saying
		// here:true now would come after it and show the user present
		// while gone, and the entry just written would outlive it.
		h.mu.Lock()
		ended := r.sub.ended
		h.mu.Unlock()
		if ended {
			s.broker.SetPresence(ctx, room.ID, conn, user, 0)
			return r.sub, nil
		}
		s.announce(ctx, room.ID, user, true)
		// Dropped as too slow (or closed) between that look and the
		// announcement: its leave may have announced here:false before
		// this here:true. Deciding the leave again announces it after
		// (if no other connection of theirs keeps them here).
		h.mu.Lock()
		ended = r.sub.ended
		h.mu.Unlock()
		if ended {
			h.leave(ctx, r.sub)
		}
		return r.sub, nil
	}
	return nil, fmt.Errorf("room %s: its hub kept closing", room.Name)
}

// join adds a subscription: the reads it needs (head, catch-up, presence)
// happen here, outside mu, within gapFillTimeout (a catch-up that cannot
// be read in time sends the range to page instead); the frames go out and the subscription is
// added under mu, so no batch delivered meanwhile is missed or doubled
// (only run delivers).
func (h *hub) join(req *joinReq) (*Subscription, error) {
	// Bounded like a gap fill: the room's deliveries wait for it.
	ctx, cancel := context.WithTimeout(req.ctx, gapFillTimeout)
	defer cancel()
	room, sink := h.room, req.sink
	if err := h.ensureKnown(ctx); err != nil {
		return nil, err
	}
	sub := &Subscription{h: h, sink: sink, user: req.user, conn: req.conn, last: h.pos}
	head := h.pos
	frames := [][]byte{}
	var caught [][]byte // the subscribed frame and a catch-up: all or none
	from := req.from
	if from != nil && from.Epoch == 0 {
		// Epoch 0 is before everything: the room's first epoch is 1, and
		// its start is the position a catch-up reads from (readNext reads
		// epoch 0 as epoch 1, so {0,0} against a head of {1,0} read a
		// whole segment past the head).
		from = &Position{Epoch: 1}
	}
	if from != nil && from.Before(h.pos) {
		more, ok := h.catchUp(ctx, *from)
		if ok {
			caught = append([][]byte{encodeFrame(api.ServerFrame{Type: api.FrameSubscribed, Room: room.Name, Head: &head})}, more...)
		} else {
			frames = append(frames, reloadFrame(room.Name, *from, head))
		}
	} else {
		if from != nil && h.pos.Before(*from) {
			sub.last = *from // the client has seen more than this node yet
		}
		frames = append(frames, encodeFrame(api.ServerFrame{Type: api.FrameSubscribed, Room: room.Name, Head: &head}))
	}
	if users, err := h.s.broker.Presence(ctx, room.ID); err == nil {
		for _, u := range users {
			frames = append(frames, encodeFrame(api.ServerFrame{Type: api.FramePresence, Room: room.Name, User: u, Here: true}))
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if caught != nil {
		if cs, ok := sink.(CatchUpSink); !ok {
			frames = append(caught, frames...)
		} else if !cs.SendCatchUp(caught) {
			frames = append([][]byte{reloadFrame(room.Name, *from, head)}, frames...)
		}
	}
	for _, f := range frames {
		if !sink.Send(f) {
			go sink.Overflow()
			return nil, errors.New("send queue full")
		}
	}
	h.subs[sub] = struct{}{}
	h.conns[sub.user]++
	delete(h.ended, sub.conn)
	h.idleSince = time.Time{}
	return sub, nil
}

// reloadFrame tells a subscriber to page room's messages after from, up
// to head, over HTTP: its live messages follow.
func reloadFrame(room string, from, head Position) []byte {
	return encodeFrame(api.ServerFrame{Type: api.FrameReload, Room: room, From: &from, Head: &head})
}

// Unsubscribe ends the subscription (idempotent) and its connection
// leaves the room (see leave).
func (sub *Subscription) Unsubscribe(ctx context.Context) {
	h := sub.h
	h.mu.Lock()
	if sub.ended {
		h.mu.Unlock()
		return
	}
	sub.ended = true
	h.remove(sub)
	h.mu.Unlock()
	h.leave(ctx, sub)
}

// leave removes the presence entry of an ended subscription's connection
// and tells the room the user left if no connection of theirs is in the
// room any more: another tab or device of theirs on this node keeps them
// here, and so does one on another node, whose presence entry the broker
// still holds (docs/messaging.md, Presence). It does broker I/O, so never
// under mu. Whether they are still here is decided after the entry's
// removal (a broker round trip), just before the announcement, not before
// the round trip: a connection of theirs that joined meanwhile has
// announced here:true, and a leave decided earlier would arrive after it
// and show them gone while they are here. (A join counted after that
// decision announces after its own presence write, a round trip later than
// this announcement.) Two last connections closing at once, on two nodes,
// each remove their entry before reading the others', so at least one of
// them sees none left and announces. When the entries cannot be read the
// leave is announced, as if none were left.
func (h *hub) leave(ctx context.Context, sub *Subscription) {
	h.s.broker.SetPresence(ctx, h.room.ID, sub.conn, sub.user, 0)
	h.mu.Lock()
	gone := h.conns[sub.user] == 0
	h.mu.Unlock()
	if !gone {
		return
	}
	conns, err := h.s.broker.PresentConns(ctx, h.room.ID)
	h.mu.Lock()
	gone = h.conns[sub.user] == 0
	if err == nil {
		for conn, user := range conns {
			if _, over := h.ended[conn]; user == sub.user && conn != sub.conn && !over {
				gone = false // a connection of theirs elsewhere: its own close announces
				break
			}
		}
	}
	h.mu.Unlock()
	if gone {
		h.s.announce(ctx, h.room.ID, sub.user, false)
	}
}

// remove takes sub out of subs and its user's count; the caller holds mu.
func (h *hub) remove(sub *Subscription) {
	delete(h.subs, sub)
	if h.conns[sub.user]--; h.conns[sub.user] <= 0 {
		delete(h.conns, sub.user)
	}
	h.ended[sub.conn] = time.Now()
}

type presenceEvent struct {
	User string `json:"user"`
	Here bool   `json:"here"`
}

func (s *Service) announce(ctx context.Context, room, user string, here bool) {
	data, _ := json.Marshal(presenceEvent{User: user, Here: here})
	s.broker.Publish(ctx, presenceTopic(room), data)
}

// onPresence is a broker callback: it only hands the event to run.
func (h *hub) onPresence(data []byte) {
	h.post(hubEvent{presence: data})
}

// post hands ev to run without blocking. A batch that does not fit is
// read from the store when run next wakes; a presence change that does
// not fit is dropped (the next refresh or join shows it).
func (h *hub) post(ev hubEvent) {
	select {
	case h.inbox <- &ev:
	default:
		if ev.presence == nil {
			h.behind.Store(true)
		}
	}
}

// run is the hub's goroutine: it delivers what arrives, adds
// subscriptions, probes a quiet room, refreshes presence, and frees the
// hub once it has been idle long enough.
func (h *hub) run() {
	defer h.s.wg.Done()
	defer close(h.done)
	h.subscribeBroker()
	defer h.cancelBroker()
	t := time.NewTicker(h.s.timing.probe)
	defer t.Stop()
	refresh := time.Now()
	for {
		select {
		case <-h.s.stop:
			return
		case ev := <-h.inbox:
			StageDone(StageHubInbox, ev.at)
			h.handle(*ev)
		case req := <-h.joins:
			sub, err := h.join(req)
			req.reply <- joinResult{sub: sub, err: err}
		case <-t.C:
			if h.tick(&refresh) {
				return
			}
		}
		// After a drop from the full inbox: first what waits in it, so
		// that batches posted during the read find room (else each read
		// would drop more and read again), then the read, at most every
		// gapRetry (it may ask the owner: readStore). Still behind within
		// gapRetry, the flag waits for the next event or tick.
		if time.Since(h.dropRead) >= gapRetry && h.behind.Swap(false) {
			h.drain()
			h.readStore(true)
			h.dropRead = time.Now()
		}
	}
}

// drain handles the events waiting in the inbox, without waiting for more.
func (h *hub) drain() {
	for range hubInbox {
		select {
		case ev := <-h.inbox:
			StageDone(StageHubInbox, ev.at)
			h.handle(*ev)
		default:
			return
		}
	}
}

// subscribers reports how many subscriptions the hub has.
func (h *hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// handle delivers one event from the inbox.
func (h *hub) handle(ev hubEvent) {
	if ev.presence != nil {
		var pe presenceEvent
		if json.Unmarshal(ev.presence, &pe) != nil || pe.User == "" {
			return
		}
		frame := encodeFrame(api.ServerFrame{Type: api.FramePresence, Room: h.room.Name, User: pe.User, Here: pe.Here})
		h.mu.Lock()
		defer h.mu.Unlock()
		for sub := range h.subs {
			h.send(sub, frame)
		}
		return
	}
	b := ev.batch
	if b == nil {
		var err error
		if b, err = DecodeBatch(ev.raw); err != nil || b.Room != h.room.ID {
			return
		}
	}
	h.last = time.Now()
	if h.subscribers() == 0 {
		h.known = false // stop tracking; re-read the head on the next join
		return
	}
	if !h.known {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), gapFillTimeout)
	defer cancel()
	h.advance(ctx, b)
}

// readStore delivers what the store holds after pos (batches dropped
// from a full inbox, or broadcasts lost), and on the owner what it has
// journaled after that. After batches were dropped from a full inbox
// (dropped; run spaces these reads by gapRetry), a node that does not own
// the room also asks the owner for its journaled tail (journaledTail, as
// a page does): the dropped batches reach the segments only once the
// owner compacts them. A quiet room's probe does not ask, so that idle
// rooms cost the owner nothing.
func (h *hub) readStore(dropped bool) {
	if !h.known || h.subscribers() == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), gapFillTimeout)
	defer cancel()
	if more, err := h.s.log.FollowFrom(ctx, h.room.ID, h.pos, maxCatchUp); err == nil {
		for _, b := range more {
			h.advance(ctx, b)
		}
	}
	// On the owner, what it journaled after the store's end; elsewhere,
	// after a drop, what the owner has journaled.
	tail, owned := h.s.ownTailAfter(h.room.ID, h.pos)
	if !owned && dropped {
		tail, _ = h.s.journaledTail(ctx, h.room.ID, h.pos)
	}
	for _, b := range tail {
		h.advance(ctx, b)
	}
	h.last = time.Now()
}

// tick probes a quiet room, refreshes presence entries, and frees an idle
// hub; it reports whether the hub is freed (run then ends).
func (h *hub) tick(refresh *time.Time) bool {
	now := time.Now()
	h.mu.Lock()
	n := len(h.subs)
	for conn, at := range h.ended {
		if now.Sub(at) > presenceTTL {
			delete(h.ended, conn)
		}
	}
	var live []*Subscription
	if n > 0 && now.Sub(*refresh) > presenceTTL/3 {
		for sub := range h.subs {
			live = append(live, sub)
		}
		*refresh = now
	}
	h.mu.Unlock()
	if n == 0 {
		h.known = false
		if h.idleSince.IsZero() {
			h.idleSince = now
		}
		return now.Sub(h.idleSince) >= h.s.timing.idleAfter() && h.free()
	}
	h.idleSince = time.Time{}
	if now.Sub(h.last) >= h.s.timing.probe {
		h.readStore(false)
	}
	if len(live) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), gapFillTimeout)
		defer cancel()
		for _, sub := range live {
			h.s.broker.SetPresence(ctx, h.room.ID, sub.conn, sub.user, presenceTTL)
			// A subscription that ended meanwhile has removed its
			// entry already: the refresh must not bring it back (it
			// would show the user here after they left).
			h.mu.Lock()
			ended := sub.ended
			h.mu.Unlock()
			if ended {
				h.s.broker.SetPresence(ctx, h.room.ID, sub.conn, sub.user, 0)
			}
		}
	}
	return false
}

// free removes an idle hub from the service (run, ending, then ends its
// broker subscriptions). Only run adds subscriptions, so one found empty here
// stays empty; a Subscribe that looked the hub up before it was removed
// finds done closed and makes a new one.
func (h *hub) free() bool {
	s := h.s
	s.mu.Lock()
	if s.closed || s.hubs[h.room.ID] != h || h.subscribers() > 0 {
		s.mu.Unlock()
		return false
	}
	delete(s.hubs, h.room.ID)
	s.mu.Unlock()
	return true
}

// ensureKnown finds the room's head when this hub is not tracking it.
func (h *hub) ensureKnown(ctx context.Context) error {
	if h.known {
		return nil
	}
	// On the owner, what it has journaled, taken before the store is read
	// (compaction moves batches from there into the store): its broadcasts
	// of those may not have reached the broker yet, and it skips its own.
	tail, _ := h.s.ownTailAfter(h.room.ID, Position{})
	pos, ok := h.s.broker.HeadHint(ctx, h.room.ID)
	if !ok {
		p, err := h.s.log.Head(ctx, h.room.ID)
		if err != nil {
			return err
		}
		pos = p
	}
	// A hint may lag: read forward to the real end.
	more, err := h.s.log.FollowFrom(ctx, h.room.ID, pos, 1<<20)
	if err != nil {
		return err
	}
	for _, b := range more {
		pos = b.End()
	}
	for b, rest := nextIn(tail, pos); b != nil; b, rest = nextIn(rest, pos) {
		pos = b.End()
	}
	h.pos, h.known, h.last = pos, true, time.Now()
	return nil
}

// catchUp gathers the frames after from up to h.pos, and none after it,
// from the recent window and (on the owner) what it has journaled, filling
// holes from the store by name. ok is false when the gap
// cannot be served here (longer than maxCatchUp messages or maxCatchUpBytes
// of bodies, or from is not at a batch boundary the store can be read
// from).
//
// Up to h.pos exactly: join records the subscription there, and what
// follows reaches it with the hub's own deliveries. A segment read from the
// store may run past h.pos (compaction merges the batches this hub
// delivered with later ones whose broadcast it has not had yet: lost,
// or still on its way); sending that part here as well delivered it twice.
func (h *hub) catchUp(ctx context.Context, from Position) ([][]byte, bool) {
	window := h.window(ctx)
	tail, _ := h.s.ownTailAfter(h.room.ID, from)
	window = append(window, tail...)
	var frames [][]byte
	cur, n, size := from, 0, 0
	for cur.Before(h.pos) {
		b := findBatch(window, cur)
		if b == nil {
			var err error
			b, err = h.s.log.readNext(ctx, h.room.ID, cur)
			if err != nil {
				return nil, false
			}
		}
		if b = upTo(b, h.pos); b == nil {
			return nil, false // nothing of it is at or before the head: page instead
		}
		// Counted before b is encoded: a gap too long to send is not
		// encoded at all.
		for _, m := range b.Msgs {
			if cur.Before(m.Pos()) {
				n++
				size += len(m.Body)
			}
		}
		if n > maxCatchUp || size > h.s.timing.catchUpBudget() {
			return nil, false
		}
		frames = append(frames, h.frames(b, cur)...)
		cur = b.End()
	}
	return frames, true
}

// upTo is b without its messages after pos (b itself when it has none;
// nil when all of it is after pos). catchUp calls it with a b that holds
// the message right after its cursor, which is before pos, so nil means
// the store answered with something the cursor did not ask for, and the
// catch-up pages instead of sending it; a seal is never cut (a hub's
// position is never inside one).
func upTo(b *Batch, pos Position) *Batch {
	if b.Epoch > pos.Epoch || (b.Epoch == pos.Epoch && b.First > pos.Offset) {
		return nil
	}
	if b.Seal != nil || !pos.Before(b.End()) || b.Epoch != pos.Epoch {
		return b
	}
	return &Batch{Room: b.Room, Epoch: b.Epoch, First: b.First, Msgs: b.Msgs[:pos.Offset-b.First+1]}
}

func (h *hub) window(ctx context.Context) []*Batch {
	raw, err := h.s.broker.Recent(ctx, h.room.ID)
	if err != nil {
		return nil
	}
	var out []*Batch
	for _, d := range raw {
		if b, err := DecodeBatch(d); err == nil && b.Room == h.room.ID {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b *Batch) int {
		return cmp.Or(cmp.Compare(a.Epoch, b.Epoch), cmp.Compare(a.First, b.First))
	})
	return out
}

// findBatch returns the window batch holding the message right after cur.
func findBatch(window []*Batch, cur Position) *Batch {
	next := cur.Offset + 1
	for _, b := range window {
		if b.Epoch != cur.Epoch || b.First > next {
			continue
		}
		if b.Seal != nil && b.First == next || b.Seal == nil && next <= b.First+int64(len(b.Msgs))-1 {
			return b
		}
	}
	return nil
}

// frames encodes the part of b after `after`: frames for its messages and
// one for its seal. A committed batch (at most maxBatchMessages messages
// and maxBatchBytes of bodies) travels as one WebSocket frame, to every
// subscriber alike, its messages' JSON spliced in as encoded at commit.
// A larger one (a compacted segment read to fill a gap or a catch-up, or
// a batch committed before batches were cut by bytes) is cut into frames
// of consecutive messages within those bounds, so no frame is more than
// about 1.5 MiB (a client reads each frame's messages in order, whatever
// frames they came in).
func (h *hub) frames(b *Batch, after Position) [][]byte {
	var out [][]byte
	i := 0
	for i < len(b.Msgs) && !after.Before(b.Msgs[i].Pos()) {
		i++
	}
	if i == 0 && len(b.Msgs) > 0 && len(b.Msgs) <= maxBatchMessages && bodyBytes(b.Msgs) <= maxBatchBytes {
		out = append(out, msgsFrame(h.quoted, h.room.Name, b))
	} else {
		for i < len(b.Msgs) {
			j, size := i+1, len(b.Msgs[i].Body)
			for j < len(b.Msgs) && j-i < maxBatchMessages && size+len(b.Msgs[j].Body) <= maxBatchBytes {
				size += len(b.Msgs[j].Body)
				j++
			}
			out = append(out, encodeFrame(api.ServerFrame{Type: api.FrameMsgs, Room: h.room.Name, Msgs: b.Msgs[i:j]}))
			i = j
		}
	}
	if b.Seal != nil && after.Before(Position{Epoch: b.Epoch, Offset: b.First}) {
		out = append(out, encodeFrame(api.ServerFrame{Type: api.FrameSeal, Room: h.room.Name, Epoch: b.Epoch, Seal: b.Seal}))
	}
	return out
}

// onBatch is a broker callback: it hands a broadcast batch to run.
func (h *hub) onBatch(tagged []byte) {
	node, data, ok := bytes.Cut(tagged, []byte{'\n'})
	if !ok || string(node) == h.s.proc {
		return // malformed, or this node's own batch (delivered directly)
	}
	h.post(hubEvent{raw: data})
}

// advance delivers b, first any batches between what was delivered and b
// (their broadcasts are late or lost): on the room's owner from what it
// has journaled, elsewhere from the store. The store has them once the
// owner has compacted them (within the compaction interval): a failed
// read is retried when the next batch arrives or the probe runs, at most
// every gapRetry.
func (h *hub) advance(ctx context.Context, b *Batch) {
	var tail []*Batch // the owner's journaled tail, read at the first gap
	read := false
	for range maxChainSteps {
		if !h.pos.Before(b.End()) {
			return // already delivered
		}
		if b.Epoch == h.pos.Epoch && b.First <= h.pos.Offset+1 {
			h.deliver(b)
			return
		}
		missing, rest := nextIn(tail, h.pos)
		if missing == nil && !read {
			tail, _ = h.s.ownTailAfter(h.room.ID, h.pos)
			read = true
			missing, rest = nextIn(tail, h.pos)
		}
		tail = rest
		if missing != nil {
			h.deliver(missing) // journaled on this node, not yet compacted
			continue
		}
		if time.Since(h.gapFailed) < gapRetry {
			return
		}
		missing, err := h.s.log.readNext(ctx, h.room.ID, h.pos)
		if err != nil {
			h.gapFailed = time.Now()
			if !errors.Is(err, errNoBatch) {
				h.s.logger.Warn("gap fill failed", "room", h.room.ID, "error", err.Error())
			}
			return
		}
		h.deliver(missing)
	}
}

// gapRetry spaces out reads for a gap the store cannot fill yet;
// gapFillTimeout bounds them (they hold up this room's hub only).
const (
	gapRetry       = 100 * time.Millisecond
	gapFillTimeout = 5 * time.Second
)

// deliver sends the part of b after what this hub delivered (b may begin
// earlier when it is a compacted segment read to fill a gap).
func (h *hub) deliver(b *Batch) {
	from := Position{Epoch: b.Epoch, Offset: b.First - 1}
	if from.Before(h.pos) {
		from = h.pos
	}
	start := StageClock()
	shared := h.frames(b, from)
	h.mu.Lock()
	defer h.mu.Unlock()
	defer StageDone(StageToSink, b.origin)
	defer StageDone(StageHubDeliver, start)
	for sub := range h.subs {
		frames := shared
		if from.Before(sub.last) {
			frames = h.frames(b, sub.last) // it has seen part of this batch
		}
		for _, f := range frames {
			if !h.send(sub, f) {
				break
			}
		}
		if !sub.ended && sub.last.Before(b.End()) {
			sub.last = b.End()
		}
	}
	h.pos = b.End()
}

// send queues a frame, dropping a subscriber whose queue is full. The
// caller (run) holds mu. A dropped subscription's connection leaves the
// room as a closed one does (its later Unsubscribe finds it ended and
// does nothing): off mu, on a goroutine the service waits for, bounded
// like a gap fill.
func (h *hub) send(sub *Subscription, frame []byte) bool {
	if sub.ended {
		return false
	}
	if sub.sink.Send(frame) {
		return true
	}
	sub.ended = true
	h.remove(sub)
	go sub.sink.Overflow()
	// run is counted in s.wg while it calls this, so Close waits for
	// this too.
	h.s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), gapFillTimeout)
		defer cancel()
		h.leave(ctx, sub)
	})
	return false
}
