package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/floor"
	"github.com/parley-mediation/parley/messaging"

	"github.com/parley-mediation/parley/api"
)

// The WebSocket session layer: one goroutine reads a connection's frames;
// a writer, started only while there is something to write and gone after
// writerLinger without work (at once after a round that wrote only a
// ping), writes them (pings included); a checker,
// started only while a check is due and gone as soon as none is, runs the
// access, floor and session checks (store reads) beside it, so that no
// frame waits behind them; a bounded queue sits between the rooms and the
// writer, and the close codes say why a connection ended. The rooms
// themselves (ordering, durability, fan-out) are package messaging's; this
// file is the only place that knows a WebSocket.

// Connection timing and queue size.
const (
	writeWait    = 10 * time.Second
	pongWait     = 45 * time.Second
	pingInterval = 20 * time.Second
	// closeWait is what a connection's close frame gets when the server
	// shuts down: a client that reads slowly holds the node's shutdown
	// no longer than that.
	closeWait = time.Second
	// DefaultSendQueue is how many frames may wait for a slow client
	// before it is disconnected with api.CloseTooSlow.
	DefaultSendQueue = 1024
	// DefaultSendQueueBytes is how many bytes of frames may wait for a
	// slow client, counting those the writer is writing, before it is
	// disconnected with api.CloseTooSlow: 1,024 frames may be large (a
	// frame of messages holds up to 1 MiB of bodies, about 1.5 MiB). A
	// frame that finds nothing waiting is taken whatever its size.
	// Catch-ups may fill three quarters of it (SendCatchUp): about two of
	// the largest a subscribe sends (messaging's maxCatchUpBytes of
	// bodies, base64-encoded); a room resumed past that gets a reload.
	DefaultSendQueueBytes = 16 << 20
	// maxInFlight bounds one connection's unacknowledged publishes.
	maxInFlight = 256
	// fallbackCheck is how often a connection re-checks its session and
	// its rooms without being told (a lost sign-out or access-change
	// announcement, an expiry): broker announcements are at most once.
	// Each check reads records from the store, so it is kept slow.
	fallbackCheck = time.Minute
)

// Frame limits per connection. Past them the reader waits before it reads
// the next frame, so the client's sends back up in its TCP connection:
// no one connection's frames take a node's CPU, and no one connection's
// subscribes (each reads the room's tail, from the store if need be)
// its store's reads. A browser never comes near them; after a reconnect
// it sends a subscribe per room and resends up to maxInFlight publishes
// at once, which the bursts cover.
const (
	frameRate  rate.Limit = 200 // client frames a second, sustained
	frameBurst            = 2 * maxInFlight
	subRate    rate.Limit = 20 // subscribes and unsubscribes a second
	subBurst              = 100
)

// socketOptions configures one WebSocket connection.
type socketOptions struct {
	User  string
	Auth  messaging.Authorizer
	Watch string // broker topic announcing access changes, e.g. "case:<id>"
	Queue int    // send queue length (default DefaultSendQueue)
	// QueueBytes bounds the bytes of the send queue and the frames being
	// written (default DefaultSendQueueBytes).
	QueueBytes int
	// Heard, if set, is called with each announcement on Watch before
	// the connection acts on it (a broker callback: it must not block).
	Heard func(data []byte)
	// SessionTopics are the broker topics announcing that the
	// connection's session may have ended (its sign-out, a revocation of
	// all its account's sessions); Session says whether it is still
	// valid, has ended, or could not be told (the store failed a read).
	// On an announcement, and every minute as a fallback for a lost
	// announcement or an expiry, a session that has ended closes the
	// connection with CloseSessionEnded; one that could not be told is
	// asked again, and closes the connection with closeTryAgain once it
	// has not been told for a bounded time (see checkSession).
	SessionTopics []string
	Session       func(ctx context.Context) sessionState
	// RetryBudget is how long a check that decided nothing (the store
	// failed a read) while the connection's frames are held for it, or a
	// session check after an announcement on SessionTopics, is retried
	// before the connection is closed for the client to reconnect
	// (default retryBudget; tests shorten it).
	RetryBudget time.Duration
	// UnreadBudget is how long the session may go unread (every session
	// check since the last that decided failed to read the store) before
	// the connection closes with closeTryAgain, announced or not (default
	// unreadBudget; tests shorten it).
	UnreadBudget time.Duration
	// CaseGone, if set, says whether the person's access to the whole
	// case has ended (removed, recused, the case disposed of); a re-check
	// of a connection with no room subscribed asks it, so that such a
	// connection closes with CloseAccessLost too. An error (a store
	// outage) decided nothing: frames held for the re-check stay held.
	CaseGone func(ctx context.Context) (bool, error)
	// Ended, if set, is called on the connection's goroutine once the
	// connection has ended (serve's last step): roomSocket gives back the
	// connection's place among the session's sockets. An option rather
	// than a closure around serve, whose frame under the reader's wait
	// would keep every idle reader's stack at 8 KiB (TestIdleSocketStack).
	Ended func()
	// Floor returns this person's "floor" frame (room controls), sent
	// when the Watch topic announces a floor change or a membership
	// change (floorChange); nil when there is none to send (among them:
	// the person's view did not change). It is called once when the
	// connection opens (floorStart), to record the view the person
	// starts from (nothing is sent then), and at each fallback check
	// (floorRetry), which reads the view and sends it if it changed. Like
	// every check, it is called from the connection's checker, one call at
	// a time.
	Floor func(ctx context.Context, call floorCall) []byte
	// FloorConcerns, if set, says whether a floor change announced in
	// room (its name; "" when the announcement names none) may change
	// this person's view: one that may not raises no floor check, so
	// the socket reads nothing and sends nothing at the moment of a
	// change in a room its person is not in (floorFeed.concerns). It is
	// called from the broker's callback: it must not block or read.
	FloorConcerns func(room string) bool
	// Fence, if set, registers the connection with its node's check of
	// the case for a disposal fence it was not told of (fencewatch.go):
	// kick is called when the case is found newly fenced or gone, or its
	// fence lifted, and the connection re-checks as on an announcement.
	// The returned func ends the registration.
	Fence func(kick func()) (stop func())
	// Fallback is how often the connection re-checks its session and
	// rooms unannounced (default fallbackCheck; tests shorten it).
	Fallback time.Duration
	// Linger is how long the writer waits for more work before it ends
	// (default writerLinger; tests shorten it to make the writer end and
	// start again between frames).
	Linger time.Duration
	// Frames and Subs limit the client's frames and its subscribes and
	// unsubscribes (nil: frameRate/frameBurst and subRate/subBurst).
	Frames, Subs *rate.Limiter
	// lingered, for tests, is called when the writer has waited Linger
	// without work, just before it looks for work one last time and ends.
	lingered func(c *socket)
	// rechecked, for tests, is called by the checker when an access
	// re-check has ended (whatever it decided).
	rechecked func()
	// refusedHeld, for tests, is called by the reader when it has
	// answered a frame refused while frames are held.
	refusedHeld func()
}

// sessionState is what a session check found.
type sessionState uint8

const (
	sessionValid   sessionState = iota // the session is still valid
	sessionEnded                       // signed out, expired or revoked, the account disabled
	sessionUnknown                     // nothing decided: the store failed a read (an outage is neither a sign-out nor a yes)
)

// A check that decided nothing (the store failed a read) while frames are
// held for it (socket.hold), or a session check that did so after its
// session was announced as possibly ended (checkSession), is asked again
// after retryFirst, doubling up to retryMax between tries, for
// retryBudget in all (see socket.retry); then the connection closes with
// closeTryAgain, any held frames unwritten.
const (
	retryFirst  = 250 * time.Millisecond
	retryMax    = 4 * time.Second
	retryBudget = 30 * time.Second
)

// unreadBudget bounds how long a session may stay unread with nothing
// announced (its fallback checks failing their reads), so that a
// sign-out whose announcement was lost (announcements are at most once)
// does not keep its socket reading the case for as long as the store
// fails. The connection closes with closeTryAgain at the first check
// ending at least this long after the first that could not read began
// (each read bounded by sessionReadTimeout): with the fallback check
// every 54–66 s, at most about five minutes after the outage began (the
// first failing check up to 66 s into it, the closing one up to 66 s
// after the budget). It is longer than retryBudget because nothing says this
// session has ended, and every socket of the node is in the same state
// during an outage: a store's restart or failover (a minute or two)
// closes none of them, where 30 s would send every client of the node
// into handshakes that fail too (a browser gives up after about eight
// minutes of those); and short enough that a lost sign-out reads the
// case for minutes at most, not for the whole outage.
const unreadBudget = 3 * time.Minute

// sessionReadTimeout bounds each check of the checker that reads the
// store — the session's, the case's re-check, the floor's (or half the
// unread budget, if shorter; see bounded): a store that hangs rather than
// failing counts as unreadable, so the unread budget holds however the
// store fails (minio-go's own retries can take minutes).
const sessionReadTimeout = 10 * time.Second

// closeTryAgain closes a connection whose access or session could not be
// checked: RFC 6455's "try again later" (1013). Every client reconnects
// on a close other than CloseSessionEnded and CloseAccessLost (the
// browser's secure.ts, client.Chat), as after CloseTooSlow, and its
// handshake checks the case and the session afresh.
const closeTryAgain = websocket.CloseTryAgainLater

// socket is one client connection: one reader (the goroutine that runs
// serve), a writer goroutine while there are frames or pings to write, and
// a checker goroutine while there are checks to run.
type socket struct {
	s    *messaging.Service
	ws   *websocket.Conn
	opts socketOptions
	id   string

	// The send queue: frames waiting for the writer, at most opts.Queue.
	// A slice that grows with use rather than a channel of opts.Queue
	// slots, so that an idle connection does not hold the room for a
	// thousand frames (24 KiB) it will rarely need.
	qmu   sync.Mutex
	queue [][]byte
	// qbytes is the bytes of the frames in queue and of those the writer
	// took last (taken), which it is writing until it next takes work; at
	// most opts.QueueBytes, or one frame's.
	qbytes, taken int
	// pending is the writer's other work (wantPing);
	// checks is the checker's (checkWork flags: checks raised by
	// announcements, timers and subscribes).
	pending, checks uint8
	// writing: a writer goroutine runs (and will see queue and pending
	// before it ends); checking: a checker runs (and will see checks
	// before it ends); ended: close has begun, neither starts.
	writing, checking, ended bool
	// hold counts the announcements naming this socket's own person as
	// losing the case (losesCase) or ending sessions (every one on
	// SessionTopics); cleared is the count up
	// to which checks have since decided they have not. While the two
	// differ the writer takes no frame (pings and the close still go
	// out), so that the person reads nothing of the case's rooms while
	// their checks decide. Each check those announcements ask for
	// (holdChecks: the access re-check, the session check) is tracked on
	// its own: asked is the count of the last announcement that asked
	// for it, kept the count up to which a round of it, begun after
	// those announcements were heard, decided to keep the person. The
	// frames go once every check is kept up to the announcement that last
	// asked for it (see decided), whichever rounds decided them.
	hold, cleared uint64
	asked, kept   [len(holdChecks)]uint64
	// wake tells a lingering writer that work arrived.
	wake chan struct{}
	// oldest is the messaging.StageClock of the queue's first frame
	// (0: not traced).
	oldest int64

	mu     sync.Mutex
	subs   map[string]*messaging.Subscription // by client room name
	closed bool
	// rechecks counts the access checks that have listed subs (under
	// mu), so that a subscribe decided before one of them listed the
	// rooms, and recorded after, knows it was left out (see subscribe).
	rechecks uint64
	// inFlight holds the connection's unacknowledged publishes, in the
	// order they arrived; the acker answers each once it is durable. Both
	// are made on the first publish (by the reader, the only goroutine
	// that touches inFlight before the acker starts), so that an idle
	// connection costs neither.
	inFlight chan *inFlightPub // pointers: the collector scans a channel's whole buffer
	// tasks: the writer, the checker and the acker, waited for by close.
	tasks sync.WaitGroup
	done  chan struct{}
	// ctx is the connection's context (open derives it from newSocket's
	// and close cancels it), for the checker's checks.
	ctx          context.Context
	cancel       context.CancelFunc
	stopShutdown func() bool
	unwatch      []func() // the broker watches open started
	// ping raises wantPing every pingInterval, fallbackTick wantFallback
	// every opts.Fallback (nil with neither Session nor Watch); the
	// writer re-arms ping, the checker fallbackTick.
	ping, fallbackTick *time.Timer
	// sessionRetry and accessRetry ask again a session check (held for
	// or announced), or an access check held for, that decided nothing
	// (see undecided). Only
	// the checker touches them (one runs at a time); it stops a timer
	// once its check decides (undecided.settle), close once none runs.
	sessionRetry, accessRetry undecided
	// sessionAsked counts the announcements on the session's topics
	// (each says the session may have ended); sessionDecided is the
	// count a session check last decided after (the checker's only). A
	// check that cannot tell while sessionAsked is past sessionDecided is
	// retried, with a deadline, as one frames are held for is.
	sessionAsked   atomic.Uint64
	sessionDecided uint64
	// sessionUnread is when the first session check since the last that
	// decided could not read the store (zero: the last one decided); the
	// checker's only.
	sessionUnread time.Time
}

// undecided is the retry state of one check that decided nothing (the
// store failed a read): since is when the first of its undecided answers
// came (zero: none since it decided), wait the wait before the next try,
// timer raises the check again.
type undecided struct {
	since time.Time
	wait  time.Duration
	timer *time.Timer
}

// settle forgets the retry state of a check that decided, or that nothing
// waits for any more, and stops its timer: a retry armed before would
// otherwise ask it once more, a store read for nothing. (A timer that has
// fired already has raised the check: that round runs.)
func (r *undecided) settle() {
	r.since = time.Time{}
	if r.timer != nil {
		r.timer.Stop()
	}
}

// serveSocket runs a WebSocket connection on the rooms of s until the
// client leaves, falls behind, loses access, or ctx ends.
func serveSocket(ctx context.Context, s *messaging.Service, ws *websocket.Conn, opts socketOptions) {
	newSocket(ctx, s, ws, opts).serve()
}

// newSocket makes a connection's state; nothing starts before serve.
func newSocket(ctx context.Context, s *messaging.Service, ws *websocket.Conn, opts socketOptions) *socket {
	if opts.Queue <= 0 {
		opts.Queue = DefaultSendQueue
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultSendQueueBytes
	}
	if opts.Linger <= 0 {
		opts.Linger = writerLinger
	}
	if opts.Fallback <= 0 {
		opts.Fallback = fallbackCheck
	}
	if opts.RetryBudget <= 0 {
		opts.RetryBudget = retryBudget
	}
	if opts.UnreadBudget <= 0 {
		opts.UnreadBudget = unreadBudget
	}
	if opts.Frames == nil {
		opts.Frames = rate.NewLimiter(frameRate, frameBurst)
	}
	if opts.Subs == nil {
		opts.Subs = rate.NewLimiter(subRate, subBurst)
	}
	b := make([]byte, 8)
	rand.Read(b)
	return &socket{s: s, ws: ws, opts: opts, id: hex.EncodeToString(b), wake: make(chan struct{}, 1),
		subs: map[string]*messaging.Subscription{}, done: make(chan struct{}), ctx: ctx}
}

// serve runs the connection on the calling goroutine, which becomes its
// reader, until the client leaves, falls behind, loses access, or the
// context given to newSocket ends. Its setup and teardown are calls of
// their own so that, while the connection waits for the client, the
// goroutine's stack holds little more than the reader's wait: the
// runtime halves a stack only while less than a quarter of it is used,
// and an idle reader's stack then fits in 4 KiB rather than 8
// (TestIdleSocketStack).
func (c *socket) serve() {
	c.open()
	c.reader(c.ctx)
	c.close()
	if c.opts.Ended != nil {
		c.opts.Ended()
	}
}

// open starts what the connection waits on besides its client: timers,
// the server's shutdown and the broker topics it watches.
func (c *socket) open() {
	parent := c.ctx
	c.ctx, c.cancel = context.WithCancel(parent)
	// A pointer: the callbacks below would otherwise keep a copy of the
	// options each connection holds already.
	opts := &c.opts
	// Pings, the session's fallback check and the server's shutdown are
	// timers and a context callback that raise a flag for the writer or
	// the checker: nothing waits on them while the connection is idle.
	// (A timer's callback runs on a goroutine of the runtime's that only
	// raises the flag and ends.)
	c.ping = time.AfterFunc(pingInterval, func() { c.kick(wantPing) })
	if opts.Session != nil || opts.Watch != "" {
		// Armed only once the field is set: the checker it starts reads
		// the field (to re-arm it), and a short Fallback (tests) could
		// fire before the assignment.
		c.fallbackTick = time.AfterFunc(time.Hour, func() { c.kick(wantFallback) })
		c.fallbackTick.Reset(spread(opts.Fallback))
	}
	// On the server's context, not the connection's own (close stops it
	// before it cancels that one): registered there it costs the
	// connection's context no map of children of its own.
	// The callback closes the connection itself (it runs on a goroutine
	// of its own), rather than asking the writer, which looks at its work
	// only between batches: a slow client's batch (up to 16 MiB, each
	// frame with its own writeWait) kept the node's shutdown waiting for
	// minutes. Its close frame gets closeWait, and a write in progress is
	// cut then (TestShutdownCutsASlowClientsBatch).
	c.stopShutdown = context.AfterFunc(parent, func() {
		c.shutdownWithin(websocket.CloseGoingAway, "server shutting down", closeWait)
	})
	// The starting floor view is recorded before any announcement can
	// ask for a change to it.
	if opts.Floor != nil {
		c.kick(wantFloorStart)
	}
	// Announcements only raise a flag (a broker callback must not block or
	// spawn more than the connection's one checker); the checker acts on
	// them, so a burst of announcements costs one check, not a goroutine
	// each.
	if opts.Watch != "" {
		c.unwatch = append(c.unwatch, c.s.Watch(opts.Watch, func(data []byte) {
			if opts.Heard != nil {
				opts.Heard(data)
			}
			// A floor change needs no access re-check; a membership
			// change may change what the floor frame shows too.
			var want uint8
			room, isFloor := floor.AnnouncedRoom(data)
			if !isFloor {
				want |= wantRecheck
				if losesCase(data, opts.User) {
					c.holdFrames(wantRecheck)
				}
				// Cached answers are in doubt from the moment the
				// socket hears of the change, not only once the
				// checker reaches its re-check (it may be busy with
				// an earlier round's reads): a post or join after
				// this decides afresh (Invalidate takes a short lock
				// and reads nothing).
				opts.Auth.Invalidate()
			}
			if opts.Floor != nil && (!isFloor || opts.FloorConcerns == nil || opts.FloorConcerns(room)) {
				want |= wantFloor
			}
			if want != 0 {
				c.kick(want)
			}
		}))
	}
	// Registered, like the Watch, before the reader asks about any room.
	if opts.Fence != nil {
		c.unwatch = append(c.unwatch, opts.Fence(func() { opts.Auth.Invalidate(); c.kick(wantRecheck) }))
	}
	if opts.Session != nil {
		for _, topic := range opts.SessionTopics {
			c.unwatch = append(c.unwatch, c.s.Watch(topic, func(data []byte) {
				// Every announcement on these topics ends sessions:
				// a sign-out of this one ("ended"), or on the
				// account's, its disabling, a revocation, a password
				// changed or reset (announceAccountEnded). Whichever
				// it is, the person reads nothing more until the
				// session check keeps them.
				c.holdFrames(wantSession)
				c.sessionAsked.Add(1)
				c.kick(wantSession)
			}))
		}
		// A sign-out announced between the handshake's authentication
		// and these watches reached no one: check the session once now
		// that later ones will be heard, not at the next fallback check.
		c.kick(wantSession)
	}
	// Access needs no such check: an access change announced before the
	// Watch reached no one, but nothing has asked opts.Auth about a room
	// yet (besides rechecks, which the Watch raises, only the reader asks,
	// and it starts after open), so every answer it gives and caches is
	// decided after the Watch is in place
	// (TestSocketAccessLostDuringStartIsRefused).
}

// spread is d give or take a tenth, at random: connections opened
// together (a node's restart) do not all check the store in the same
// second of every minute.
func spread(d time.Duration) time.Duration {
	return d - d/10 + mrand.N(d/5+1)
}

// close ends the connection once its reader has returned: no writer or
// checker starts after end, those that may run are waited for, and the
// timers, subscriptions and watches go.
func (c *socket) close() {
	c.shutdown(websocket.CloseNormalClosure, "")
	c.end()
	c.stopShutdown()
	c.cancel()
	c.tasks.Wait()
	// No writer or checker runs any more, so none re-arms these timers.
	c.ping.Stop()
	if c.fallbackTick != nil {
		c.fallbackTick.Stop()
	}
	for _, r := range []*undecided{&c.sessionRetry, &c.accessRetry} {
		if r.timer != nil {
			r.timer.Stop()
		}
	}
	for _, sub := range c.takeSubs() {
		sub.Unsubscribe(context.Background())
	}
	for i := len(c.unwatch) - 1; i >= 0; i-- {
		c.unwatch[i]()
	}
}

// The connection's work besides the send queue: the checker's
// (checkWork, in socket.checks) and the writer's (socket.pending).
const (
	wantFloorStart uint8 = 1 << iota // record the person's starting floor view (nothing is sent)
	wantRecheck                      // an access change was announced
	wantFloor                        // a floor or membership change was announced
	wantSession                      // the session may have ended (announced)
	wantFallback                     // the fallback timer: check the session and the rooms unannounced
	wantPing                         // time for a ping
)

// checkWork is the work that reads the store: the checker's, never the
// writer's, so that no frame waits behind a read. An announcement
// reaches every socket of the case, the other side's too, and a frame of
// theirs that waited behind the checks it starts (their floor view, a
// re-check of their rooms) would let them time this side's actions.
const checkWork = wantFloorStart | wantRecheck | wantFloor | wantSession | wantFallback

// writerLinger is how long a writer with nothing to do waits for more
// before it ends: a busy connection keeps its writer, an idle one holds no
// goroutine (its stack, and the wait on its channels).
const writerLinger = 2 * time.Second

// kick raises want for the checker or the writer (checkWork is the
// checker's) and starts the one that does not run.
func (c *socket) kick(want uint8) {
	c.qmu.Lock()
	check, write := want&checkWork, want&^checkWork
	if check != 0 {
		c.checks |= check
		c.startCheckerLocked()
	}
	started := false
	if write != 0 {
		c.pending |= write
		started = c.startWriterLocked()
	}
	c.qmu.Unlock()
	if write != 0 {
		c.wakeWriter(started)
	}
}

// holdChecks are the checks a hold can ask for, each tracked on its own
// (socket.asked, socket.kept).
var holdChecks = [...]uint8{wantRecheck, wantSession}

// holdFrames stops the writer taking frames until check (wantRecheck or
// wantSession), raised with it, has decided that the person has not lost
// the case (see socket.hold).
func (c *socket) holdFrames(check uint8) {
	c.qmu.Lock()
	c.hold++
	for i, k := range holdChecks {
		if check&k != 0 {
			c.asked[i] = c.hold
		}
	}
	c.checks |= check
	c.startCheckerLocked()
	c.qmu.Unlock()
}

// heldLocked: frames are held (see socket.hold); c.qmu is held.
func (c *socket) heldLocked() bool { return c.hold != c.cleared }

// waitingLocked returns the checks the frames are held for that have not
// yet decided to keep the person since the announcement that last asked
// for them (none while nothing is held); c.qmu is held.
func (c *socket) waitingLocked() uint8 {
	var w uint8
	if !c.heldLocked() {
		return 0
	}
	for i, k := range holdChecks {
		if c.asked[i] > c.cleared && c.kept[i] < c.asked[i] {
			w |= k
		}
	}
	return w
}

// decided records that the checks in kept, in a round that began with
// holds up to h (every announcement up to h heard before its reads),
// decided to keep the person, and lets the frames go once every check the
// holds asked for is kept up to the announcement that last asked for it,
// whether it decided in this round or an earlier one: a session check
// retried alone after the access check decided releases them. Holds
// raised since the round began ask again (asked > h), so they keep the
// frames. It is called only while the connection is open.
func (c *socket) decided(h uint64, kept uint8) {
	c.qmu.Lock()
	for i, k := range holdChecks {
		if kept&k != 0 && c.kept[i] < h {
			c.kept[i] = h
		}
	}
	started, wake := false, false
	if c.heldLocked() && c.waitingLocked() == 0 {
		c.cleared = c.hold
		if len(c.queue) > 0 {
			started, wake = c.startWriterLocked(), true
		}
	}
	c.qmu.Unlock()
	if wake {
		c.wakeWriter(started)
	}
}

// losesCase reports whether an announcement on the case's topic
// (api.MembershipEvent, from caucus.MembershipChanged) names user as
// leaving the whole case: removed from it, recused, or held back for a
// notice period by the program's recusal of the last mediator who could
// have admitted them (cases.MembershipChange kinds).
func losesCase(data []byte, user string) bool {
	var ev api.MembershipEvent
	if json.Unmarshal(data, &ev) != nil || ev.Account != user {
		return false
	}
	return ev.Change == "participant.removed" || ev.Change == "mediator.recused" || ev.Change == "mediator.held"
}

// startCheckerLocked starts a checker if none runs and the connection is
// not ending; c.qmu is held. Like the writer, it joins c.tasks under
// c.qmu.
func (c *socket) startCheckerLocked() {
	if c.checking || c.ended {
		return
	}
	c.checking = true
	c.tasks.Go(c.checker)
}

// takeChecks returns the checks raised and, while frames are held, the
// holds so far and the checks they still wait for (hold 0: none); with no
// check raised, it marks the checker gone (ok false): from then on, a
// check raised starts a new one.
func (c *socket) takeChecks() (want uint8, hold uint64, waiting uint8, ok bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	want, c.checks = c.checks, 0
	if want == 0 {
		c.checking = false
	}
	if c.heldLocked() {
		hold, waiting = c.hold, c.waitingLocked()
	}
	return want, hold, waiting, want != 0
}

// checker runs the checks raised (checkWork) until none is left, then
// ends: at most one runs (see startCheckerLocked), so checks raised while
// it reads the store coalesce into one more round, no two Floor calls
// overlap, and the starting floor view is recorded before any change to
// it is looked for (wantFloorStart is raised first, and taken first in a
// round). It needs no goroutine while no check is due. It writes
// nothing itself: what it has to say (a floor frame, "you are no longer
// in this room") goes through Send, a close through shutdown. Frames keep
// going out meanwhile, those of the rooms it is checking included; a
// room or case it finds lost is dropped or closed when it has decided —
// except after an announcement naming this socket's own person as
// losing the case (socket.hold): then the writer takes no frame until
// the checks it asked for decide.
func (c *socket) checker() {
	ctx := c.ctx
	for {
		if c.isClosed() {
			return // checking stays set: no checker starts again
		}
		want, hold, waiting, ok := c.takeChecks()
		if !ok {
			return
		}
		// ran: the checks of this round that decided (for holds).
		var ran uint8
		if want&wantFloorStart != 0 {
			c.bounded(ctx, func(ctx context.Context) { c.opts.Floor(ctx, floorStart) }) // records the starting view; nothing to send
		}
		if want&wantRecheck != 0 || (want&wantFallback != 0 && c.opts.Watch != "") {
			var decided bool
			c.bounded(ctx, func(ctx context.Context) { decided = c.recheck(ctx) })
			switch {
			case decided:
				ran |= wantRecheck
				c.accessRetry.settle()
			case waiting&wantRecheck != 0:
				// Undecided, and frames are held for it: ask again
				// shortly, and close once it has decided nothing for
				// opts.RetryBudget.
				c.retry(ctx, &c.accessRetry, wantRecheck, "could not check your access; reconnecting")
			default:
				c.accessRetry.settle() // nothing held waits for it
			}
			if c.opts.rechecked != nil {
				c.opts.rechecked()
			}
		}
		if want&(wantFloor|wantFallback) != 0 && c.opts.Floor != nil {
			call := floorChange
			if want&wantFloor == 0 {
				call = floorRetry
			}
			var f []byte
			c.bounded(ctx, func(ctx context.Context) { f = c.opts.Floor(ctx, call) })
			if f != nil && !c.isClosed() {
				c.Send(f)
			}
		}
		if want&(wantSession|wantFallback) != 0 {
			if c.checkSession(ctx, waiting&wantSession != 0) {
				ran |= wantSession
			}
		}
		if want&wantFallback != 0 {
			c.fallbackTick.Reset(spread(c.opts.Fallback))
		}
		// Held frames go once every check the holds asked for has
		// decided, in this round or an earlier one, and left the
		// connection open (decided); a check that decided nothing (the
		// store failed a read) keeps them held and is asked again
		// shortly (retry), until it decides or opts.RetryBudget passes
		// and the connection closes, the frames unwritten.
		if hold != 0 && !c.isClosed() {
			c.decided(hold, ran)
		}
	}
}

// bounded runs f, a check that reads the store, with its reads bounded
// by sessionReadTimeout (or half the unread budget, if shorter): a round
// of the checker stuck in a read that hangs would keep every later
// check, the session's among them, from running, and the writer goes on
// meanwhile.
func (c *socket) bounded(ctx context.Context, f func(context.Context)) {
	rctx, cancel := context.WithTimeout(ctx, min(sessionReadTimeout, c.opts.UnreadBudget/2))
	defer cancel()
	f(rctx)
}

// retry asks check (wantRecheck or wantSession), which decided nothing,
// again after a backoff (retryFirst, doubling to retryMax), the state in
// r; once opts.RetryBudget has passed since it first decided nothing, it
// closes the connection with closeTryAgain and reason instead. Any held
// frames stay unwritten: they never go out on a check that decided
// nothing. Only the checker calls it.
func (c *socket) retry(ctx context.Context, r *undecided, check uint8, reason string) {
	if c.isClosed() || ctx.Err() != nil {
		return
	}
	now := time.Now()
	if r.since.IsZero() {
		r.since, r.wait = now, retryFirst
	}
	left := c.opts.RetryBudget - now.Sub(r.since)
	if left <= 0 {
		c.shutdown(closeTryAgain, reason)
		return
	}
	wait := min(r.wait, left)
	r.wait = min(2*r.wait, retryMax)
	if r.timer == nil {
		r.timer = time.AfterFunc(wait, func() { c.kick(check) })
	} else {
		r.timer.Reset(wait)
	}
}

// startWriterLocked starts a writer if none runs and the connection is
// not ending, and reports whether it did; c.qmu is held. The writer joins
// c.tasks under c.qmu, so that it is either counted before end (and
// close waits for it) or not started at all.
func (c *socket) startWriterLocked() bool {
	if c.writing || c.ended {
		return false
	}
	c.writing = true
	c.tasks.Go(c.writer)
	return true
}

// wakeWriter wakes the writer that runs, unless it was just started.
func (c *socket) wakeWriter(started bool) {
	if started {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// end stops writers and checkers from starting: close then waits for
// those that may run.
func (c *socket) end() {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	c.ended = true
}

func (c *socket) takeSubs() []*messaging.Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*messaging.Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		out = append(out, s)
	}
	c.subs = map[string]*messaging.Subscription{}
	return out
}

// Send implements messaging.Sink: it queues frame for the writer, or
// reports false when opts.Queue frames already wait, or when frame would
// take the bytes waiting or being written past opts.QueueBytes.
func (c *socket) Send(frame []byte) bool {
	select {
	case <-c.done:
		return true // closing anyway
	default:
	}
	c.qmu.Lock()
	if len(c.queue) >= c.opts.Queue || c.qbytes > 0 && c.qbytes+len(frame) > c.opts.QueueBytes {
		c.qmu.Unlock()
		return false
	}
	if len(c.queue) == 0 {
		c.oldest = messaging.StageClock()
	}
	c.queue = append(c.queue, frame)
	c.qbytes += len(frame)
	if c.heldLocked() {
		c.qmu.Unlock()
		return true // the writer takes it once released
	}
	started := c.startWriterLocked()
	c.qmu.Unlock()
	c.wakeWriter(started)
	return true
}

// SendCatchUp implements messaging.CatchUpSink: it queues frames (a
// resuming subscribe's subscribed frame and catch-up), all of them in
// order, or none (false) when with them the queue would hold more than
// catchUpShare of opts.Queue frames or of opts.QueueBytes bytes. The
// catch-ups of the rooms a client resumes at once thus share three
// quarters of its queue (12 MiB of the default 16 MiB: two of the largest,
// about 5.5 MiB each, with room to spare), and a room whose catch-up finds
// too little of that share left gets a reload (it pages over HTTP)
// instead of taking the queue past its bound, which closed the
// connection (4008); the last quarter stays for live frames. As frames
// are written their room comes back.
func (c *socket) SendCatchUp(frames [][]byte) bool {
	select {
	case <-c.done:
		return true // closing anyway
	default:
	}
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	c.qmu.Lock()
	if len(c.queue)+len(frames) > c.opts.Queue*catchUpShare/4 || c.qbytes+n > c.opts.QueueBytes/4*catchUpShare {
		c.qmu.Unlock()
		return false
	}
	if len(c.queue) == 0 {
		c.oldest = messaging.StageClock()
	}
	c.queue = append(c.queue, frames...)
	c.qbytes += n
	if c.heldLocked() {
		c.qmu.Unlock()
		return true // the writer takes them once released
	}
	started := c.startWriterLocked()
	c.qmu.Unlock()
	c.wakeWriter(started)
	return true
}

var _ messaging.CatchUpSink = (*socket)(nil)

// catchUpShare is the quarters of a socket's send queue, in frames and
// in bytes, that the catch-ups queued in it may fill (SendCatchUp).
const catchUpShare = 3

// takeWork returns the frames waiting and the other work raised, and
// gives the queue spare (empty) to fill next. With nothing to do and
// final set, it marks the writer gone (ok false): from then on, new work
// starts a new one.
func (c *socket) takeWork(spare [][]byte, final bool) (frames [][]byte, want uint8, ok bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	// The frames taken last have been written (the writer asks for work
	// only then).
	c.qbytes -= c.taken
	c.taken = 0
	held := c.heldLocked() // frames stay queued (see socket.hold)
	if (len(c.queue) == 0 || held) && c.pending == 0 {
		if final {
			c.writing = false
			return nil, 0, false
		}
		return nil, 0, true
	}
	if held {
		want, c.pending = c.pending, 0
		return nil, want, true
	}
	frames, want = c.queue, c.pending
	c.queue, c.pending = spare, 0
	c.taken = c.qbytes
	if len(frames) > 0 {
		messaging.StageDone(messaging.StageSendQueue, c.oldest)
	}
	return frames, want, true
}

// keepSpare is the largest queue the writer keeps for reuse; a larger
// one, grown by a burst, is left to the collector.
const keepSpare = 64

// Overflow implements messaging.Sink: a client that fell behind is disconnected; it
// reconnects and resumes from its last position.
func (c *socket) Overflow() { c.shutdown(api.CloseTooSlow, "fell behind; reconnect and resume") }

// shutdown sends a close frame (once) and closes the socket, which ends
// the reader.
func (c *socket) shutdown(code int, reason string) { c.shutdownWithin(code, reason, writeWait) }

// shutdownWithin is shutdown with wait for the close frame: it waits for
// the writer's frame in progress (gorilla's write lock) and then goes
// out, both within wait. A write still in progress then (a slow client's
// frame) is cut: the connection's deadline is moved to the close's, and
// the writer takes no further frame once the connection is closed.
func (c *socket) shutdownWithin(code int, reason string, wait time.Duration) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	deadline := time.Now().Add(wait)
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
	// Also bounds what Close writes out first (a burst held with the
	// close frame in it, coalesce.go).
	c.ws.NetConn().SetWriteDeadline(deadline)
	c.ws.Close()
}

// writer writes queued frames and pings until it has had nothing to do
// for writerLinger (or at once, after a round that wrote only a ping: an
// idle connection's ping keeps no writer) or the connection closes. At
// most one runs (see
// startWriterLocked), so frames go out in the order they were queued. It
// reads nothing from the store (the checker does), so a frame waits only
// for the frames before it.
func (c *socket) writer() {
	var spare [][]byte
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	final := false
	for {
		if c.isClosed() {
			return // writing stays set: no writer starts again
		}
		frames, want, ok := c.takeWork(spare, final)
		if !ok {
			return
		}
		if len(frames) == 0 && want == 0 {
			// Nothing to do: wait a while for more before ending.
			if linger == nil {
				linger = time.NewTimer(c.opts.Linger)
			} else {
				linger.Reset(c.opts.Linger)
			}
			select {
			case <-c.wake:
				final = false
			case <-linger.C:
				final = true
				if c.opts.lingered != nil {
					c.opts.lingered(c)
				}
			case <-c.done:
				return
			}
			continue
		}
		final = false
		if !c.writeFrames(frames) {
			c.shutdown(websocket.CloseAbnormalClosure, "")
			return
		}
		spare = nil
		if cap(frames) <= keepSpare {
			clear(frames)
			spare = frames[:0]
		}
		if want&wantPing != 0 {
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.shutdown(websocket.CloseAbnormalClosure, "")
				return
			}
			c.ping.Reset(pingInterval)
			// A ping is no sign of a busy connection: with nothing else
			// to write, the writer ends now rather than lingering (an
			// idle connection's ping every pingInterval would otherwise
			// keep a writer, its stack and its timer, a tenth of the
			// time).
			final = len(frames) == 0
		}
	}
}

// writeFrames writes frames in order, as one write to the connection when
// it can hold writes (coalesce.go); false when the connection failed.
func (c *socket) writeFrames(frames [][]byte) bool {
	t := messaging.StageClock()
	h, hold := c.ws.NetConn().(writeHolder)
	if hold && len(frames) > 1 {
		h.holdWrites()
	} else {
		hold = false
	}
	for _, f := range frames {
		select {
		case <-c.done:
			// Closed (shutdownWithin): the rest of the batch is not
			// written.
			if hold {
				h.releaseWrites()
			}
			return false
		default:
		}
		// Each frame gets writeWait, as each write of a held burst does
		// (it goes out under the deadline of the frame that filled it).
		c.ws.SetWriteDeadline(time.Now().Add(writeWait))
		if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
			if hold {
				h.releaseWrites()
			}
			return false
		}
	}
	if hold && h.releaseWrites() != nil {
		return false
	}
	messaging.StageDone(messaging.StageSocketWrite, t)
	return true
}

// reader reads the client's frames until the connection ends. It is the
// goroutine's only frame above serve while the connection waits, so it
// does nothing but read: each frame is handled by a call of its own.
func (c *socket) reader(ctx context.Context) {
	c.ws.SetReadLimit(api.MaxFrame)
	c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		// Past the connection's frame limit the next frame waits (see frameRate).
		if wait(ctx, c.opts.Frames) != nil {
			return
		}
		kind, r, err := c.ws.NextReader()
		if err != nil || !c.handle(ctx, kind, r) {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.shutdown(websocket.CloseMessageTooBig, "frame too large")
			}
			return
		}
	}
}

// wait takes one of lim's tokens, waiting for it if need be (or until
// ctx ends). A token there to take is taken without Wait, which would
// ask ctx for its Done channel and so make one for every connection (the
// connection's context makes it only when asked).
func wait(ctx context.Context, lim *rate.Limiter) error {
	if lim.Allow() {
		return nil
	}
	return lim.Wait(ctx)
}

// frameBufs holds read buffers for client frames: a frame's bytes are
// needed only until it is decoded (decoding copies what it keeps).
var frameBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledFrame: a buffer grown past this by a large frame is left to
// the collector rather than pooled.
const maxPooledFrame = 64 << 10

// handle reads and acts on one client frame; false ends the connection.
func (c *socket) handle(ctx context.Context, kind int, r io.Reader) bool {
	buf := frameBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledFrame {
			frameBufs.Put(buf)
		}
	}()
	_, err := buf.ReadFrom(r)
	data := buf.Bytes()
	read := messaging.StageClock()
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			c.shutdown(websocket.CloseMessageTooBig, "frame too large")
		}
		return false
	}
	c.ws.SetReadDeadline(time.Now().Add(pongWait))
	if kind != websocket.TextMessage {
		c.error("", "", api.CodeInvalid, "text frames only")
		return true
	}
	if !utf8.Valid(data) {
		// RFC 6455 §8.1: a text frame that is not UTF-8 fails the
		// connection with 1007.
		c.shutdown(websocket.CloseInvalidFramePayloadData, "text frame is not valid UTF-8")
		return false
	}
	f, err := decodeClientFrame(data)
	if err != nil {
		c.error("", "", api.CodeInvalid, err.Error())
		return true
	}
	// While the socket's person may have lost the case (frames held for
	// their removal, recusal, revoked sessions or disabled account), it
	// takes no post and no subscription: a cached or fresh room decision
	// does not know of a revoked session, and a post must not land on an
	// answer read before the change. The refusal asks to send again; it
	// goes out only if the check keeps the person.
	if f.Type != api.FrameUnsub && c.framesHeld() {
		if f.Type == api.FramePub {
			c.error(f.Room, f.ID, api.CodeUnavailable, "not stored; send again")
		} else {
			c.subError(f.Room, api.CodeUnavailable, subAgainDetail)
		}
		if c.opts.refusedHeld != nil {
			c.opts.refusedHeld()
		}
		return !c.isClosed()
	}
	switch f.Type {
	case api.FrameSub, api.FrameUnsub:
		if wait(ctx, c.opts.Subs) != nil {
			return false
		}
		if f.Type == api.FrameSub {
			c.subscribe(ctx, f)
		} else {
			c.unsubscribe(context.Background(), f.Room)
		}
	case api.FramePub:
		c.publish(ctx, f, read)
	}
	return !c.isClosed()
}

// framesHeld reports whether the socket's frames are held (see
// socket.hold).
func (c *socket) framesHeld() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.heldLocked()
}

func (c *socket) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *socket) error(room, id string, code api.ErrorCode, detail string) {
	c.Send(encodeFrame(api.ServerFrame{Type: api.FrameError, Room: room, ID: id, Code: code, Detail: detail}))
}

// subError answers a subscribe to room that was not taken: the frame
// says it refuses a "sub" (api.ServerFrame.Refused), so that a client
// asks again after an unavailable one (the browser's secure.ts) rather
// than leave the room silent until it reconnects.
func (c *socket) subError(room string, code api.ErrorCode, detail string) {
	c.Send(encodeFrame(api.ServerFrame{Type: api.FrameError, Room: room, Refused: api.FrameSub, Code: code, Detail: detail}))
}

// subAgainDetail is the refusal of a subscribe that may be taken if sent
// again (the store did not answer, or frames were held).
const subAgainDetail = "could not subscribe; try again"

// disposingDetail is the refusal of a post to a case whose records are
// being disposed of: by the fence before the engine, or by the engine
// itself once the room's history has ended (messaging.ErrHistoryEnded).
const disposingDetail = "not stored: this case is being disposed of under its retention schedule, so nothing can be added to it"

// refuse answers an authorization failure of a pub (id) or, with id
// empty, a sub: a room refusal is an error frame; lost access closes the
// connection.
func (c *socket) refuse(room, id string, err error) {
	if errors.Is(err, messaging.ErrAccessLost) {
		c.shutdown(api.CloseAccessLost, "access to this case ended")
		return
	}
	say := c.error
	if id == "" {
		say = func(room, _ string, code api.ErrorCode, detail string) { c.subError(room, code, detail) }
	}
	if errors.Is(err, cases.ErrNothingAdded) {
		// Retention is disposing of the case (its fence, announced on
		// the Watch topic): nothing more is stored in any of its rooms.
		say(room, id, api.CodeForbidden, disposingDetail)
		return
	}
	say(room, id, api.CodeForbidden, "not allowed in this room")
}

// decidedNothing reports whether a room decision's error decided nothing: the
// store failed a read. A refusal (an unknown room or one the person may
// not enter is messaging.ErrForbidden), a lost case and a disposal's
// fence are decisions.
func decidedNothing(err error) bool {
	return !errors.Is(err, messaging.ErrForbidden) && !errors.Is(err, messaging.ErrAccessLost) && !errors.Is(err, cases.ErrNothingAdded)
}

// resolve asks the connection's authorizer, which the checker may be
// asking at the same time: no lock is held here across its store reads.
func (c *socket) resolve(ctx context.Context, name, action string) (messaging.Room, error) {
	return c.opts.Auth.Resolve(ctx, name, action)
}

func (c *socket) subscribe(ctx context.Context, f *api.ClientFrame) {
	c.mu.Lock()
	seen := c.rechecks
	c.mu.Unlock()
	room, err := c.resolve(ctx, f.Room, "join")
	if err != nil {
		if decidedNothing(err) {
			// It may be taken if asked again.
			c.subError(f.Room, api.CodeUnavailable, subAgainDetail)
			return
		}
		c.refuse(f.Room, "", err)
		return
	}
	c.unsubscribe(context.Background(), f.Room)
	sub, err := c.s.Subscribe(ctx, room, c.opts.User, c.id, f.From, c)
	if err != nil {
		c.subError(f.Room, api.CodeUnavailable, subAgainDetail)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		sub.Unsubscribe(ctx)
		return
	}
	c.subs[f.Room] = sub
	missed := c.rechecks != seen
	c.mu.Unlock()
	// An access check that listed the rooms while this one was being
	// decided and subscribed left it out, and the answer it was allowed
	// on may predate the change that check was for: check again, now
	// with this room. (A check that listed the rooms before seen was
	// read had put the authorizer's cached answers in doubt first, so
	// this room's answer was read after the change.)
	if missed {
		c.kick(wantRecheck)
	}
}

// unsubscribe ends the connection's subscription to name; leaving the
// room (its presence entry's removal, the read of who is left, the leave
// announced) is broker I/O bounded by ctx. The checker's re-check gives
// it the round's bounded context: against a broker that hangs, a round
// dropping rooms must not outlast its bound (the entry then expires, and
// the leave is not announced).
func (c *socket) unsubscribe(ctx context.Context, name string) {
	c.mu.Lock()
	sub := c.subs[name]
	delete(c.subs, name)
	c.mu.Unlock()
	if sub != nil {
		sub.Unsubscribe(ctx)
	}
}

// publish enqueues in arrival order, then waits for durability off the
// read loop, so a client may pipeline up to maxInFlight messages.
func (c *socket) publish(ctx context.Context, f *api.ClientFrame, read int64) {
	room, err := c.resolve(ctx, f.Room, "post")
	if err != nil {
		if decidedNothing(err) {
			// Not "you may not write here": the client sends it again.
			c.error(f.Room, f.ID, api.CodeUnavailable, "not stored; send again")
			return
		}
		c.refuse(f.Room, f.ID, err)
		return
	}
	expect, err := pubEpoch(f)
	if err != nil {
		c.error(f.Room, f.ID, api.CodeInvalid, err.Error())
		return
	}
	// The body is stored only in the epoch it was encrypted for: a seal
	// committed first refuses it.
	done, err := c.s.EnqueueFor(ctx, room.ID, api.Message{ID: f.ID, From: c.opts.User, Body: f.Body}, expect)
	if err != nil {
		c.error(f.Room, f.ID, api.CodeUnavailable, "not stored; send again")
		return
	}
	messaging.StageDone(messaging.StageRead, read)
	if c.inFlight == nil {
		c.inFlight = make(chan *inFlightPub, maxInFlight)
		in := c.inFlight
		c.tasks.Go(func() { c.acker(ctx, in) })
	}
	select {
	case c.inFlight <- &inFlightPub{room: f.Room, id: f.ID, done: done, at: messaging.StageClock()}:
	case <-ctx.Done():
	}
}

// pubEpoch is the epoch a pub's body may be stored in: the one its
// header names when the body is a room payload (a key distribution or an
// encrypted message; e2ee.PayloadEpoch), which also holds for a client
// that does not name it in the frame; else the frame's (0: any, for a body
// that is no room payload). A frame naming another epoch than its body's
// header is refused.
func pubEpoch(f *api.ClientFrame) (int64, error) {
	e, ok := e2ee.PayloadEpoch(f.Body)
	switch {
	case !ok:
		return f.Epoch, nil
	case f.Epoch != 0 && f.Epoch != e:
		return 0, fmt.Errorf("epoch: the frame names epoch %d, its body was encrypted for epoch %d", f.Epoch, e)
	}
	return e, nil
}

// inFlightPub is one publish waiting for durability.
type inFlightPub struct {
	room, id string
	done     <-chan messaging.Result
	at       int64 // messaging.StageClock when enqueued (0: not traced)
}

// acker answers the connection's publishes in the order they arrived: an
// ack once durable, "moved" (with the room's current epoch) when the body
// was encrypted for an epoch the room has left, "forbidden" with the
// disposal wording when the room's history has ended, or "send again".
func (c *socket) acker(ctx context.Context, in <-chan *inFlightPub) {
	for {
		var p *inFlightPub
		select {
		case p = <-in:
		case <-ctx.Done():
			return
		}
		select {
		case r := <-p.done:
			var moved *messaging.EpochMovedError
			if errors.As(r.Err, &moved) {
				c.Send(encodeFrame(api.ServerFrame{Type: api.FrameError, Room: p.room, ID: p.id, Code: api.CodeEpochMoved,
					Epoch: moved.Current, Detail: "not stored: the room moved to a new epoch; encrypt again and send"}))
				continue
			}
			if errors.Is(r.Err, messaging.ErrHistoryEnded) {
				// Sending again would be refused again: say why.
				c.error(p.room, p.id, api.CodeForbidden, disposingDetail)
				continue
			}
			if r.Err != nil {
				c.error(p.room, p.id, api.CodeUnavailable, "not stored; send again")
				continue
			}
			c.Send(ackFrame(p.room, p.id, r.Msg.Epoch, r.Msg.Offset, r.Msg.At))
			messaging.StageDone(messaging.StageToAck, p.at)
		case <-ctx.Done():
			return
		}
	}
}

// checkSession closes the connection with CloseSessionEnded once its
// session has ended, and reports whether the check decided (valid or
// ended). One that could not be told (the store failed a read) decides
// nothing. If frames are held for this check (socket.hold), or a session
// topic announced, since the check last decided, that the session may
// have ended (a sign-out of this session from another device), it is
// asked again after a backoff until it decides, and after
// opts.RetryBudget without an answer the connection closes with
// closeTryAgain, any held frames unwritten (see retry): an outage does
// not keep a session announced ended reading the case. Otherwise (a
// fallback check, nothing announced) the connection stays and the
// session is asked again at the next announcement or fallback check, so
// that a short store outage does not close every connection of the node
// — until the session has gone unread for opts.UnreadBudget (see
// unreadBudget): then the connection closes with closeTryAgain too, so
// that a sign-out whose announcement was lost is not kept reading the
// case for as long as the store fails.
func (c *socket) checkSession(ctx context.Context, held bool) bool {
	if c.opts.Session == nil {
		return true
	}
	if c.isClosed() || ctx.Err() != nil {
		return false
	}
	asked := c.sessionAsked.Load() // announcements heard before this check's read
	// The read is bounded: the writer goes on meanwhile, so a store that
	// hangs instead of failing must not stretch the unread budget (a
	// check's unknown is counted from when it began).
	began := time.Now()
	var state sessionState
	c.bounded(ctx, func(ctx context.Context) { state = c.opts.Session(ctx) })
	switch state {
	case sessionValid:
		c.sessionRetry.settle()
		c.sessionUnread = time.Time{}
		c.sessionDecided = asked
		return true
	case sessionEnded:
		c.shutdown(api.CloseSessionEnded, "session ended; sign in again")
		return true
	}
	// However the check was asked, a session unread for
	// opts.UnreadBudget closes the connection: a sign-out whose
	// announcement was lost is not kept reading the case for as long as
	// the store fails.
	if c.sessionUnread.IsZero() {
		c.sessionUnread = began
	} else if time.Since(c.sessionUnread) >= c.opts.UnreadBudget {
		c.shutdown(closeTryAgain, "could not check your sign-in; reconnecting")
		return false
	}
	if held || asked > c.sessionDecided {
		c.retry(ctx, &c.sessionRetry, wantSession, "could not check your sign-in; reconnecting")
	} else {
		c.sessionRetry.settle() // nothing held waits for it
	}
	return false
}

// recheck asks the Authorizer again about every subscribed room after an
// access change, dropping the rooms no longer allowed. The cached answers
// are put in doubt before the rooms are listed, so that a subscribe
// recorded after the listing was either decided afresh or sees the
// listing (rechecks) and asks for another check. An authorizer that
// decides its answers again itself (messaging.Redecider: package
// caucus's) does so here, from one read, and swaps them in: the person's
// next post is answered from that read, not from a read on its own path,
// unless it comes while the read is in flight (then, its answer in doubt,
// it decides afresh). It reports whether every answer decided (false
// when the store failed a read).
func (c *socket) recheck(ctx context.Context) bool {
	c.opts.Auth.Invalidate()
	c.mu.Lock()
	c.rechecks++
	names := make([]string, 0, len(c.subs))
	for n := range c.subs {
		names = append(names, n)
	}
	c.mu.Unlock()
	// With no room subscribed there is no room to ask about: ask about
	// the case itself.
	if len(names) == 0 && c.opts.CaseGone != nil {
		gone, err := c.opts.CaseGone(ctx)
		if err != nil {
			return false // nothing decided: a hold stays, the next check asks again
		}
		if gone {
			c.shutdown(api.CloseAccessLost, "access to this case ended")
			return true
		}
	}
	var errs []error
	if r, ok := c.opts.Auth.(messaging.Redecider); ok {
		errs = r.Redecide(ctx, names)
	} else {
		errs = make([]error, len(names))
		for i, n := range names {
			_, errs[i] = c.resolve(ctx, n, "join")
		}
	}
	decided := true
	// Leaving the rooms found forbidden gets a bound of its own, not what
	// the round's reads left over (nor the socket's end): a leave cut off
	// sends no "left" to the room's other members, and nothing sends it
	// later, the room being gone from c.subs.
	var leave context.Context
	for i, n := range names {
		if err := errs[i]; err != nil {
			if errors.Is(err, messaging.ErrAccessLost) {
				c.shutdown(api.CloseAccessLost, "access to this case ended")
				return true
			}
			// Only a refusal drops the room. An answer that decided
			// nothing (the store failed a read) keeps it: the next
			// announcement or fallback check asks again.
			if !errors.Is(err, messaging.ErrForbidden) {
				decided = false
				continue
			}
			if leave == nil {
				var cancel context.CancelFunc
				leave, cancel = context.WithTimeout(context.WithoutCancel(ctx), c.leaveBound())
				defer cancel()
			}
			c.unsubscribe(leave, n)
			c.error(n, "", api.CodeForbidden, "you are no longer in this room")
		}
	}
	return decided
}

// leaveBound bounds the leaves of one re-check's dropped rooms, together:
// 2 s, or a quarter of the unread budget if shorter, so that a hanging
// broker holds a round up for little more than its own bound.
func (c *socket) leaveBound() time.Duration {
	d := 2 * time.Second
	if b := c.opts.UnreadBudget / 4; b > 0 && b < d {
		d = b
	}
	return d
}

// decodeClientFrame parses and checks one client frame. Every limit is
// enforced here, so nothing oversized or malformed goes further. It is
// decoded with the go-json-experiment decoder (0.9 against 2.8 µs for a
// pub frame, 2 allocations against 9: BenchmarkDecodeClientFrame), names
// matching in any case
// as in encoding/json, and a name given twice (in any case) or invalid
// UTF-8 refuses the frame: no reader of it can see another room than the
// one its message is stored in.
func decodeClientFrame(data []byte) (*api.ClientFrame, error) {
	if len(data) > api.MaxFrame {
		return nil, fmt.Errorf("frame over %d bytes", api.MaxFrame)
	}
	var f api.ClientFrame
	if err := jsonv2.Unmarshal(data, &f, jsonv2.MatchCaseInsensitiveNames(true)); err != nil {
		if field, detail, ok := v2Words(err); ok {
			return nil, fmt.Errorf("%s: %s", field, detail)
		}
		if _, detail, _ := v2Words(err); detail != "" {
			return nil, fmt.Errorf("malformed frame: %s", detail)
		}
		return nil, errors.New("malformed frame: not a JSON object")
	}
	if f.Room == "" || len(f.Room) > api.MaxRoomName || !utf8.ValidString(f.Room) {
		return nil, fmt.Errorf("room: required, at most %d bytes", api.MaxRoomName)
	}
	switch f.Type {
	case api.FrameSub:
		if f.From != nil && (f.From.Epoch < 0 || f.From.Offset < 0) {
			return nil, fmt.Errorf("from: negative position")
		}
	case api.FrameUnsub:
	case api.FramePub:
		if f.ID == "" || len(f.ID) > api.MaxClientID {
			return nil, fmt.Errorf("id: required, at most %d bytes", api.MaxClientID)
		}
		if len(f.Body) == 0 || len(f.Body) > api.MaxBody {
			return nil, fmt.Errorf("body: required, at most %d bytes", api.MaxBody)
		}
		if f.Epoch < 0 {
			return nil, fmt.Errorf("epoch: negative")
		}
	default:
		return nil, fmt.Errorf("t: unknown frame type %q", f.Type)
	}
	return &f, nil
}

func encodeFrame(f api.ServerFrame) []byte {
	b, _ := json.Marshal(f)
	return b
}

// ackFrame is the ack of a message stored at epoch/offset at time at:
// the bytes encodeFrame gives, built without reflection since one goes
// out for every message published (ack_test.go).
func ackFrame(room, id string, epoch, offset, at int64) []byte {
	qRoom, err1 := json.Marshal(room)
	qID, err2 := json.Marshal(id)
	if room == "" || id == "" || err1 != nil || err2 != nil {
		m := api.Message{Epoch: epoch, Offset: offset, At: at}
		return encodeFrame(api.ServerFrame{Type: api.FrameAck, Room: room, ID: id, Msg: &m})
	}
	out := make([]byte, 0, len(qRoom)+len(qID)+112)
	out = append(out, `{"t":"`...)
	out = append(out, api.FrameAck...)
	out = append(out, `","room":`...)
	out = append(out, qRoom...)
	out = append(out, `,"m":{"epoch":`...)
	out = strconv.AppendInt(out, epoch, 10)
	out = append(out, `,"offset":`...)
	out = strconv.AppendInt(out, offset, 10)
	out = append(out, `,"id":"","from":"","at":`...)
	out = strconv.AppendInt(out, at, 10)
	out = append(out, `,"body":null},"id":`...)
	out = append(out, qID...)
	return append(out, '}')
}
