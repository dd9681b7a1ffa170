package messaging

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatchMessages and maxBatchBytes (of bodies) bound one room's share of
// a group commit. A committed batch is broadcast as one record and sent
// to each subscriber as one frame (hub.frames): cut at 512 messages only,
// a batch of the largest bodies (api.MaxBody, 64 KiB in base64) made a
// frame of some 32 MiB, past what a socket's send queue may hold (16 MiB),
// so busy subscribers were closed for legitimate traffic. 1 MiB of bodies
// is a frame of at most about 1.5 MiB; the first message of a batch is
// taken whatever its size (one body is at most api.MaxBody).
const (
	maxBatchMessages = 512
	maxBatchBytes    = 1 << 20
)

// Service is one node's messaging: the node's journal and the rooms it
// owns (node.go, commit.go, compact.go), a committer per room this node
// has publishers in, and a hub per room it has subscribers in.
type Service struct {
	log    *Log
	broker Broker
	logger *slog.Logger

	// bmu guards bready, the committers whose broadcasts wait for the
	// node's broadcaster (in the order they queued), and brunning: the
	// broadcaster runs (see queueBroadcast).
	bmu      sync.Mutex
	bready   []*committer
	brunning bool

	mu         sync.Mutex
	committers map[string]*committer
	hubs       map[string]*hub
	closed     bool
	stop       chan struct{}
	wg         sync.WaitGroup

	// proc names this process in its broadcasts and as the address of
	// forwarding replies; it never changes.
	proc string

	// incMu guards inc and the state of the incarnation it points to.
	incMu sync.Mutex
	inc   *incarnation

	journalQ chan journalReq

	nodeKey       []byte
	fwdMu         sync.Mutex
	waiting       map[string]chan forwardReply
	seenReqs      *replayWindow // forwarded requests served, to refuse a replay
	cancelReplies func()
	// intakes holds, per room, the forwarded commits received and not
	// yet queued (forward.go); a room's entry goes when it is drained.
	intakes map[string]*intake

	deadMu    sync.Mutex
	dead      map[string]bool // incarnations known fenced
	recovered map[string]bool // fenced incarnations whose journal is recovered
	// owed: the checks, by key, still owed after writes into rooms
	// that landed but could not be checked (ended.go); an entry goes once
	// its check is made.
	owedMu sync.Mutex
	owed   map[string]*uncheckedWrite
	// sweeping: the sweeper runs (not Options.Passive).
	sweeping bool

	timing timing
	paceMu sync.Mutex
	pace   compactPace // guarded by paceMu
}

// timing sets the node's background work.
type timing struct {
	// probe: how often a quiet room with subscribers checks the store for
	// batches whose broadcast was lost (Redis restart).
	probe time.Duration
	// compact: how long a journaled batch waits before it is copied into
	// its room's segments (compaction looks every compactTick; spent
	// journal entries are deleted then).
	compact time.Duration
	// sweep: how often the journals of other incarnations are checked for
	// a node that is gone, to fence and recover it.
	sweep time.Duration
	// idle: how long a room's hub stays without subscribers, or its
	// committer without messages, before it is freed (0: defaultIdle).
	idle time.Duration
	// forget: how long an owned room goes without a batch before its
	// ownership entry is forgotten (0: defaultForget).
	forget time.Duration
	// tailBytes: the budget of journaled batches held until compaction
	// (0: maxTailBytes).
	tailBytes int
	// journalGap: how long after a busy journal write to the object
	// store the next may begin (runJournal; 0: at once).
	journalGap time.Duration
	// catchUpBytes and pageBytes: the bytes of bodies one catch-up and
	// one page of history may hold (0: maxCatchUpBytes, maxPageBytes).
	catchUpBytes, pageBytes int
}

func (t timing) catchUpBudget() int { return cmp.Or(t.catchUpBytes, maxCatchUpBytes) }

func (t timing) pageBudget() int { return cmp.Or(t.pageBytes, maxPageBytes) }

func (t timing) tailBudget() int {
	if t.tailBytes > 0 {
		return t.tailBytes
	}
	return maxTailBytes
}

// defaultIdle is how long an unused hub or committer is kept.
const defaultIdle = 30 * time.Second

// defaultForget is how long an owned room goes unused before the owner
// forgets its entry: long, since taking the room up again lists its
// segments (Log.Head), and mediation rooms pause for minutes at a time.
const defaultForget = time.Hour

func (t timing) forgetAfter() time.Duration {
	if t.forget > 0 {
		return t.forget
	}
	return defaultForget
}

func (t timing) idleAfter() time.Duration {
	if t.idle > 0 {
		return t.idle
	}
	return defaultIdle
}

var defaultTiming = timing{probe: time.Second, compact: 10 * time.Second, sweep: 5 * time.Second, journalGap: objectJournalGap}

// Options configures a Service.
type Options struct {
	Logger *slog.Logger
	// NodeKey authenticates what nodes send each other over the broker
	// (messages forwarded to a room's owner, and its answers), so that
	// whoever can reach Redis cannot add messages to a room's record or
	// make a node acknowledge what is not stored. (The Redis broker
	// authenticates everything it carries too, with a key derived from
	// the same one: NewRedis.) Every node of a
	// deployment must have the same key (server derives it from the
	// master key). Empty only in tests.
	NodeKey []byte
	// Passive: the service recovers no other node's journal (no sweeper).
	// A CLI command's node sets it: it may reach the store without the
	// deployment's Redis, where every serving node would look gone and
	// have its journal fenced.
	Passive bool
}

// NewService runs messaging over the log and broker.
func NewService(log *Log, broker Broker, opts Options) *Service {
	return newService(log, broker, opts, defaultTiming)
}

func newService(log *Log, broker Broker, opts Options, timing timing) *Service {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Service{log: log, broker: broker, logger: logger, nodeKey: opts.NodeKey, seenReqs: newReplayWindow(2 * forwardTimeout),
		committers: map[string]*committer{}, hubs: map[string]*hub{},
		stop: make(chan struct{}), proc: newNodeID(),
		journalQ: make(chan journalReq, 4096), waiting: map[string]chan forwardReply{}, intakes: map[string]*intake{},
		dead: map[string]bool{}, recovered: map[string]bool{},
		timing: timing}
	s.cancelReplies = broker.Subscribe(replyTopic(s.proc), s.onReply)
	s.inc = s.newIncarnation()
	s.listen(s.inc)
	s.wg.Add(2)
	go s.runJournal()
	go s.runCompactor()
	if !opts.Passive {
		s.sweeping = true
		s.wg.Add(1)
		go s.runSweeper()
	}
	return s
}

// Announce publishes data on a broker topic to every node (e.g. a
// a WebSocket's session topic after a sign-out).
func (s *Service) Announce(ctx context.Context, topic string, data []byte) error {
	return s.broker.Publish(ctx, topic, data)
}

// Watch calls fn with each announcement on topic (see Announce) until stop
// is called: a connection learns of a sign-out or an access change.
func (s *Service) Watch(topic string, fn func(data []byte)) (stop func()) {
	return s.broker.Subscribe(topic, fn)
}

// Close stops the committers and hubs, compacts what this node owns into
// its rooms' segments and ends its journal with a tombstone, so that
// another node (or this one restarted) takes its rooms over at once (a
// journal write in flight is given journalCloseGrace to land first).
// Messages already acknowledged are durable; pending ones fail.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait() // each hub's run ends its broker subscriptions as it returns
	s.cancelReplies()
	s.retire()
}

// untilStop returns a context that ends when the service stops.
func (s *Service) untilStop() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func roomTopic(room string) string { return "room:" + room }

// ErrClosed: the service is shutting down.
var ErrClosed = errors.New("messaging: shutting down")

// Publish commits m to room and returns it with its epoch, offset and time
// once it is durable. Concurrent publishes to a room share commits.
func (s *Service) Publish(ctx context.Context, room string, m Message) (Message, error) {
	done, err := s.Enqueue(ctx, room, m)
	if err != nil {
		return Message{}, err
	}
	select {
	case r := <-done:
		return r.Msg, r.Err
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// Enqueue hands m to room's committer and returns at once; the result
// arrives on the channel when m is durable (or failed). Messages enqueued
// one after another by one caller are committed in that order.
func (s *Service) Enqueue(ctx context.Context, room string, m Message) (<-chan Result, error) {
	return s.EnqueueFor(ctx, room, m, 0)
}

// EnqueueFor is Enqueue for a body encrypted for epoch: m is stored only
// if the room is at that epoch when it is committed, which is ordered
// against the room's seals wherever its owner is. Otherwise nothing is
// stored and the result's error is an *EpochMovedError (errors.Is
// ErrEpochMoved) naming the room's current epoch. Epoch 0 expects
// nothing (as Enqueue).
func (s *Service) EnqueueFor(ctx context.Context, room string, m Message, epoch int64) (<-chan Result, error) {
	p := pending{msg: m, expect: epoch, done: make(chan Result, 1), at: StageClock()}
	if err := s.queue(ctx, room, p); err != nil {
		return nil, err
	}
	return p.done, nil
}

// errIdleEnded: the committer was freed for being idle; look it up again.
var errIdleEnded = errors.New("committer freed")

// queue hands p to room's committer, making a new one when the last was
// freed meanwhile.
func (s *Service) queue(ctx context.Context, room string, p pending) error {
	for range maxJoinAttempts {
		c, err := s.committer(room)
		if err != nil {
			return err
		}
		if err := s.send(ctx, c, p); !errors.Is(err, errIdleEnded) {
			return err
		}
	}
	return fmt.Errorf("room %s: its committer kept closing", room)
}

// send puts p on c's queue. Once it returns nil, p.done gets exactly one
// answer, also when the service closes meanwhile: the committer answers
// everything still queued with ErrClosed when it ends (see runCommitter),
// and nothing can be queued after that.
func (s *Service) send(ctx context.Context, c *committer, p pending) error {
	c.sendMu.RLock()
	defer c.sendMu.RUnlock()
	if c.ended {
		if c.idle {
			return errIdleEnded
		}
		return ErrClosed
	}
	select {
	case c.queue <- &p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return ErrClosed
	}
}

// Seal ends room's current epoch (a membership change), with reason
// recorded in the seal. Messages committed after it are in the next epoch.
func (s *Service) Seal(ctx context.Context, room, reason string) error {
	p := pending{seal: reason, done: make(chan Result, 1)}
	if err := s.queue(ctx, room, p); err != nil {
		return err
	}
	select {
	case r := <-p.done:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) committer(room string) (*committer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	c := s.committers[room]
	if c == nil {
		c = &committer{room: room, queue: make(chan *pending, 4*maxBatchMessages)}
		s.committers[room] = c
		s.wg.Add(1)
		go s.runCommitter(c)
	}
	return c, nil
}

type pending struct {
	msg Message
	// expect is the epoch msg was encrypted for (0: any): it is committed
	// only while the room is at that epoch.
	expect int64
	seal   string // non-empty: a seal request instead of a message
	// via is set on a request another node forwarded to this one as the
	// room's owner: it may be committed only by that incarnation, never
	// forwarded again.
	via  *incarnation
	done chan Result
	at   int64 // StageClock when queued (0: not traced)
}

// Result is the outcome of one publish: the durable message, or an error.
type Result struct {
	Msg Message
	Err error
}

// ErrEpochMoved: a message expected an epoch the room is no longer (or
// not) at, and was not stored. The error in a Result is an
// *EpochMovedError, which names the room's current epoch.
var ErrEpochMoved = errors.New("messaging: the room's epoch moved on; not stored")

// EpochMovedError refuses a message that expected another epoch.
type EpochMovedError struct {
	Expected int64 // the epoch the message was encrypted for
	Current  int64 // the room's epoch when it was committed
}

func (e *EpochMovedError) Error() string {
	return fmt.Sprintf("messaging: encrypted for epoch %d, the room is at epoch %d; not stored", e.Expected, e.Current)
}

// Is makes errors.Is(err, ErrEpochMoved) hold.
func (e *EpochMovedError) Is(target error) bool { return target == ErrEpochMoved }

// committer is one room's queue on this node. Whether the node owns the
// room or forwards to its owner is decided per batch (commit.go).
type committer struct {
	room  string
	queue chan *pending
	// sendMu orders sends against the committer's end: senders hold it
	// shared while they queue (waking on stop), the committer takes it
	// once to set ended, then answers what is queued.
	sendMu sync.RWMutex
	ended  bool
	idle   bool // ended for being idle (see runCommitter), not by Close
	// owner is the last claim seen for the room when another node owns
	// it; known is false when it must be read again.
	owner claim
	known bool
	// origin and taken are the StageClock of the oldest message of the
	// batch being committed and of when it was taken (0: not traced).
	origin, taken int64
	// busy counts the requests taken from the queue and not yet
	// answered (in flight, or being committed).
	busy atomic.Int64
	// bq holds the room's broker writes waiting for the node's
	// broadcaster; bsending: the room is in the broadcaster's hands,
	// listed in Service.bready or being sent (see queueBroadcast).
	bmu      sync.Mutex
	bq       []broadcastItem
	bsending bool
}

func (c *committer) forget() { c.known = false }

// runCommitter is a room's group commit loop: it takes every message
// waiting (up to maxBatchMessages and maxBatchBytes; this node's own requests and those
// forwarded to it share a batch when joins allows), commits them
// as one batch, and acknowledges each; on the room's owner, with up to
// pipelineDepth batches in flight (pipeline.go).
func (s *Service) runCommitter(c *committer) {
	defer s.wg.Done()
	ctx, cancel := s.untilStop()
	defer cancel()
	var next *pending
	var p flights
	defer func() {
		c.abandon(&p)
		c.end(next)
	}()
	idle := time.NewTimer(s.timing.idleAfter())
	defer idle.Stop()
	for {
		var first pending
		if next != nil && len(p.fl) >= pipelineDepth {
			// A full pipeline: the oldest flight first.
			select {
			case err := <-p.head():
				s.finish(ctx, c, &p, err)
			case <-s.stop:
				return
			}
			continue
		}
		if next != nil {
			first, next = *next, nil
		} else {
			// New work while the pipeline has room; the oldest flight's
			// answer; the idle timer only with nothing in flight.
			var queue <-chan *pending
			if len(p.fl) < pipelineDepth {
				queue = c.queue
			}
			var idleC <-chan time.Time
			if len(p.fl) == 0 {
				idleC = idle.C
			}
			select {
			case q := <-queue:
				first = *q
			case err := <-p.head():
				s.finish(ctx, c, &p, err)
				continue
			case <-s.stop:
				return
			case <-idleC:
				if s.freeCommitter(c) {
					return
				}
				idle.Reset(s.timing.idleAfter())
				continue
			}
		}
		idle.Reset(s.timing.idleAfter())
		c.origin, c.taken = first.at, StageClock()
		batch := []pending{first}
		via := first.via
		size := len(first.msg.Body)
	drain:
		for first.seal == "" && len(batch) < maxBatchMessages {
			select {
			case q := <-c.queue:
				if q.seal != "" || !joins(s, c.room, via, q.via) || size+len(q.msg.Body) > maxBatchBytes {
					next = q
					break drain
				}
				size += len(q.msg.Body)
				via = cmp.Or(via, q.via)
				batch = append(batch, *q)
			default:
				break drain
			}
		}
		if c.taken != 0 {
			for _, q := range batch {
				StageDone(StageQueue, q.at)
			}
		}
		s.start(ctx, c, &p, batch)
	}
}

// joins reports whether a request forwarded via v (nil: this node's own)
// may join a batch whose requests so far were forwarded via batch. A
// forwarded request may be committed only by the incarnation it was
// forwarded to, and this node's own by whichever commits the room, so the
// two share a batch when that incarnation is the node's current one: on
// an owner, what its own members send and what the other nodes forward
// make one batch a commit rather than a batch per run of one source
// (fewer journal records, broadcasts and frames). Should the batch's
// commit come back errMoved, commitBatch commits this node's own again
// and refuses only the forwarded ones.
func joins(s *Service, room string, batch, v *incarnation) bool {
	if batch == v {
		return true
	}
	if batch != nil && v != nil {
		return false // forwarded to two incarnations: each only by its own
	}
	// Only on the owner: elsewhere (forwarded here on a stale view of
	// the owner) the node's own requests are forwarded on, pipelined,
	// while the forwarded ones are refused.
	inc := s.current()
	return cmp.Or(batch, v) == inc && inc.owns(s, room)
}

// freeCommitter ends an idle committer and removes it from the service,
// unless something was queued meanwhile. Senders that find it ended look
// the room's committer up again (errIdleEnded).
//
// It never waits for the send lock: a sender holding it may be blocked on
// a full queue that only this committer drains. A held lock means someone
// is sending, so the committer is not idle.
func (s *Service) freeCommitter(c *committer) bool {
	if !c.sendMu.TryLock() {
		return false
	}
	defer c.sendMu.Unlock()
	if len(c.queue) > 0 || c.broadcasting() {
		return false
	}
	s.mu.Lock()
	if !s.closed && s.committers[c.room] == c {
		delete(s.committers, c.room)
	}
	s.mu.Unlock()
	c.ended, c.idle = true, true
	return true
}

// end stops c taking requests and answers every one not committed (next,
// and all still queued) with ErrClosed.
func (c *committer) end(next *pending) {
	c.sendMu.Lock()
	c.ended = true
	c.sendMu.Unlock()
	if next != nil {
		next.done <- Result{Err: ErrClosed}
	}
	for {
		select {
		case p := <-c.queue:
			p.done <- Result{Err: ErrClosed}
		default:
			return
		}
	}
}

// broadcast publishes a durable batch of c's room. Failures are logged,
// not returned: the batch is already acknowledged, and hubs find it in the
// store.
func (s *Service) broadcast(ctx context.Context, c *committer, b *Batch, data, tagged []byte) {
	defer StageDone(StageBroadcast, StageClock())
	// This node's subscribers get the batch straight away, before the
	// broker's round trips (with Redis, each is one): the recent window
	// and the head hint are shortcuts for resuming and joining, which read
	// the store (the owner's journaled tail included) for what they lack.
	// Other nodes get the batch through the broker, tagged with this
	// node's id so that this node skips its own copy without decoding it.
	s.mu.Lock()
	h := s.hubs[b.Room]
	s.mu.Unlock()
	if h != nil {
		h.post(hubEvent{batch: b, at: StageClock()})
	}
	if tagged == nil {
		tagged = make([]byte, 0, len(s.proc)+1+len(data))
		tagged = append(append(append(tagged, s.proc...), '\n'), data...)
	}
	if _, ok := s.broker.(batchBroadcaster); ok {
		c.queueBroadcast(s, broadcastItem{window: data, head: b.End(), msg: tagged})
		return
	}
	if err := s.broker.Remember(ctx, b.Room, data); err != nil {
		s.logger.Warn("recent window update failed", "error", err.Error())
	}
	s.broker.SetHeadHint(ctx, b.Room, b.End())
	if err := s.broker.Publish(ctx, roomTopic(b.Room), tagged); err != nil {
		s.logger.Warn("broadcast failed; subscribers will read the store", "error", err.Error())
	}
}

// batchBroadcaster is a Broker that does the broker writes of rooms'
// batches — for each batch, Remember(room, window), SetHeadHint(room,
// head) and Publish(topic, msg), in that order — in one round trip for
// any number of rooms.
type batchBroadcaster interface {
	Broadcast(ctx context.Context, rooms []roomBroadcasts) error
}

// roomBroadcasts is one room's batches to broadcast, in order.
type roomBroadcasts struct {
	room, topic string
	items       []broadcastItem
}

// broadcastItem is one batch's broker writes.
type broadcastItem struct {
	window []byte
	head   Position
	msg    []byte
}

// With a batchBroadcaster (Redis), broker writes are not on a committer's
// path: the committer queues them and goes on, and the node's broadcaster
// (one goroutine, started when there are some and gone when none are
// left) sends whatever every room has queued in one round trip, each
// room's in order. A round trip per commit, waited for by the committer,
// was most of a room's commit time with two nodes on one machine; a round
// trip per room and commit was a tenth of a node's CPU at 60,000
// deliveries/s.

// broadcastTimeout bounds one round trip of broadcasts;
// maxBroadcastQueue bounds the broadcasts a room keeps waiting meanwhile.
const (
	broadcastTimeout  = 5 * time.Second
	maxBroadcastQueue = 1024
)

// broadcasting reports whether c's room has broadcasts waiting or being
// sent (its committer is not freed meanwhile, so that a new committer's
// broadcasts cannot overtake this one's).
func (c *committer) broadcasting() bool {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	return c.bsending || len(c.bq) > 0
}

// queueBroadcast queues item for the node's broadcaster, starting it if
// none runs. Only c's committer calls it (which s.wg counts, so the
// broadcaster joins s.wg before Close waits).
func (c *committer) queueBroadcast(s *Service, item broadcastItem) {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	if len(c.bq) >= maxBroadcastQueue {
		// The broker is stalled: the oldest go unsent (hubs read the
		// store for what they miss).
		c.bq = slices.Delete(c.bq, 0, len(c.bq)-maxBroadcastQueue+1)
	}
	c.bq = append(c.bq, item)
	if !c.bsending {
		c.bsending = true
		s.readyBroadcast(c)
	}
}

// readyBroadcast lists c for the node's broadcaster, starting it if none
// runs; c.bmu is held.
func (s *Service) readyBroadcast(c *committer) {
	s.bmu.Lock()
	s.bready = append(s.bready, c)
	start := !s.brunning
	s.brunning = true
	s.bmu.Unlock()
	if start {
		s.wg.Add(1)
		go s.runBroadcasts()
	}
}

// runBroadcasts sends the rooms' queued broadcasts until none are left;
// at the service's stop it drops the rest (hubs read the store).
func (s *Service) runBroadcasts() {
	defer s.wg.Done()
	bc := s.broker.(batchBroadcaster)
	var rooms []roomBroadcasts
	for {
		s.bmu.Lock()
		ready := s.bready
		s.bready = nil
		if len(ready) == 0 {
			s.brunning = false
			s.bmu.Unlock()
			return
		}
		s.bmu.Unlock()
		rooms = rooms[:0]
		for _, c := range ready {
			c.bmu.Lock()
			rooms = append(rooms, roomBroadcasts{room: c.room, topic: roomTopic(c.room), items: c.bq})
			c.bq = nil
			c.bmu.Unlock()
		}
		select {
		case <-s.stop:
		default:
			ctx, cancel := context.WithTimeout(context.Background(), broadcastTimeout)
			if err := bc.Broadcast(ctx, rooms); err != nil {
				s.logger.Warn("broadcast failed; subscribers will read the store", "error", err.Error())
			}
			cancel()
		}
		// A room that queued more meanwhile goes in the next round, after
		// what was just sent; the others are out of the broadcaster's
		// hands.
		for i, c := range ready {
			c.bmu.Lock()
			if len(c.bq) > 0 {
				s.readyBroadcast(c)
			} else {
				c.bsending = false
			}
			c.bmu.Unlock()
			ready[i] = nil
		}
		clear(rooms)
	}
}

func newNodeID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
