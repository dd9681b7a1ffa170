package caucus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

// Room names as clients use them.
const (
	JointName     = api.RoomJoint
	MediatorsName = api.RoomMediators
	caucusPrefix  = api.CaucusRoom
)

// CaucusName is the name of a side's caucus room.
func CaucusName(side string) string { return caucusPrefix + side }

// Service runs the rooms of cases.
type Service struct {
	cases  *cases.Service
	policy *policy.Engine
	msg    *messaging.Service
	broker messaging.Broker
	audit  *audit.Log
	// Log receives what a membership change could not do after its
	// retries (slog.Default() when nil).
	Log *slog.Logger
}

// NewService wires the rooms layer.
func NewService(cs *cases.Service, pol *policy.Engine, msg *messaging.Service, broker messaging.Broker, log *audit.Log) *Service {
	return &Service{cases: cs, policy: pol, msg: msg, broker: broker, audit: log}
}

// RoomNames lists a case's rooms: joint, a caucus per side, mediators, then
// the rooms its mediators defined (open and closed), in opening order.
func RoomNames(c *cases.Case) []string {
	names := StandingRoomNames(c)
	for _, r := range c.Rooms {
		names = append(names, cases.RoomName(r))
	}
	return names
}

// StandingRoomNames lists the rooms every case has: joint, a caucus per
// side, mediators (not the rooms a mediator opened, which are their
// members' business: sessions are scheduled in standing rooms only).
func StandingRoomNames(c *cases.Case) []string {
	names := []string{JointName}
	for _, s := range c.Sides {
		names = append(names, CaucusName(s.ID))
	}
	return append(names, MediatorsName)
}

// roomOf maps a client's room name in case c to the policy view of it and
// the messaging room; unknown names fail.
func roomOf(c *cases.Case, name string) (policy.Room, messaging.Room, error) {
	r := policy.Room{Case: c.Facts()}
	var key string
	switch {
	case name == JointName:
		r.Kind, key = policy.RoomJoint, "joint"
	case name == MediatorsName:
		r.Kind, key = policy.RoomMediators, "mediators"
	case strings.HasPrefix(name, caucusPrefix) && c.HasSide(strings.TrimPrefix(name, caucusPrefix)):
		r.Kind, r.Side = policy.RoomCaucus, strings.TrimPrefix(name, caucusPrefix)
		key = "caucus-" + r.Side
	case strings.HasPrefix(name, api.RoomDefined) || strings.HasPrefix(name, api.RoomCross):
		d, ok := c.DefinedRoomNamed(name)
		if !ok {
			return policy.Room{}, messaging.Room{}, fmt.Errorf("room %q: %w", name, fault.ErrNotFound)
		}
		// The messaging room follows the signed name: a record whose
		// cross-side flag was flipped names another, empty room (which no
		// mediator signed), never the history of the one opened.
		r = c.RoomFacts(*d)
		key = strings.Replace(name, ":", "-", 1)
	default:
		return policy.Room{}, messaging.Room{}, fmt.Errorf("room %q: %w", name, fault.ErrNotFound)
	}
	return r, messaging.Room{ID: c.ID + "/" + key, Name: name}, nil
}

// PolicyRoom is room name of case c as policy sees it, for services that
// decide about a room without carrying its messages (package floor).
// Unknown names fail with fault.ErrNotFound.
func PolicyRoom(c *cases.Case, name string) (policy.Room, error) {
	r, _, err := roomOf(c, name)
	return r, err
}

// HistoryPrefix is the object-key prefix of every stored message batch of
// every room of a case (its message history, one record class).
func HistoryPrefix(caseID string) string { return messaging.StoragePrefix(caseID + "/") }

// CaseTopic is the broker topic announcing membership changes of a case.
func CaseTopic(caseID string) string { return "case:" + caseID }

// decide loads the case and decides action on room name for actor.
// Losing all access to the case is reported as messaging.ErrAccessLost.
// A name outside the room-name grammar (api.ValidRoomName) is invalid
// before anything is decided or audited: refusals are audited with the
// room's name, and the audit log holds only names of that grammar, never
// a string someone typed.
func (s *Service) decide(ctx context.Context, actor account.Account, caseID, name string, a policy.Action) (*cases.Case, messaging.Room, error) {
	if !api.ValidRoomName(name) {
		return nil, messaging.Room{}, fault.Invalid("room", "not a room name")
	}
	c, err := s.cases.Load(ctx, caseID)
	if err != nil {
		return nil, messaging.Room{}, err
	}
	if err := s.cases.Admission(ctx, c); err != nil {
		return nil, messaging.Room{}, err
	}
	return s.decideIn(ctx, actor, c, name, a)
}

// decideIn is decide on a case already read (name checked already), and
// put through cases.Service.Admission: a mediator no seated mediator has
// confirmed is in no room (policy unconfirmed-mediators-in-no-room), and
// their refusal is audited naming the rule.
func (s *Service) decideIn(ctx context.Context, actor account.Account, c *cases.Case, name string, a policy.Action) (*cases.Case, messaging.Room, error) {
	mr, refused, err := s.judge(actor, c, name, a)
	if refused {
		attrs := map[string]string{"action": string(a), "room": name}
		if errors.Is(err, cases.ErrUnconfirmed) {
			attrs["rule"] = cases.RuleUnconfirmedRooms
		}
		s.audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID, Attrs: attrs})
	}
	if err != nil {
		return nil, messaging.Room{}, err
	}
	return c, mr, nil
}

// judge decides action a on room name of case c for actor, as decideIn
// does, without auditing: the bool reports a refusal decideIn audits (the
// case or the room not the actor's; not a fence's refusal of posts).
func (s *Service) judge(actor account.Account, c *cases.Case, name string, a policy.Action) (messaging.Room, bool, error) {
	if !s.policy.Decide(actor.Principal(), policy.CaseRead, c.Facts()).Allowed {
		return messaging.Room{}, true, fmt.Errorf("case %s: %w: %w", c.ID, fault.ErrForbidden, messaging.ErrAccessLost)
	}
	// A room that is not the actor's (another side's caucus) and a room
	// that does not exist get one answer, audited alike, so that neither
	// the answer nor its time tells them apart.
	pr, mr, err := roomOf(c, name)
	if err != nil {
		return messaging.Room{}, true, fmt.Errorf("room %q: %w", name, errNoRoom{})
	}
	if d := s.policy.DecideRoom(actor.Principal(), a, pr); !d.Allowed {
		if pr.Kind != policy.RoomDefined && slices.Contains(d.Policies, cases.RuleUnconfirmedRooms) {
			// Their own case's standing rooms: they know them, so the
			// refusal says what they wait for (a refusal on a socket
			// too). A room a mediator opened with chosen people is
			// refused as one that does not exist, as to everyone else
			// outside it: its name tells nothing.
			return messaging.Room{}, true, notConfirmed{c.NotConfirmed("join this case's rooms and read their messages")}
		}
		return messaging.Room{}, true, fmt.Errorf("room %q: %w", name, errNoRoom{})
	}
	if a == policy.RoomPost {
		// A case being disposed of takes no more messages. A connection
		// caches this answer until the case's topic announces a change
		// (the fence announces itself: DisposalBegun), its node's check
		// of the case finds the fence (package web, every 2 s) or its
		// fallback check, so the fence costs no read per message.
		if err := cases.RefuseAdditions(c); err != nil {
			return messaging.Room{}, false, fmt.Errorf("%w: %w", messaging.ErrForbidden, err)
		}
	}
	return mr, false, nil
}

// notConfirmed is the refusal of a room to a mediator no seated mediator
// has confirmed (cases.Case.NotConfirmed): forbidden, in words, over
// HTTP, and a room refusal on a WebSocket (the connection stays).
type notConfirmed struct{ err error }

func (e notConfirmed) Error() string { return e.err.Error() }

func (e notConfirmed) Unwrap() error { return e.err }

func (e notConfirmed) Is(target error) bool { return target == messaging.ErrForbidden }

// errNoRoom is "not found" over HTTP and a room refusal on a WebSocket
// (the connection stays).
type errNoRoom struct{}

func (errNoRoom) Error() string { return fault.ErrNotFound.Error() }

func (errNoRoom) Is(target error) bool {
	return target == fault.ErrNotFound || target == messaging.ErrForbidden
}

// RoomView is one room as its viewer sees it.
type RoomView = api.RoomView

// Rooms lists the rooms of the case that actor may join.
func (s *Service) Rooms(ctx context.Context, actor account.Account, caseID string) ([]RoomView, error) {
	c, err := s.cases.Get(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	// A mediator no seated mediator has confirmed is in no room, and is
	// named as a member of none (members).
	if err := s.cases.Admission(ctx, c); err != nil {
		return nil, err
	}
	var out []RoomView
	for _, name := range RoomNames(c) {
		pr, mr, _ := roomOf(c, name)
		if !s.policy.DecideRoom(actor.Principal(), policy.RoomJoin, pr).Allowed {
			continue
		}
		present, _ := s.broker.Presence(ctx, mr.ID)
		if present == nil {
			present = []string{}
		}
		v := RoomView{Name: name, Kind: string(pr.Kind), Side: pr.Side,
			Audience: audience(c, pr), Members: s.members(c, pr), Present: present}
		if d, ok := c.DefinedRoomNamed(name); ok {
			v.Label, v.CrossSide, v.Closed = d.Label, d.CrossSide, d.Closed != nil
			v.Audience = definedAudience(c, *d, v.Members)
		}
		out = append(out, v)
	}
	return out, nil
}

// members lists who may join a room, by asking policy about each person of
// the case — so the list can never disagree with the decisions.
func (s *Service) members(c *cases.Case, r policy.Room) []string {
	out := []string{}
	for _, m := range c.Mediators {
		if s.policy.DecideRoom(policy.User{ID: m.AccountID, Role: policy.RoleMediator}, policy.RoomJoin, r).Allowed {
			out = append(out, m.AccountID)
		}
	}
	for _, p := range c.Participants {
		if s.policy.DecideRoom(policy.User{ID: p.AccountID, Role: policy.RoleParticipant}, policy.RoomJoin, r).Allowed {
			out = append(out, p.AccountID)
		}
	}
	return out
}

func audience(c *cases.Case, r policy.Room) string {
	switch r.Kind {
	case policy.RoomJoint:
		return "Everyone in this mediation: all sides, their lawyers and the mediators"
	case policy.RoomMediators:
		return "The mediators only"
	}
	label := r.Side
	for _, sd := range c.Sides {
		if sd.ID == r.Side {
			label = sd.Label
		}
	}
	return fmt.Sprintf("%s side only: its parties, their lawyers and the mediators — never the other side", label)
}

// History returns up to limit messages of a room after a position, for
// someone allowed to page its history.
func (s *Service) History(ctx context.Context, actor account.Account, caseID, name string, after messaging.Position, limit int) ([]messaging.Message, messaging.Position, error) {
	if !api.ValidRoomName(name) {
		return nil, after, fault.Invalid("room", "not a room name")
	}
	// A case the actor has no place in and a case that does not exist get
	// one answer, audited alike (cases.LoadFor). (An open connection's
	// rooms are decided by decide: there, losing the case is access lost.)
	c, err := s.cases.LoadFor(ctx, actor, caseID, policy.RoomHistory)
	if err != nil {
		return nil, after, err
	}
	if err := s.cases.Admission(ctx, c); err != nil {
		return nil, after, err
	}
	_, mr, err := s.decideIn(ctx, actor, c, name, policy.RoomHistory)
	if err != nil {
		return nil, after, err
	}
	return s.msg.Page(ctx, mr.ID, after, limit)
}

// membershipEvent is the system event recorded in a seal: ids only.
type membershipEvent = api.MembershipEvent

// Membership steps are retried this many times, waiting stepBackoff,
// doubled each time, in between: about 1.5 s per step at worst.
const (
	stepAttempts = 5
	stepBackoff  = 50 * time.Millisecond
	// membershipBudget bounds the whole change, which must finish even if
	// the request that caused it has gone.
	membershipBudget = 30 * time.Second
)

// retry runs step until it succeeds, stepAttempts times at most, and logs
// a final failure.
func (s *Service) retry(ctx context.Context, what, caseID string, step func(context.Context) error) error {
	backoff := stepBackoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = step(ctx); err == nil {
			return nil
		}
		if attempt == stepAttempts || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff *= 2
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.ErrorContext(ctx, "membership change: step failed after retries", slog.String("step", what),
		slog.String("case", caseID), slog.Int("attempts", stepAttempts), slog.String("error", err.Error()))
	return err
}

// MembershipChanged seals the affected rooms into a new epoch, audits the
// change and tells every node's open connections to re-check access. It is
// wired as cases.Service.OnMembership.
//
// Every step is retried with a bounded backoff and a final failure is
// logged; whatever fails, the announcement is always made, since it is
// what makes a recused mediator's or removed person's open sockets drop
// their rooms at once (they re-check the case itself, which has already
// changed). The change runs to its end even if ctx is cancelled.
func (s *Service) MembershipChanged(ctx context.Context, caseID string, ch cases.MembershipChange) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), membershipBudget)
	defer cancel()
	reason, _ := json.Marshal(membershipEvent{Change: ch.Kind, Account: ch.Account})
	var sealed, unsealed []string
	var c *cases.Case
	loadErr := s.retry(ctx, "load case", caseID, func(ctx context.Context) error {
		var err error
		c, err = s.cases.Load(ctx, caseID)
		return err
	})
	if loadErr == nil {
		for _, name := range RoomNames(c) {
			if !affects(c, ch, name) {
				continue
			}
			_, mr, _ := roomOf(c, name)
			if err := s.retry(ctx, "seal "+name, caseID, func(ctx context.Context) error {
				return s.msg.Seal(ctx, mr.ID, string(reason))
			}); err == nil {
				sealed = append(sealed, name)
			} else {
				unsealed = append(unsealed, name)
			}
		}
	}
	events := membershipEvents(caseID, ch, sealed, unsealed, loadErr != nil, time.Now().UTC())
	s.retry(ctx, "audit", caseID, func(ctx context.Context) error {
		// Only what is not in the log yet: an append that failed part
		// way keeps the entries it made.
		idx, err := s.audit.AppendBatch(ctx, events)
		events = events[len(idx):]
		return err
	})
	s.retry(ctx, "announce", caseID, func(ctx context.Context) error {
		return s.broker.Publish(ctx, CaseTopic(caseID), reason)
	})
}

// statementStored is the announcement StatementStored makes.
var statementStored, _ = json.Marshal(membershipEvent{Change: "statement.stored"})

// StatementStored tells every node's open connections to case caseID that
// a membership statement was stored (keydir.Service.PostStatement): each
// node forgets what it cached of the case's seats (SeatsChanged,
// cases.Service.ForgetSeats) and each connection puts its cached rights
// in doubt and re-checks its rooms, so a statement that stops seating a
// co-mediator still on the record ends their rooms within about a second,
// not at the connection's check a minute later. The announcement is at
// most once: a connection that misses it narrows at that check.
func (s *Service) StatementStored(ctx context.Context, caseID string) {
	if err := s.broker.Publish(context.WithoutCancel(ctx), CaseTopic(caseID), statementStored); err != nil {
		log := s.Log
		if log == nil {
			log = slog.Default()
		}
		log.WarnContext(ctx, "membership statement: open connections could not be told; they re-check within a minute",
			slog.String("case", caseID), slog.String("error", err.Error()))
	}
}

// SeatsChanged reports whether data, an announcement on a case's topic
// (CaseTopic), is StatementStored's: whoever hears it forgets the case's
// cached seats before re-checking anything.
func SeatsChanged(data []byte) bool { return bytes.Equal(data, statementStored) }

// DisposalBegun tells every node's open connections to case caseID that
// retention has fenced it (cases.BeginDisposal): each drops its cached
// right to post and asks again, which the fence refuses
// (cases.RefuseAdditions). It is wired as cases.Service.OnDisposal. The
// announcement is at most once; a connection that misses it drops its
// cache when its node's own check of the case finds the fence
// (its fence marker listed every 2 s, then cases.CheckFence: package
// web's fencewatch.go), a few
// seconds later, and retention destroys whatever a post acknowledged
// meanwhile stored (retention's disposeCaseRecord ends the rooms' history
// first).
func (s *Service) DisposalBegun(ctx context.Context, caseID string) {
	reason, _ := json.Marshal(membershipEvent{Change: "case.disposing"})
	if err := s.broker.Publish(context.WithoutCancel(ctx), CaseTopic(caseID), reason); err != nil {
		log := s.Log
		if log == nil {
			log = slog.Default()
		}
		log.WarnContext(ctx, "case disposal: open connections could not be told; their nodes find the fence within seconds",
			slog.String("case", caseID), slog.String("error", err.Error()))
	}
}

// membershipEvents are the audit entries of one membership change: a
// "room.membership" summary (the change, how many rooms were sealed and
// how many could not be) and one "room.membership.room" entry per room
// it touched, naming the room and whether it was sealed. Each entry holds
// one room name of the grammar, so however many rooms a case has (up to
// cases.MaxDefinedRooms defined ones besides the standing rooms) every
// entry stays far under the log's attribute limit and the change is
// always recorded; an auditor reads which rooms moved to a new epoch
// straight from the log, with no key needed.
func membershipEvents(caseID string, ch cases.MembershipChange, sealed, unsealed []string, unreadable bool, at time.Time) []audit.Event {
	summary := map[string]string{"change": ch.Kind, "rooms": strconv.Itoa(len(sealed))}
	if len(unsealed) > 0 {
		summary["unsealed"] = strconv.Itoa(len(unsealed))
	}
	if unreadable {
		summary["unsealed"] = "case could not be read"
	}
	// The actor is who made the change (ch.By), not whom it concerns
	// (ch.Account, the entries' object): a recused mediator, a removed
	// party, an added co-mediator did not act. SystemActor when no one
	// did (a notice period elapsed).
	actor := ch.By
	if actor == "" {
		actor = cases.SystemActor
	}
	ev := func(typ string, attrs map[string]string) audit.Event {
		return audit.Event{Type: typ, Actor: actor, Case: caseID, Objects: []string{ch.Account}, Attrs: attrs, Time: at}
	}
	events := []audit.Event{ev("room.membership", summary)}
	for _, name := range sealed {
		events = append(events, ev("room.membership.room", map[string]string{"change": ch.Kind, "room": name, "state": "sealed"}))
	}
	for _, name := range unsealed {
		events = append(events, ev("room.membership.room", map[string]string{"change": ch.Kind, "room": name, "state": "unsealed"}))
	}
	return events
}

func affects(c *cases.Case, ch cases.MembershipChange, room string) bool {
	if d, ok := c.DefinedRoomNamed(room); ok {
		// A defined room's people are fixed: only one of them leaving
		// (or a mediator in it recused) changes it. The case record has
		// already taken them out of it (ch.Rooms names what they left).
		return (slices.Contains(ch.Rooms, room) || slices.Contains(d.Members, ch.Account)) &&
			ch.Kind != "participant.joined" && ch.Kind != "mediator.added"
	}
	if ch.Kind != "participant.joined" && ch.Kind != "participant.removed" {
		return true // mediators are in every room
	}
	return room == JointName || ch.Side != "" && room == CaucusName(ch.Side)
}

// Authorizer returns the messaging.Authorizer for one connection of actor
// to a case. Decisions are cached for the connection; an access change
// puts them in doubt (Invalidate) and the connection's checker decides
// them again from one read of the case (Redecide).
func (s *Service) Authorizer(actor account.Account, caseID string) messaging.Authorizer {
	return s.AuthorizerOf(&actor, caseID)
}

// AuthorizerOf is Authorizer for an actor the caller keeps and never
// changes while the connection lasts: the authorizer holds the pointer,
// not a copy of the account (a connection's caller holds one already).
func (s *Service) AuthorizerOf(actor *account.Account, caseID string) messaging.Authorizer {
	return &connAuth{s: s, actor: actor, caseID: caseID}
}

// connAuth is one connection's authorizer (a messaging.Redecider). Its
// reader's Resolve and its checker's Redecide run at the same time; mu
// guards the cache and is never held across a read of the store, so that
// neither waits for the other's read.
type connAuth struct {
	s      *Service
	actor  *account.Account // never changed (see AuthorizerOf)
	caseID string

	mu sync.Mutex
	// gen counts Invalidate calls: an answer is cached only if the read
	// it was decided from began at the current gen, so no answer read
	// before an access change is served after the connection heard of it.
	gen uint64
	// cache holds the answers served: a slice, not a map, since a
	// connection holds a few (an action on each of its person's rooms)
	// and a map's first group alone takes eight answers' room (576
	// bytes for the one answer of an idle connection's joint room).
	cache []authAnswer
	// doubt holds the answers Invalidate put in doubt: not served, and
	// decided again by the next Redecide.
	doubt map[authKey]bool
}

// authKey is one cached answer: an action ("join", "post") on a room name.
type authKey struct{ action, name string }

// authAnswer is one cached answer and the room it allowed.
type authAnswer struct {
	k authKey
	r messaging.Room
}

// cached returns the cached answer for k; a.mu is held.
func (a *connAuth) cached(k authKey) (messaging.Room, bool) {
	for _, e := range a.cache {
		if e.k == k {
			return e.r, true
		}
	}
	return messaging.Room{}, false
}

var actions = map[string]policy.Action{"join": policy.RoomJoin, "post": policy.RoomPost}

func (a *connAuth) Resolve(ctx context.Context, name, action string) (messaging.Room, error) {
	pa, ok := actions[action]
	if !ok {
		return messaging.Room{}, errors.New("unknown room action")
	}
	k := authKey{action, name}
	a.mu.Lock()
	r, ok := a.cached(k)
	gen := a.gen
	a.mu.Unlock()
	if ok {
		return r, nil
	}
	_, r, err := a.s.decide(ctx, *a.actor, a.caseID, name, pa)
	if err != nil {
		return messaging.Room{}, connErr(err)
	}
	a.remember(gen, map[authKey]messaging.Room{k: r}, nil)
	return r, nil
}

// connErr is the answer Resolve gives for a decision's error.
func connErr(err error) error {
	if errors.Is(err, messaging.ErrAccessLost) || errors.Is(err, messaging.ErrForbidden) {
		return err
	}
	// A name outside the grammar, or a case that is gone, is a refusal
	// too; anything else (the store failed a read) decided nothing, and
	// is not one: a re-check keeps the room and asks again later.
	var inv *fault.InvalidError
	if errors.As(err, &inv) || errors.Is(err, fault.ErrNotFound) {
		return fmt.Errorf("%w: %w", messaging.ErrForbidden, err)
	}
	return err
}

// remember caches answers decided from a read that began at gen, and
// takes the keys decided out of doubt, unless Invalidate was called since
// (then they stay in doubt, or are decided afresh).
func (a *connAuth) remember(gen uint64, allowed map[authKey]messaging.Room, decided map[authKey]bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen != gen {
		return
	}
	for k, r := range allowed {
		if i := slices.IndexFunc(a.cache, func(e authAnswer) bool { return e.k == k }); i >= 0 {
			a.cache[i].r = r
		} else {
			a.cache = append(a.cache, authAnswer{k, r})
		}
		delete(a.doubt, k)
	}
	for k := range decided {
		delete(a.doubt, k)
	}
}

// Invalidate puts every cached answer in doubt: none is served until
// decided again (by Resolve's own read or by Redecide).
func (a *connAuth) Invalidate() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	if a.doubt == nil && len(a.cache) > 0 {
		a.doubt = map[authKey]bool{}
	}
	for _, e := range a.cache {
		a.doubt[e.k] = true
	}
	a.cache = nil
}

// Redecide implements messaging.Redecider: one read of the case decides
// "join" for each subscribed room (refusals audited, as Resolve's are) and
// every answer in doubt (not audited: an answer now refused is dropped,
// and the person's next use of it decides, and audits, afresh).
func (a *connAuth) Redecide(ctx context.Context, names []string) []error {
	a.mu.Lock()
	gen := a.gen
	doubt := make([]authKey, 0, len(a.doubt))
	for k := range a.doubt {
		doubt = append(doubt, k)
	}
	a.mu.Unlock()
	errs := make([]error, len(names))
	if len(names) == 0 && len(doubt) == 0 {
		return errs
	}
	c, err := a.s.cases.Load(ctx, a.caseID)
	if err == nil {
		// Who is not confirmed yet (through its short cache): a failed
		// read of it decided nothing, as a failed read of the case.
		err = a.s.cases.Admission(ctx, c)
	}
	if err != nil {
		// Every answer is the read's: a case gone is the case lost (the
		// socket closes, its held frames unwritten, rather than dropping
		// its rooms one by one and writing what was held), a store
		// failure decided nothing (the doubt stays for the next check).
		if errors.Is(err, fault.ErrNotFound) {
			err = fmt.Errorf("%w: %w", messaging.ErrAccessLost, err)
		}
		for i := range names {
			errs[i] = connErr(err)
		}
		return errs
	}
	allowed := map[authKey]messaging.Room{}
	decided := map[authKey]bool{}
	for i, name := range names {
		k := authKey{"join", name}
		decided[k] = true
		if !api.ValidRoomName(name) {
			errs[i] = connErr(fault.Invalid("room", "not a room name"))
			continue
		}
		_, r, err := a.s.decideIn(ctx, *a.actor, c, name, policy.RoomJoin)
		if err != nil {
			errs[i] = connErr(err)
			continue
		}
		allowed[k] = r
	}
	for _, k := range doubt {
		if decided[k] {
			continue
		}
		decided[k] = true
		if !api.ValidRoomName(k.name) {
			continue
		}
		if r, _, err := a.s.judge(*a.actor, c, k.name, actions[k.action]); err == nil {
			allowed[k] = r
		}
	}
	a.remember(gen, allowed, decided)
	return errs
}
