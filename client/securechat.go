package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
)

// SecureOptions configures a SecureChat.
type SecureOptions struct {
	// Rooms to open; empty: every room the user may join.
	Rooms []string
	// NoAutoSign stops a mediator's chat from signing membership
	// statements by itself when the rooms' membership changes.
	NoAutoSign bool
	// StatementWait bounds how long Send waits for a mediator to sign the
	// membership of a room's new epoch (default 30 s).
	StatementWait time.Duration
}

// SecureChat is an end-to-end encrypted connection to a case's rooms, on
// top of Chat (reconnect, resume, exactly-once delivery): messages are
// encrypted and signed on this device and checked and decrypted when they
// arrive. A mediator's SecureChat also signs the rooms' membership after
// every change (unless NoAutoSign), refusing memberships that break the
// caucus rule.
type SecureChat struct {
	x      *E2EE
	caseID string
	opts   SecureOptions
	chat   *Chat
	rooms  []string
	events chan SecureEvent

	mu       sync.Mutex
	sess     *e2ee.Session
	epochs   map[string]int64
	held     map[string][]api.Message
	seen     map[string]map[api.Position]seenMsg
	seenQ    []seenRef
	mediator bool
	ready    chan struct{}
	isReady  bool
	// start is where each room was opened from, heads what the server
	// reported as the room's last message then; caughtUp closes once
	// every room has been processed up to that head (see CaughtUp).
	start    map[string]*api.Position
	heads    map[string]api.Position
	caught   map[string]bool
	caughtUp chan struct{}

	// pinned (tests only, export_test.go): an epoch the next encryption
	// in a room uses instead of sendEpoch's, once, as a device that has
	// not yet heard of a seal would. Guarded by mu.
	pinned map[string]int64

	sendMu      sync.Mutex
	kick        chan struct{}
	done        chan struct{}
	closeOnce   sync.Once
	wg          sync.WaitGroup
	refreshMu   sync.Mutex
	lastRefresh time.Time
	// ahead (tests only, export_test.go): how far the clock that spaces
	// refreshes runs ahead of time.Now, so that a test can let the last
	// refresh age without sleeping. Zero otherwise. Guarded by refreshMu.
	ahead time.Duration
	// ended closes when the underlying chat ends; then events closes,
	// once no emit is under way (emitMu).
	ended      chan struct{}
	emitMu     sync.RWMutex
	emitClosed bool
	// life ends with Close: background work (refreshes, signing) stops.
	life   context.Context
	cancel context.CancelFunc
	// told: the accounts the server lists as new mediators that this chat
	// already said are waiting for a mediator's admission (guarded by mu).
	told map[string]bool
}

type seenMsg struct {
	from string
	kind int
	text string
	hash [32]byte
}

type seenRef struct {
	room string
	pos  api.Position
}

// seenLimit bounds the decrypted messages remembered for carries.
const secureSeenLimit = 10000

// OpenSecureChat opens the case's rooms end-to-end encrypted. It verifies
// the case's devices and membership chain first, and resumes each room
// from the start of the epoch the latest statement names (so it receives
// the key distributions of that epoch).
func (x *E2EE) OpenSecureChat(ctx context.Context, caseID string, opts SecureOptions) (*SecureChat, error) {
	if opts.StatementWait <= 0 {
		opts.StatementWait = 30 * time.Second
	}
	c, err := x.C.Case(ctx, caseID)
	if err != nil {
		return nil, err
	}
	rooms := opts.Rooms
	if len(rooms) == 0 {
		var views []api.RoomView
		if err := x.C.Do(ctx, http.MethodGet, "/api/v1/cases/"+url.PathEscape(caseID)+"/rooms", nil, &views); err != nil {
			return nil, err
		}
		for _, v := range views {
			rooms = append(rooms, v.Name)
		}
	}
	devs, _, err := x.CaseDevices(ctx, caseID)
	if err != nil {
		return nil, err
	}
	chain, err := x.Statements(ctx, caseID, devs)
	if err != nil {
		return nil, err
	}
	if len(rooms) == 0 && activeMediator(c, x.Me.Account) {
		// The server lists no room to a mediator no seated mediator has
		// confirmed (docs/security.md, "A co-mediator nobody admitted
		// reading the case"): say what they wait for.
		return nil, notAdmitted(c, chain, x.Me.Account)
	}
	s := &SecureChat{x: x, caseID: caseID, opts: opts, rooms: rooms, events: make(chan SecureEvent, 4096),
		sess: x.newSession(caseID, chain, devs), epochs: map[string]int64{}, held: map[string][]api.Message{},
		seen: map[string]map[api.Position]seenMsg{}, ready: make(chan struct{}),
		heads: map[string]api.Position{}, caught: map[string]bool{}, caughtUp: make(chan struct{}), kick: make(chan struct{}, 1), done: make(chan struct{}), ended: make(chan struct{})}
	s.life, s.cancel = context.WithCancel(context.Background())
	for _, m := range c.Mediators {
		if m.AccountID == x.Me.Account && m.Recused == nil {
			s.mediator = !opts.NoAutoSign
		}
	}
	positions := map[string]*api.Position{}
	for _, r := range rooms {
		positions[r] = nil
		if st := chain.Latest(); st != nil {
			if rm, ok := st.Room(r); ok {
				positions[r] = &api.Position{Epoch: rm.Epoch}
			}
		}
	}
	s.start = positions
	s.chat, err = x.C.Chat(ctx, caseID, positions)
	if err != nil {
		s.cancel()
		return nil, err
	}
	// Rooms the server refused are left out (the chat forgot them).
	var open []string
	for _, r := range rooms {
		if _, ok := s.chat.Position(r); ok {
			open = append(open, r)
		}
	}
	if len(open) == 0 {
		s.chat.Close()
		s.cancel()
		if activeMediator(c, x.Me.Account) {
			// Listed, then refused: the server's answer about this
			// mediator changed in between (its cache of who is seated
			// expired, or a statement landed). Say the same as when no
			// room is listed, whatever the timing.
			return nil, notAdmitted(c, chain, x.Me.Account)
		}
		return nil, errors.New("none of the rooms could be opened")
	}
	s.rooms = open
	s.wg.Add(1)
	go s.run()
	if s.mediator {
		s.wg.Add(1)
		go s.signer()
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		s.Close()
		return nil, errors.New("rooms did not report their position within 30s")
	}
	if s.mediator {
		s.kickSigner()
	}
	return s, nil
}

// Events delivers what happens in the rooms, decrypted, in order per room.
func (s *SecureChat) Events() <-chan SecureEvent { return s.events }

// CaughtUp closes once every room's backlog at opening — everything up to
// the last message the server reported when the room was subscribed — has
// been decrypted and put on Events. An interactive client waits for it
// before taking input, so a person sees what was said before they speak.
func (s *SecureChat) CaughtUp() <-chan struct{} { return s.caughtUp }

// noteProgress records that room has been processed up to pos (a message,
// or the first position of a new epoch) and closes caughtUp when that
// brings the last room up to its opening head. Call with s.mu held.
func (s *SecureChat) noteProgress(room string, pos api.Position) {
	head, known := s.heads[room]
	if !known || s.caught[room] || pos.Before(head) {
		return
	}
	s.caught[room] = true
	if len(s.caught) == len(s.rooms) {
		close(s.caughtUp)
	}
}

// Chain returns the verified membership chain in use.
func (s *SecureChat) Chain() *e2ee.Chain {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess.Chain
}

// Epoch returns the current epoch of a room as this chat knows it.
func (s *SecureChat) Epoch(room string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epochs[room]
}

// Close ends the chat.
func (s *SecureChat) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		close(s.done)
		s.chat.Close()
		s.wg.Wait()
	})
}

func (s *SecureChat) emit(ev SecureEvent) {
	s.emitMu.RLock()
	defer s.emitMu.RUnlock()
	if s.emitClosed {
		return
	}
	select {
	case s.events <- ev:
	case <-s.done:
	case <-s.ended:
	}
}

func (s *SecureChat) kickSigner() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run processes the underlying chat's events in order.
func (s *SecureChat) run() {
	defer s.wg.Done()
	defer func() {
		close(s.ended)
		s.emitMu.Lock()
		s.emitClosed = true
		close(s.events)
		s.emitMu.Unlock()
	}()
	for ev := range s.chat.Events() {
		switch {
		case ev.Head != nil:
			s.mu.Lock()
			s.epochs[ev.Room] = max(s.epochs[ev.Room], ev.Head.Epoch, 1)
			if _, seen := s.heads[ev.Room]; !seen {
				s.heads[ev.Room] = *ev.Head
				// Opened live, or from at or after the head: nothing to catch up.
				if from := s.start[ev.Room]; from == nil || !from.Before(*ev.Head) {
					s.noteProgress(ev.Room, *ev.Head)
				}
			}
			if !s.isReady && len(s.epochs) == len(s.rooms) {
				s.isReady = true
				close(s.ready)
			}
			s.mu.Unlock()
		case ev.Seal != nil:
			s.mu.Lock()
			s.epochs[ev.Room] = max(s.epochs[ev.Room], ev.Seal.Next)
			s.mu.Unlock()
			s.emit(SecureEvent{Room: ev.Room, Seal: ev.Seal})
			s.mu.Lock()
			s.noteProgress(ev.Room, api.Position{Epoch: ev.Seal.Next})
			s.mu.Unlock()
			if s.mediator {
				s.kickSigner()
			}
		case ev.Msg != nil:
			s.receive(ev.Room, *ev.Msg)
			s.mu.Lock()
			s.noteProgress(ev.Room, ev.Msg.Pos())
			s.mu.Unlock()
		}
	}
}

// refreshable errors are cured by fetching the chain or the devices again.
func refreshable(err error) bool {
	return errors.Is(err, e2ee.ErrUnknownStatement) || errors.Is(err, e2ee.ErrUnknownDevice)
}

// receive checks and decrypts one message. Payloads that name a statement
// or device this chat has not verified yet wait (with everything after
// them in that room, to keep the order) until a refresh.
func (s *SecureChat) receive(room string, m api.Message) {
	s.mu.Lock()
	if m.Epoch > s.epochs[room] {
		s.epochs[room] = m.Epoch
	}
	if m.From == "" {
		s.mu.Unlock()
		return
	}
	s.held[room] = append(s.held[room], m)
	if len(s.held[room]) > 1 {
		s.mu.Unlock()
		return // behind a payload waiting for a refresh
	}
	s.mu.Unlock()
	for refreshes := 0; ; refreshes++ {
		stuck := s.drain(room, refreshes >= 2)
		if !stuck {
			return
		}
		ctx, cancel := context.WithTimeout(s.life, 30*time.Second)
		err := s.refresh(ctx)
		cancel()
		if err != nil {
			s.emit(SecureEvent{Room: room, Notice: "could not refresh keys and membership: " + err.Error()})
		}
	}
}

// drain processes room's held payloads in order; it stops and returns true
// at one that needs a refresh (unless giveUp, which rejects it).
func (s *SecureChat) drain(room string, giveUp bool) bool {
	for {
		s.mu.Lock()
		if len(s.held[room]) == 0 {
			s.mu.Unlock()
			return false
		}
		m := s.held[room][0]
		r, err := s.sess.Receive(room, m.Epoch, m.From, m.Body)
		if err != nil && refreshable(err) && !giveUp {
			s.mu.Unlock()
			return true
		}
		s.held[room] = s.held[room][1:]
		giveUp = false
		var ev *SecureEvent
		switch {
		case err != nil:
			ev = &SecureEvent{Room: room, Pos: m.Pos(), At: time.UnixMilli(m.At), From: m.From, Rejected: err}
		case r.Plain != nil:
			e := eventFrom(room, m, r, s.sess.Chain)
			ev = &e
			s.remember(room, m, r.Plain)
		}
		s.mu.Unlock()
		if ev != nil {
			s.emit(*ev)
		}
	}
}

func (s *SecureChat) remember(room string, m api.Message, p *e2ee.Plaintext) {
	if s.seen[room] == nil {
		s.seen[room] = map[api.Position]seenMsg{}
	}
	s.seen[room][m.Pos()] = seenMsg{from: m.From, kind: p.Kind, text: p.Text, hash: e2ee.PayloadHash(m.Body)}
	s.seenQ = append(s.seenQ, seenRef{room, m.Pos()})
	if len(s.seenQ) > secureSeenLimit {
		delete(s.seen[s.seenQ[0].room], s.seenQ[0].pos)
		s.seenQ = s.seenQ[1:]
	}
}

// minRefresh spaces refreshes, so that a flood of payloads naming unknown
// statements or devices cannot make a client hammer the server.
const minRefresh = 500 * time.Millisecond

// sendRefresh: a send fetches the chain and devices again first when the
// last fetch is older than this.
const sendRefresh = 3 * time.Second

// refreshClock is the time by which refreshes are spaced: time.Now, moved
// on by ahead in tests. Called with refreshMu held.
func (s *SecureChat) refreshClock() time.Time {
	return time.Now().Add(s.ahead)
}

// refresh fetches and verifies the devices and the membership chain again.
func (s *SecureChat) refresh(ctx context.Context) error {
	s.refreshMu.Lock()
	wait := minRefresh - s.refreshClock().Sub(s.lastRefresh)
	s.refreshMu.Unlock()
	if wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.refreshMu.Lock()
	s.lastRefresh = s.refreshClock()
	s.refreshMu.Unlock()
	devs, _, err := s.x.CaseDevices(ctx, s.caseID)
	if err != nil {
		return err
	}
	// What this chat saw of the sealed rooms stays seen: a server that
	// leaves an entry out now (a closing) does not undo it.
	s.mu.Lock()
	seen := s.sess.Chain.Entries()
	s.mu.Unlock()
	chain, err := s.x.statements(ctx, s.caseID, devs, seen)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if chain.Len() < s.sess.Chain.Len() {
		return fmt.Errorf("%w: the membership chain got shorter", e2ee.ErrMembership)
	}
	s.sess.Chain, s.sess.Dir = chain, devs
	return nil
}

// transientFetch reports whether err is a failure to reach the server
// (a network error, a 5xx or 429 answer) rather than an answer this
// client refused.
func transientFetch(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ae *Error
	return errors.As(err, &ae) && (ae.Status >= 500 || ae.Status == http.StatusTooManyRequests)
}

// Send encrypts text on this device and posts it in room; it returns once
// the server has stored it.
func (s *SecureChat) Send(ctx context.Context, room, text string) (api.Message, error) {
	return s.send(ctx, room, &e2ee.Plaintext{Kind: e2ee.KindText, Text: text}, nil)
}

func newMessageID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "e" + hex.EncodeToString(b)
}

// send encrypts p for room's current epoch and posts the key distributions
// it needs, then the message, each naming the epoch it was encrypted for.
// before, if set, sees the message payload before it is posted (a carry's
// consent names its hash). When the room was sealed meanwhile the server
// stores none of it ("moved": nothing encrypted for the ended epoch, to a
// membership that may still hold a recused mediator, is kept), so it is
// encrypted again, with a new sender key, for the new epoch and resent. A
// payload acknowledged in another epoch than it was encrypted for (a
// server that ignored the epoch) is refused by receivers, and handled the
// same way.
func (s *SecureChat) send(ctx context.Context, room string, p *e2ee.Plaintext, before func(payload []byte) error) (api.Message, error) {
	// Refused before anything is keyed or posted: readers could not
	// decrypt a longer text.
	if err := p.Check(); err != nil {
		return api.Message{}, err
	}
	if !slices.Contains(s.rooms, room) {
		return api.Message{}, fmt.Errorf("room %s is not open in this chat", room)
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	// Pick up statements and devices that came without a seal (a
	// mediator's admission of a co-mediator, a member's new device)
	// before keying, as the browser does.
	s.refreshMu.Lock()
	stale := s.refreshClock().Sub(s.lastRefresh) > sendRefresh
	s.refreshMu.Unlock()
	if stale {
		if err := s.refresh(ctx); transientFetch(err) {
			// The server did not answer (a network failure, a 5xx): send
			// with the state this chat has verified, as before the
			// refresh existed. A refused chain or directory is no
			// transient failure and stops the send; so does a device
			// that has verified a later statement than this chat holds
			// (another process saw a change, a removal say): the
			// server's silence must not make it send to the older one.
			if behind := s.behindPin(); behind != nil {
				return api.Message{}, behind
			}
			s.emit(SecureEvent{Notice: "could not fetch the latest membership and devices (" + err.Error() + "); sending with the verified ones this chat has"})
		} else if err != nil {
			return api.Message{}, err
		}
	}
	for range 4 {
		payloads, epoch, err := s.encrypt(ctx, room, p)
		if err != nil {
			return api.Message{}, err
		}
		if before != nil {
			if err := before(payloads[len(payloads)-1]); err != nil {
				s.rotate(room, 0)
				return api.Message{}, err
			}
		}
		moved := false
		for i, pl := range payloads {
			m, err := s.chat.SendFor(ctx, room, newMessageID(), pl, epoch)
			var em *EpochMovedError
			if errors.As(err, &em) && em.Epoch <= epoch {
				// A "moved" that names no later epoch is no seal: treat it
				// as the failure it is rather than encrypt again for it.
				s.rotate(room, 0)
				return api.Message{}, fmt.Errorf("the server refused the message for epoch %d naming epoch %d", epoch, em.Epoch)
			}
			if em != nil {
				s.rotate(room, em.Epoch)
				moved = true
				break
			}
			if err != nil {
				s.rotate(room, 0) // some members may lack this chain's key: start over next time
				return api.Message{}, err
			}
			if m.Epoch != epoch {
				s.rotate(room, m.Epoch)
				moved = true
				break
			}
			if i == len(payloads)-1 {
				return m, nil
			}
		}
		if !moved {
			break
		}
	}
	return api.Message{}, errors.New("the room kept changing epochs while sending; try again")
}

func (s *SecureChat) rotate(room string, epoch int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sess.Rotate(room)
	s.epochs[room] = max(s.epochs[room], epoch)
}

// sendEpoch is the epoch to encrypt for in room: the later of what the
// server reported and what the verified membership chain names. A server
// that reports a stale epoch cannot make this device encrypt to an earlier
// membership (one that still held a recused mediator's devices, say).
// Call with s.mu held.
func (s *SecureChat) sendEpoch(room string) int64 {
	epoch := s.epochs[room]
	if st := s.sess.Chain.Latest(); st != nil {
		if r, ok := st.Room(room); ok && r.Epoch > epoch {
			epoch = r.Epoch
		}
	}
	return epoch
}

// encrypt prepares room for its current epoch and encrypts p. When no
// mediator has signed the epoch's membership yet it waits for one (a
// mediator's own chat signs it), up to StatementWait.
func (s *SecureChat) encrypt(ctx context.Context, room string, p *e2ee.Plaintext) ([][]byte, int64, error) {
	deadline := time.Now().Add(s.opts.StatementWait)
	backoff := 200 * time.Millisecond
	for refreshed := false; ; {
		s.mu.Lock()
		epoch := s.sendEpoch(room)
		if e, ok := s.pinned[room]; ok {
			delete(s.pinned, room)
			epoch = e
		}
		dists, err := s.sess.Prepare(room, epoch)
		if err == nil {
			var msg []byte
			msg, err = s.sess.Encrypt(room, p)
			s.mu.Unlock()
			if err != nil {
				return nil, 0, err
			}
			return append(dists, msg), epoch, nil
		}
		s.mu.Unlock()
		switch {
		case errors.Is(err, e2ee.ErrNoStatement):
			if s.mediator {
				if err := s.signMembership(ctx); err != nil {
					return nil, 0, err
				}
			} else if err := s.refresh(ctx); err != nil {
				return nil, 0, err
			}
		case errors.Is(err, e2ee.ErrUnknownDevice) && !refreshed:
			refreshed = true
			if err := s.refresh(ctx); err != nil {
				return nil, 0, err
			}
			continue
		default:
			return nil, 0, err
		}
		if time.Now().After(deadline) {
			return nil, 0, fmt.Errorf("%w: no mediator has confirmed who is in %s since it last changed (epoch %d); a mediator must open the case in Parley", e2ee.ErrNoStatement, room, epoch)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// signer signs membership statements after changes (mediators only),
// coalescing bursts of seals into one statement.
func (s *SecureChat) signer() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		}
		select {
		case <-s.done:
			return
		case <-time.After(150 * time.Millisecond):
		}
		for try := 1; ; try++ {
			ctx, cancel := context.WithTimeout(s.life, 30*time.Second)
			err := s.signMembership(ctx)
			cancel()
			if err == nil || s.life.Err() != nil {
				break
			}
			wait, again := signRetry(err, try)
			if !again {
				s.emit(SecureEvent{Notice: "membership not signed: " + err.Error()})
				break
			}
			// The server could not take the statement just now (503:
			// its audit log takes no writes, say): a party who joined
			// would stay out of every room until a mediator acted again,
			// so it is tried again, a few times.
			select {
			case <-s.done:
				return
			case <-time.After(wait):
			}
		}
	}
}

// signRetries bounds the tries of a membership statement the server
// refused as unavailable (about 5 within 2 minutes).
const signRetries = 5

// signRetry says whether the signer tries a statement again after err
// (its try-th try), and after how long: only a 503, at most signRetries
// times, waiting 5, 10, 20, 30 and 30 seconds, or the server's
// Retry-After if longer (at most 30 seconds).
func signRetry(err error, try int) (time.Duration, bool) {
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || try > signRetries {
		return 0, false
	}
	wait := min(5*time.Second<<(try-1), 30*time.Second)
	return max(wait, min(ae.RetryAfter, 30*time.Second)), true
}

// peopleOf lists the case's people as a statement does: active mediators,
// then parties, counsel and observers with their sides.
func peopleOf(c api.Case) ([]e2ee.Person, []string) {
	var people []e2ee.Person
	for _, m := range c.Mediators {
		if m.Recused == nil {
			people = append(people, e2ee.Person{Account: m.AccountID, Role: e2ee.RoleMediator})
		}
	}
	for _, p := range c.Participants {
		side := p.Side
		if p.Role == api.RoleObserver {
			side = ""
		}
		people = append(people, e2ee.Person{Account: p.AccountID, Role: string(p.Role), Side: side})
	}
	var sides []string
	for _, sd := range c.Sides {
		sides = append(sides, sd.ID)
	}
	return people, sides
}

func sameMembership(a, b *e2ee.Statement) bool {
	if !slices.Equal(a.People, b.People) || len(a.Rooms) != len(b.Rooms) {
		return false
	}
	for i := range a.Rooms {
		if a.Rooms[i].Name != b.Rooms[i].Name || a.Rooms[i].Epoch != b.Rooms[i].Epoch || !slices.Equal(a.Rooms[i].Members, b.Rooms[i].Members) {
			return false
		}
	}
	return true
}

// signMembership signs a statement for the case's current people and the
// rooms' current epochs, if the latest statement does not already say so.
// It refuses (and says why) when the result would break the rules — the
// caucus rule, or anyone changing side or role.
//
// It never admits a new mediator on its own (see newMediators): the
// server's word is not enough to let someone read every room.
func (s *SecureChat) signMembership(ctx context.Context) error {
	return s.signRooms(ctx, nil)
}

// signRooms is signMembership that also opens the defined rooms in open
// (a mediator's deliberate opening, client/rooms.go). Every other defined
// room is carried over from the latest statement (e2ee.CarryDefined),
// never taken from the server's description of it.
func (s *SecureChat) signRooms(ctx context.Context, open []e2ee.RoomMembers) error {
	return s.signAdmitting(ctx, open, "")
}

// newMediators splits the mediators of people into those a statement may
// list without anyone's confirmation — mediators of the latest statement,
// or, for a case's first statement, the signer alone — and the new ones
// (returned in order): an account the server's case record lists as a
// mediator but no signed statement has as one (a co-mediator being added,
// or a recused one coming back; also an account the server made up). A
// new mediator would read the joint room, every caucus and the mediators'
// room, so only a person's explicit admission (AdmitMediator) brings them
// in; admit names the one being admitted, if any (never into a first
// statement, which names its signer alone: e2ee's checkGenesis). kept is
// people without the new mediators other than admit.
func newMediators(latest *e2ee.Statement, people []e2ee.Person, signer, admit string) (kept []e2ee.Person, pending []string) {
	for _, p := range people {
		if p.Role == e2ee.RoleMediator && (p.Account != admit || latest == nil) {
			sitting := p.Account == signer && latest == nil
			if latest != nil {
				prev, ok := latest.Person(p.Account)
				sitting = ok && prev.Role == e2ee.RoleMediator
			}
			if !sitting {
				pending = append(pending, p.Account)
				continue
			}
		}
		kept = append(kept, p)
	}
	return kept, pending
}

// PendingMediators lists the accounts the server's case record names as
// mediators that no signed membership statement admits yet: they read
// nothing until a mediator confirms them with AdmitMediator. It is empty
// unless this device's account is a sitting mediator (only one can admit).
func (s *SecureChat) PendingMediators(ctx context.Context) ([]api.Mediator, error) {
	c, err := s.x.C.Case(ctx, s.caseID)
	if err != nil {
		return nil, err
	}
	people, _ := peopleOf(c)
	s.mu.Lock()
	latest := s.sess.Chain.Latest()
	s.mu.Unlock()
	_, pending := newMediators(latest, people, s.x.Me.Account, "")
	if slices.Contains(pending, s.x.Me.Account) || !slices.ContainsFunc(people, func(p e2ee.Person) bool { return p.Account == s.x.Me.Account && p.Role == e2ee.RoleMediator }) {
		return nil, nil // only a sitting mediator admits (and so sees who waits)
	}
	var out []api.Mediator
	for _, m := range c.Mediators {
		if m.Recused == nil && slices.Contains(pending, m.AccountID) {
			out = append(out, m)
		}
	}
	return out, nil
}

// AdmitMediator is a mediator's explicit confirmation that account, which
// the server's case record lists as a mediator of the case, joins it: this
// device signs a membership statement that puts them in the joint room,
// every caucus and the mediators' room (and so, through the documents'
// newcomer wraps, gives them the case's documents). Call it only on a
// person's word — the program told them this mediator joins the case —
// never because the server says so.
func (s *SecureChat) AdmitMediator(ctx context.Context, account string) error {
	c, err := s.x.C.Case(ctx, s.caseID)
	if err != nil {
		return err
	}
	listed, me := false, false
	for _, m := range c.Mediators {
		if m.Recused == nil {
			listed = listed || m.AccountID == account
			me = me || m.AccountID == s.x.Me.Account
		}
	}
	if !me {
		return fmt.Errorf("%w: only a mediator of the case admits another", e2ee.ErrMembership)
	}
	if !listed {
		return fmt.Errorf("%w: %s is not a mediator of the case (add them first: parley case add-mediator)", e2ee.ErrMembership, account)
	}
	s.mu.Lock()
	empty := s.sess.Chain.Latest() == nil
	s.mu.Unlock()
	if empty { // the case's first statement names this mediator alone
		if err := s.signAdmitting(ctx, nil, ""); err != nil {
			return err
		}
	}
	return s.signAdmitting(ctx, nil, account)
}

// signAdmitting is signRooms that also admits the new mediator admit
// (empty: none).
func (s *SecureChat) signAdmitting(ctx context.Context, open []e2ee.RoomMembers, admit string) error {
	for attempt := 0; attempt < 4; attempt++ {
		c, err := s.x.C.Case(ctx, s.caseID)
		if err != nil {
			return err
		}
		people, sides := peopleOf(c)
		// One copy of the chain (a background refresh may replace
		// s.sess.Chain) decides who is new and what the statement follows.
		s.mu.Lock()
		chain := s.sess.Chain
		dir := s.sess.Dir
		epochs := map[string]int64{}
		for r, e := range s.epochs {
			epochs[r] = e
		}
		latest := chain.Latest()
		people, pending := newMediators(latest, people, s.x.Me.Account, admit)
		if slices.Contains(pending, s.x.Me.Account) {
			s.mu.Unlock()
			err := notSitting(c, chain, s.x.Me.Account)
			s.emit(SecureEvent{Notice: err.Error()})
			return err
		}
		if o := api.Opener(c.CreatedBy, c.Mediators); latest == nil && o != "" && o != s.x.Me.Account {
			// The key directory takes the first statement only from the
			// case's opener: say so rather than sign one it refuses.
			s.mu.Unlock()
			err := notOpener(c, o)
			s.emit(SecureEvent{Notice: err.Error()})
			return err
		}
		var tell []string
		for _, a := range pending {
			if !s.told[a] {
				if s.told == nil {
					s.told = map[string]bool{}
				}
				s.told[a] = true
				tell = append(tell, a)
			}
		}
		s.mu.Unlock()
		for _, a := range tell {
			s.emit(SecureEvent{Notice: fmt.Sprintf("%s is listed as a mediator of this case but no mediator has admitted them: they open none of its rooms, documents or sessions until you do (parley chat admit %s shows your safety number with them: check it with them by phone, then parley chat admit %s %s --safety-number N)", nameIn(c, a), s.caseID, s.caseID, a)})
		}
		if latest != nil {
			for _, r := range latest.Rooms {
				if _, ok := epochs[r.Name]; !ok {
					epochs[r.Name] = r.Epoch
				}
			}
		}
		want := e2ee.StatementFor(s.caseID, people, sides, epochs)
		want.Rooms = append(want.Rooms, e2ee.CarryDefined(latest, people, epochs)...)
		for _, r := range open {
			if _, ok := want.Room(r.Name); ok {
				// Opening names a room new to the chain, never one it holds.
				return fmt.Errorf("%w: room %s is already in the signed membership", e2ee.ErrMembership, r.Name)
			}
			want.Rooms = append(want.Rooms, r)
		}
		if latest != nil {
			if sameMembership(latest, want) {
				return nil
			}
			want.Seq, want.Prev = latest.Seq+1, latest.Hash()
		} else {
			want.Seq = 1
		}
		raw, err := want.Sign(s.x.Me)
		if err != nil {
			s.emit(SecureEvent{Notice: "refusing to sign the membership the server describes: " + err.Error()})
			return err
		}
		dec, err := e2ee.DecodeStatement(raw)
		if err != nil {
			return err
		}
		if err := chain.Clone().Extend(dec, dir); err != nil {
			s.emit(SecureEvent{Notice: "refusing to sign the membership the server describes: " + err.Error()})
			return err
		}
		err = s.x.postStatement(ctx, s.caseID, raw)
		var ae *Error
		if errors.As(err, &ae) && ae.Status == http.StatusConflict {
			if err := s.refresh(ctx); err != nil {
				return err
			}
			continue // another mediator signed first
		}
		if err != nil {
			return err
		}
		s.emit(SecureEvent{Notice: admissions(latest, dec)})
		return s.refresh(ctx)
	}
	return errors.New("membership statement: lost the race to other mediators repeatedly")
}

// notSitting is what a mediator of the case record is told when the
// signed chain has no place for them: no statement has them as a mediator.
// If they created the case (the record's createdBy) and the first
// statement is another account's, someone else's device started the
// case's conversation — the server's doing, since the first statement is
// trusted on first use (docs/protocol.md, residuals); otherwise they are a
// co-mediator no sitting mediator has admitted yet.
func notSitting(c api.Case, chain *e2ee.Chain, me string) error {
	first, _ := chain.Get(1)
	if first != nil && first.SignerAccount != me && c.CreatedBy == me && !inChain(chain, me) {
		return fmt.Errorf("%w: this case's conversation was started by someone else's device (%s), not yours. Do not use it; tell the program",
			e2ee.ErrMembership, first.SignerAccount)
	}
	return fmt.Errorf("%w: you are listed as a mediator of this case, but no mediator of it has admitted you yet: you read nothing until one does", e2ee.ErrMembership)
}

// notAdmitted is what a mediator of c the server shows no room is told:
// who opens the conversation, before its first statement, or that no
// mediator has admitted them (or that someone else's device started it).
func notAdmitted(c api.Case, chain *e2ee.Chain, me string) error {
	if o := api.Opener(c.CreatedBy, c.Mediators); chain.Latest() == nil && o != "" && o != me {
		return notOpener(c, o)
	}
	return notSitting(c, chain, me)
}

// activeMediator reports whether account is a mediator of c who is not
// recused.
func activeMediator(c api.Case, account string) bool {
	for _, m := range c.Mediators {
		if m.AccountID == account && m.Recused == nil {
			return true
		}
	}
	return false
}

// notOpener is what a mediator is told who may not open the case's
// conversation (api.Opener names another mediator).
func notOpener(c api.Case, opener string) error {
	return fmt.Errorf("%w: %s opens this case's conversation (the mediator who created the case, or, if they are no longer one of its mediators, the one longest on it); once it is open, they check your safety number with you and admit you", e2ee.ErrMembership, nameIn(c, opener))
}

// inChain reports whether any statement of chain names account.
func inChain(chain *e2ee.Chain, account string) bool {
	for seq := 1; seq <= chain.Len(); seq++ {
		if st, _ := chain.Get(uint64(seq)); st != nil {
			if _, ok := st.Person(account); ok {
				return true
			}
		}
	}
	return false
}

// nameIn is account's name in the case record, with its id.
func nameIn(c api.Case, account string) string {
	for _, m := range c.Mediators {
		if m.AccountID == account && m.Name != "" {
			return m.Name + " (" + account + ")"
		}
	}
	return account
}

// admissions describes a new statement for people: who came in, who left.
func admissions(prev, next *e2ee.Statement) string {
	var in, out []string
	for _, p := range next.People {
		if prev == nil {
			in = append(in, p.Account+" ("+p.Role+sideSuffix(p.Side)+")")
		} else if _, ok := prev.Person(p.Account); !ok {
			in = append(in, p.Account+" ("+p.Role+sideSuffix(p.Side)+")")
		}
	}
	if prev != nil {
		for _, p := range prev.People {
			if _, ok := next.Person(p.Account); !ok {
				out = append(out, p.Account)
			}
		}
	}
	msg := fmt.Sprintf("signed membership statement %d", next.Seq)
	if len(in) > 0 {
		msg += "; admitted " + strings.Join(in, ", ")
	}
	if len(out) > 0 {
		msg += "; removed " + strings.Join(out, ", ")
	}
	return msg
}

func sideSuffix(side string) string {
	if side == "" {
		return ""
	}
	return ", side " + side
}

// ProposeCarry (a mediator, in a caucus) proposes carrying the message at
// pos of room to the joint room: it records the proposal (audited) and
// posts it, encrypted, in the caucus, where the author's device sees it.
func (s *SecureChat) ProposeCarry(ctx context.Context, room string, pos api.Position, note string) (string, error) {
	if _, ok := e2ee.CaucusSide(room); !ok {
		return "", errors.New("only messages of a caucus are carried")
	}
	var page api.HistoryPage
	path := fmt.Sprintf("/api/v1/cases/%s/rooms/%s/messages?epoch=%d&offset=%d&limit=1",
		url.PathEscape(s.caseID), url.PathEscape(room), pos.Epoch, pos.Offset-1)
	if err := s.x.C.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
		return "", err
	}
	if len(page.Messages) == 0 || page.Messages[0].Pos() != pos {
		return "", fmt.Errorf("no message at %d:%d in %s", pos.Epoch, pos.Offset, room)
	}
	hash := e2ee.PayloadHash(page.Messages[0].Body)
	id := ids.New("cr")
	var rec api.Carry
	if err := s.x.C.Do(ctx, http.MethodPost, "/api/v1/cases/"+url.PathEscape(s.caseID)+"/carries", api.CarryRequest{
		ID: id, From: room, To: api.RoomJoint, Epoch: pos.Epoch, Offset: pos.Offset, Hash: fmt.Sprintf("sha256:%x", hash)}, &rec); err != nil {
		return "", err
	}
	_, err := s.send(ctx, room, &e2ee.Plaintext{Kind: e2ee.KindCarryProposal, CarryID: id, Room: api.RoomJoint,
		Ref: e2ee.Position{Epoch: pos.Epoch, Offset: pos.Offset}, RefHash: hash, Text: note}, nil)
	return id, err
}

// ApproveCarry is the author's consent to a proposal they received: this
// device checks the proposal names one of its account's own messages
// (by position and payload hash) and that the server's record of the
// carry names the same (checkRecord; ErrCarryMismatch if not: nothing is
// carried), re-encrypts that message's text for the joint room, records
// the consent with the new payload's hash (audited), and posts it.
func (s *SecureChat) ApproveCarry(ctx context.Context, proposal SecureEvent) (api.Message, error) {
	if proposal.Kind != e2ee.KindCarryProposal || proposal.Carry == nil {
		return api.Message{}, errors.New("not a carry proposal")
	}
	s.mu.Lock()
	st := s.sess.Chain.Latest()
	orig, ok := s.seen[proposal.Room][proposal.Carry.Ref]
	s.mu.Unlock()
	if st == nil {
		return api.Message{}, e2ee.ErrNoStatement
	}
	if p, isIn := st.Person(proposal.From); !isIn || p.Role != e2ee.RoleMediator {
		return api.Message{}, errors.New("the proposal does not come from a mediator of the case")
	}
	if !ok {
		evs, err := s.x.ReadRoom(ctx, s.caseID, proposal.Room, api.Position{Epoch: proposal.Carry.Ref.Epoch, Offset: proposal.Carry.Ref.Offset - 1})
		if err != nil {
			return api.Message{}, err
		}
		for _, ev := range evs {
			if ev.Pos == proposal.Carry.Ref && ev.Rejected == nil {
				orig, ok = seenMsg{from: ev.From, kind: ev.Kind, text: ev.Text}, true
				orig.hash = proposal.Carry.RefHash // checked below against the stored payload
				if err := s.checkHash(ctx, proposal); err != nil {
					return api.Message{}, err
				}
			}
		}
	}
	if !ok {
		return api.Message{}, fmt.Errorf("this device cannot read the message at %d:%d", proposal.Carry.Ref.Epoch, proposal.Carry.Ref.Offset)
	}
	if orig.from != s.x.Me.Account {
		return api.Message{}, errors.New("only the author of a message can consent to carrying it")
	}
	s.mu.Lock()
	devs, _ := s.sess.Dir.(*e2ee.Devices)
	admitted := devs != nil && !devs.OwnChain(s.x.Me.Account, s.x.Me.ID)
	s.mu.Unlock()
	if admitted {
		return api.Message{}, fmt.Errorf("%w: this device was admitted by the mediator, so the others' clients would refuse its consent; approve on a device you linked yourself", e2ee.ErrAdmittedDevice)
	}
	if orig.hash != proposal.Carry.RefHash || orig.kind != e2ee.KindText {
		return api.Message{}, errors.New("the proposal does not match the message")
	}
	if err := s.checkRecord(ctx, proposal); err != nil {
		return api.Message{}, err
	}
	// The carried copy names the carry, the source room and the proposer,
	// never the original's position or payload hash: every joint-room
	// member reads it, and those say how active the caucus was. Whoever
	// reads the caucus finds the original through the carry id.
	p := &e2ee.Plaintext{Kind: e2ee.KindCarried, CarryID: proposal.Carry.ID, Room: proposal.Room,
		Proposer: proposal.From, Text: orig.text}
	return s.send(ctx, proposal.Carry.Room, p, func(payload []byte) error {
		return s.x.C.Do(ctx, http.MethodPost, "/api/v1/cases/"+url.PathEscape(s.caseID)+"/carries/"+url.PathEscape(proposal.Carry.ID)+"/consent",
			api.ConsentRequest{Hash: fmt.Sprintf("sha256:%x", e2ee.PayloadHash(payload))}, nil)
	})
}

// ErrCarryMismatch: the proposal a device decrypted does not name what the
// mediator registered with the server for that carry id (a second
// proposal with the same id, say); nothing is carried.
var ErrCarryMismatch = errors.New("this proposal does not match what the mediator registered; nothing was carried")

// checkRecord compares the proposal with the server's record of its
// carry: the same source room, position and payload hash, and this
// account as the author. The consent names only the carry id, so without
// this a second proposal under the same id could have this device carry
// another message than the one the record (and its audit) names.
func (s *SecureChat) checkRecord(ctx context.Context, proposal SecureEvent) error {
	var rec api.Carry
	if err := s.x.C.Do(ctx, http.MethodGet, "/api/v1/cases/"+url.PathEscape(s.caseID)+"/carries/"+url.PathEscape(proposal.Carry.ID), nil, &rec); err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return ErrCarryMismatch
		}
		return err
	}
	ref := proposal.Carry.Ref
	if rec.ID != proposal.Carry.ID || rec.From != proposal.Room || rec.To != proposal.Carry.Room ||
		rec.Ref != (api.Position{Epoch: ref.Epoch, Offset: ref.Offset}) ||
		rec.Hash != fmt.Sprintf("sha256:%x", proposal.Carry.RefHash) || rec.Author != s.x.Me.Account {
		return ErrCarryMismatch
	}
	return nil
}

// checkHash checks the payload stored at a proposal's position has the
// proposal's hash.
func (s *SecureChat) checkHash(ctx context.Context, proposal SecureEvent) error {
	var page api.HistoryPage
	ref := proposal.Carry.Ref
	path := fmt.Sprintf("/api/v1/cases/%s/rooms/%s/messages?epoch=%d&offset=%d&limit=1",
		url.PathEscape(s.caseID), url.PathEscape(proposal.Room), ref.Epoch, ref.Offset-1)
	if err := s.x.C.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
		return err
	}
	if len(page.Messages) == 0 || page.Messages[0].Pos() != ref || e2ee.PayloadHash(page.Messages[0].Body) != proposal.Carry.RefHash {
		return errors.New("the proposal does not match the stored message")
	}
	return nil
}

// behindPin says whether this device has verified a later membership
// statement of the case than the one this chat holds.
func (s *SecureChat) behindPin() error {
	s.x.mu.Lock()
	p := s.x.pinned(s.caseID)
	s.x.mu.Unlock()
	s.mu.Lock()
	var have uint64
	if s.sess != nil && s.sess.Chain != nil && s.sess.Chain.Latest() != nil {
		have = s.sess.Chain.Latest().Seq
	}
	s.mu.Unlock()
	if p.Seq > have {
		return fmt.Errorf("%w: this device has verified membership statement %d of case %s, but could not fetch it now (this chat holds %d); not sending with the older membership", e2ee.ErrMembership, p.Seq, s.caseID, have)
	}
	return nil
}
