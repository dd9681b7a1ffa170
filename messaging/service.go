package messaging

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// maxBatchMessages bounds one group commit.
const maxBatchMessages = 512

// Service is one node's messaging: committers (one per room this node
// writes to) and hubs (one per room this node has subscribers in).
type Service struct {
	log    *Log
	broker Broker
	logger *slog.Logger

	mu         sync.Mutex
	committers map[string]*committer
	hubs       map[string]*hub
	closed     bool
	stop       chan struct{}
	wg         sync.WaitGroup

	// node names this process in its broadcasts.
	node string

	// ProbeInterval: how often a quiet room with subscribers checks the
	// store for batches whose broadcast was lost (Redis restart).
	ProbeInterval time.Duration
}

// NewService runs messaging over the log and broker.
func NewService(log *Log, broker Broker, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{log: log, broker: broker, logger: logger,
		committers: map[string]*committer{}, hubs: map[string]*hub{},
		stop: make(chan struct{}), ProbeInterval: time.Second, node: newNodeID()}
}

// Log returns the durable room log (for history paging).
func (s *Service) Log() *Log { return s.log }

// Announce publishes data on a broker topic to every node (e.g. a
// ConnOptions.SessionTopic after a sign-out).
func (s *Service) Announce(ctx context.Context, topic string, data []byte) error {
	return s.broker.Publish(ctx, topic, data)
}

// Close stops the committers and hubs. Messages already acknowledged are
// durable; pending ones fail with context errors.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	hubs := make([]*hub, 0, len(s.hubs))
	for _, h := range s.hubs {
		hubs = append(hubs, h)
	}
	s.mu.Unlock()
	for _, h := range hubs {
		h.cancelBroker()
	}
	s.wg.Wait()
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
	c, err := s.committer(room)
	if err != nil {
		return nil, err
	}
	p := pending{msg: m, done: make(chan Result, 1)}
	select {
	case c.queue <- p:
		return p.done, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.stop:
		return nil, ErrClosed
	}
}

// Seal ends room's current epoch (a membership change), with reason
// recorded in the seal. Messages committed after it are in the next epoch.
func (s *Service) Seal(ctx context.Context, room, reason string) error {
	c, err := s.committer(room)
	if err != nil {
		return err
	}
	p := pending{seal: reason, done: make(chan Result, 1)}
	select {
	case c.queue <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return ErrClosed
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
		c = &committer{room: room, queue: make(chan pending, 4*maxBatchMessages)}
		s.committers[room] = c
		s.wg.Add(1)
		go s.runCommitter(c)
	}
	return c, nil
}

type pending struct {
	msg  Message
	seal string // non-empty: a seal request instead of a message
	done chan Result
}

// Result is the outcome of one publish: the durable message, or an error.
type Result struct {
	Msg Message
	Err error
}

type committer struct {
	room  string
	queue chan pending
	pos   Position
	known bool
}

// runCommitter is a room's group commit loop: it takes every message
// waiting (up to maxBatchMessages), writes them as one batch, acknowledges
// each, then broadcasts the batch.
func (s *Service) runCommitter(c *committer) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		var first pending
		select {
		case first = <-c.queue:
		case <-s.stop:
			return
		}
		if first.seal != "" {
			s.commitSeal(ctx, c, first)
			continue
		}
		batch := []pending{first}
	drain:
		for len(batch) < maxBatchMessages {
			select {
			case p := <-c.queue:
				if p.seal != "" {
					s.commitMessages(ctx, c, batch)
					batch = nil
					s.commitSeal(ctx, c, p)
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
		if len(batch) > 0 {
			s.commitMessages(ctx, c, batch)
		}
	}
}

func (s *Service) startPos(ctx context.Context, c *committer) error {
	if c.known {
		return nil
	}
	if p, ok := s.broker.HeadHint(ctx, c.room); ok {
		c.pos, c.known = p, true
		return nil
	}
	p, err := s.log.Head(ctx, c.room)
	if err != nil {
		return err
	}
	c.pos, c.known = p, true
	return nil
}

func (s *Service) commitMessages(ctx context.Context, c *committer, batch []pending) {
	msgs := make([]Message, len(batch))
	for i, p := range batch {
		msgs[i] = p.msg
	}
	err := s.startPos(ctx, c)
	var b *Batch
	if err == nil {
		b, err = s.log.Commit(ctx, c.room, &c.pos, msgs)
	}
	if err != nil {
		c.known = false // reread the head next time
		for _, p := range batch {
			p.done <- Result{Err: err}
		}
		return
	}
	for i, p := range batch {
		p.done <- Result{Msg: b.Msgs[i]}
	}
	s.broadcast(ctx, b)
}

func (s *Service) commitSeal(ctx context.Context, c *committer, p pending) {
	err := s.startPos(ctx, c)
	var b *Batch
	if err == nil {
		b, err = s.log.Seal(ctx, c.room, &c.pos, p.seal)
	}
	if err != nil {
		c.known = false
		p.done <- Result{Err: err}
		return
	}
	p.done <- Result{}
	s.broadcast(ctx, b)
}

// broadcast publishes a durable batch. Failures are logged, not returned:
// the batch is already acknowledged, and hubs find it in the store.
func (s *Service) broadcast(ctx context.Context, b *Batch) {
	data, err := json.Marshal(b)
	if err != nil {
		return
	}
	if err := s.broker.Remember(ctx, b.Room, data); err != nil {
		s.logger.Warn("recent window update failed", "error", err.Error())
	}
	s.broker.SetHeadHint(ctx, b.Room, b.End())
	// This node's subscribers get the batch straight away; other nodes get
	// it through the broker, tagged with this node's id so that this node
	// skips its own copy without decoding it.
	s.mu.Lock()
	h := s.hubs[b.Room]
	s.mu.Unlock()
	if h != nil {
		h.receive(b)
	}
	tagged := make([]byte, 0, len(s.node)+1+len(data))
	tagged = append(append(append(tagged, s.node...), '\n'), data...)
	if err := s.broker.Publish(ctx, roomTopic(b.Room), tagged); err != nil {
		s.logger.Warn("broadcast failed; subscribers will read the store", "error", err.Error())
	}
}

func newNodeID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
