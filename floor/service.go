package floor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// Limits on how often one person changes room controls.
const (
	// RaiseLimit: raises (or re-raises) per person per RaiseWindow.
	RaiseLimit  = 10
	RaiseWindow = time.Minute
	// ChangeLimit: other changes (timers, floor, lowering) per person per
	// ChangeWindow.
	ChangeLimit  = 60
	ChangeWindow = time.Minute
	// MaxHands bounds the raised hands of one case.
	MaxHands = 500
)

// record is a case's room controls, as stored.
type record struct {
	Version int64                    `json:"version"`
	Timers  map[string]api.RoomTimer `json:"timers,omitempty"`
	Turns   []api.FloorTurn          `json:"turns,omitempty"`
	Hands   []api.Hand               `json:"hands,omitempty"`
	// Ops are the audit entries' pairing ids (audit.OpAttr) of the
	// newest changes written, the newest last (at most maxOps): a
	// change whose write answered with an error reads the record back
	// and finds its own id here if the write landed all the same
	// (change, audit.Settle). Random ids: they say nothing of what
	// changed, and no view carries them.
	Ops []string `json:"ops,omitempty"`
}

// maxOps bounds record.Ops: a read-back follows its write within
// seconds, long before 32 later changes of one case.
const maxOps = 32

func key(caseID string) string { return "cases/" + caseID + "/floor" }

// Config wires a Service.
type Config struct {
	Meta    *metastore.Store
	Cases   *cases.Service
	Policy  *policy.Engine
	Audit   *audit.Log
	Broker  messaging.Broker
	Limiter ratelimit.Limiter
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service runs room controls.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limiter == nil {
		cfg.Limiter = ratelimit.NewMemory()
	}
	return &Service{cfg: cfg}
}

// announcement is the payload on the case topic: it says that the
// controls changed, their version, and the room whose controls changed.
// It stays inside the server (and Redis): each open connection of the
// case reads its own person's view on it only if that person may join
// the room (web's floor frames), so a change in A's caucus makes B's
// socket read nothing, and send nothing, at the moment of A's action.
type announcement struct {
	Floor int64  `json:"floor"`
	Room  string `json:"room,omitempty"`
}

// IsAnnouncement reports whether a case-topic payload is a floor change
// (rather than a membership change, which makes connections re-check
// their rooms).
func IsAnnouncement(data []byte) bool {
	if !bytes.HasPrefix(data, []byte(`{"floor":`)) {
		return false
	}
	var a announcement
	return json.Unmarshal(data, &a) == nil
}

// AnnouncedRoom returns the room a floor announcement names, and whether
// data is a floor announcement at all. The room is "" for an
// announcement that names none (from a node before rooms were named):
// it may concern anyone's view.
func AnnouncedRoom(data []byte) (room string, ok bool) {
	if !bytes.HasPrefix(data, []byte(`{"floor":`)) {
		return "", false
	}
	var a announcement
	if json.Unmarshal(data, &a) != nil {
		return "", false
	}
	return a.Room, true
}

func (s *Service) ms() int64 { return s.cfg.Now().UnixMilli() }

// load reads the record (empty when none yet).
func (s *Service) load(ctx context.Context, caseID string) (record, error) {
	var r record
	_, err := s.cfg.Meta.Get(ctx, key(caseID), &r)
	if errors.Is(err, metastore.ErrNotFound) {
		return record{}, nil
	}
	return r, err
}

// update changes the record (created on first use, with the change in
// it: a change that changes nothing, or fails, creates nothing) and bumps
// its version. The caller checked the disposal fence (decide); it is
// checked again once the change is visible, as an upload does
// (cases.RefuseAdditions): retention fences first and lists the case
// after, so either its listing finds the record or this look finds the
// fence, and every stored version of the record is deleted and the
// change refused. The record holds only live session state (running
// timers, the floor's turns, raised hands), nothing a kept case needs:
// should the fence be lifted afterwards, the room's mediator sets them
// again. A look that fails leaves the change stored, and it is returned
// as made (the caller audited it first, and announces it), logged; the
// next disposal's listing finds it.
func (s *Service) update(ctx context.Context, caseID string, change func(*record) error) (record, error) {
	for range 2 {
		r, err := metastore.Update(ctx, s.cfg.Meta, key(caseID), func(r *record) error {
			if err := change(r); err != nil {
				return err
			}
			r.Version++
			return nil
		})
		if err == nil {
			return r, s.refusedSince(ctx, caseID)
		}
		if !errors.Is(err, metastore.ErrNotFound) {
			return r, err
		}
		var n record
		if err := change(&n); err != nil {
			return record{}, err
		}
		n.Version++
		_, err = s.cfg.Meta.Create(ctx, key(caseID), &n)
		if err == nil {
			return n, s.refusedSince(ctx, caseID)
		}
		if !errors.Is(err, metastore.ErrExists) && !errors.Is(err, metastore.ErrConflict) {
			return record{}, err
		}
	}
	return record{}, fmt.Errorf("room controls of case %s: %w", caseID, fault.ErrUnavailable)
}

// refusedSince looks at case caseID again once a change of its room
// controls is visible: fenced for disposal, or gone, it deletes every
// stored version of them and returns cases.ErrNothingAdded (410). A look
// that fails is logged and the change left (nil: it is stored, audited
// already, and the caller announces it).
func (s *Service) refusedSince(ctx context.Context, caseID string) error {
	seen, err := s.cfg.Cases.CheckFence(ctx, caseID, cases.FenceSeen{})
	if err != nil {
		slog.Default().WarnContext(ctx, "floor: room controls changed but their case could not be looked at again",
			"case", caseID, "error", err.Error())
		return nil
	}
	if !seen.Fenced {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	obj := s.cfg.Meta.Objects()
	vs, err := obj.Versions(ctx, key(caseID))
	if errors.Is(err, objstore.ErrNotFound) {
		return cases.ErrNothingAdded
	}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, v := range vs {
		if err := obj.Delete(ctx, key(caseID), v.VersionID); err != nil && !errors.Is(err, objstore.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		slog.Default().ErrorContext(ctx, "floor: room controls written to a case being disposed of could not be taken back",
			"case", caseID, "error", err.Error())
		return errors.Join(cases.ErrNothingAdded, err)
	}
	return cases.ErrNothingAdded
}

// scope is one request's case and room, decided.
type scope struct {
	c    *cases.Case
	room policy.Room
}

// decide loads the case and checks that actor may read it, is in room
// name (room.join) and may do a there. A room that is not the actor's and
// a room that does not exist get one answer (not found); a room they are
// in but may not do a in is forbidden. A case the actor has no place in
// and a case that does not exist get one answer too, audited alike
// (cases.LoadFor). Refusals are audited; a name outside the room-name
// grammar (api.ValidRoomName) is invalid (400) and not audited.
func (s *Service) decide(ctx context.Context, actor account.Account, caseID, name string, a policy.Action) (scope, error) {
	// The name comes from the path and is audited on a refusal: check it
	// against the grammar first, so the log holds only room names (never
	// a sentence someone typed into the path) and nobody grows it at will.
	if !api.ValidRoomName(name) {
		return scope{}, fault.Invalid("room", "not a room name")
	}
	c, err := s.cfg.Cases.LoadFor(ctx, actor, caseID, a)
	if err != nil {
		return scope{}, err
	}
	if err := s.cfg.Cases.Admission(ctx, c); err != nil {
		return scope{}, err
	}
	u := actor.Principal()
	deny := func(err error) (scope, error) {
		s.cfg.Audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID,
			Attrs: map[string]string{"action": string(a), "room": name}})
		return scope{}, err
	}
	if !s.cfg.Policy.Decide(u, policy.CaseRead, c.Facts()).Allowed {
		return deny(fmt.Errorf("case %s: %w", caseID, fault.ErrNotFound))
	}
	// A mediator no seated mediator has confirmed is in no room of the
	// case (unconfirmed-mediators-in-no-room), so controls none: asked
	// about a room of the case with no one in it, before the room named
	// is looked at, so the answer is the same for any room, one that does
	// not exist included. Audited naming the rule, in words saying what
	// they wait for.
	if d := s.cfg.Policy.DecideRoom(u, a, policy.Room{Case: c.Facts(), Kind: policy.RoomDefined}); slices.Contains(d.Policies, cases.RuleUnconfirmedRooms) {
		s.cfg.Audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID,
			Attrs: map[string]string{"action": string(a), "rule": cases.RuleUnconfirmedRooms}})
		return scope{}, c.NotConfirmed("use the rooms' timers, turns and raised hands")
	}
	pr, err := caucus.PolicyRoom(c, name)
	if err != nil || !s.cfg.Policy.DecideRoom(u, policy.RoomJoin, pr).Allowed {
		return deny(fmt.Errorf("room: %w", fault.ErrNotFound))
	}
	if !s.cfg.Policy.DecideRoom(u, a, pr).Allowed {
		return deny(fmt.Errorf("%s: %w", refusals[a], fault.ErrForbidden))
	}
	// A case retention is disposing of takes no change (410): one stalled
	// across the deletion would store room controls no plan reaches.
	if err := cases.RefuseAdditions(c); err != nil {
		return scope{}, err
	}
	return scope{c: c, room: pr}, nil
}

// refusals say in plain words why a member of a room was refused.
var refusals = map[policy.Action]string{
	policy.RoomControl:   "only the mediators of this case can do this",
	policy.RoomRaiseHand: "only the parties and their lawyers ask for the mediator",
	policy.RoomJoin:      "you are not in this room",
}

func (s *Service) limit(ctx context.Context, what, actorID string, n int, per time.Duration) error {
	ok, after, err := s.cfg.Limiter.Allow(ctx, "floor:"+what+":"+actorID, n, per)
	if err != nil {
		return nil // a limiter outage does not stop a session
	}
	if !ok {
		return &fault.RateLimitedError{RetryAfter: after}
	}
	return nil
}

// errMoved: between the plan of a change and its write, the record
// changed so that the change would now be another one than the audit
// entry appended says (a hand raised meanwhile, a turn taken back).
var errMoved = errors.New("room controls changed meanwhile")

// errLanded: the record holds the change's pairing id already, its write
// landed although it answered an error; it is not written again, and
// change returns it as made.
var errLanded = errors.New("room controls change made already")

// changeTries bounds the plans of one change whose record keeps moving.
const changeTries = 3

// change makes one change typ of case caseID's room controls in room,
// audited first (docs/security.md, "What the audit log is guaranteed to
// hold"), as schedule and keydir do: plan is applied to the record as
// read, and the entry it describes is appended (audit.Paired) before
// anything is written, so a change the log does not take is not made
// (503, try again: the retry makes the change, audited) and no change
// is ever stored without its entry — before, the change was written
// first and a failed append left it stored, unaudited and unannounced,
// and a retry found it made and neither audited nor announced it
// (review 364 LOW-2). The write applies plan again to the record as it
// then is: if that is another change than the entry says (errMoved), or
// no change at all (plan's error), nothing is written and the entry is
// followed by typ+".failed" (audit.Settle); a moved change is planned
// again, up to changeTries times. A write that fails is settled by
// reading the record back (its pairing id in record.Ops: the write
// landed, the entry stands). A write that landed but answered an error
// (on S3 a conditional PUT whose answer was lost, retried by the client
// and refused 412) is read again by metastore.Update: the record holding
// the entry's pairing id already, it is a change made (errLanded), not
// planned again — before, the re-plan saw another change (an extension
// from the new end), logged the entry failed and made it a second time
// (review 373). A change made is announced (announce).
//
// plan changes r and returns the entry's attributes (a fresh map; the
// room is added); it runs more than once and must give the same answer
// for the same record. An error from it (errUnchanged, a conflict) is
// returned with nothing audited or written.
func (s *Service) change(ctx context.Context, actor account.Account, caseID, typ, room string, plan func(*record) (map[string]string, error)) error {
	for range changeTries {
		r, err := s.load(ctx, caseID)
		if err != nil {
			return err
		}
		attrs, err := plan(&r)
		if err != nil {
			return err
		}
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs["room"] = room
		ev := audit.Paired(audit.Event{Type: typ, Actor: actor.ID, Case: caseID, Attrs: attrs, Time: s.cfg.Now().UTC()})
		if i, err := s.cfg.Audit.Append(ctx, ev); i < 0 {
			// An index with an error is an entry written whose
			// checkpoint was not: it is in the log, the change goes on.
			if err == nil {
				err = errors.New("not appended")
			}
			return fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
		}
		op := ev.Attrs[audit.OpAttr]
		var refused error // plan's answer on the record written: nothing written
		var version int64 // the record's, when it holds op already
		r, err = s.update(ctx, caseID, func(r *record) error {
			refused = nil
			if slices.Contains(r.Ops, op) {
				// A write that landed but answered an error (a
				// retried conditional PUT whose first attempt landed:
				// 412), read again: the change is made.
				version = r.Version
				return errLanded
			}
			got, err := plan(r)
			if err == nil {
				if got == nil {
					got = map[string]string{}
				}
				got["room"] = room
				if !maps.Equal(got, attrs) {
					err = errMoved
				}
			}
			if err != nil {
				refused = err
				return err
			}
			r.Ops = append(r.Ops, op)
			if n := len(r.Ops) - maxOps; n > 0 {
				r.Ops = slices.Delete(r.Ops, 0, n)
			}
			return nil
		})
		if errors.Is(err, errLanded) {
			r.Version, err = version, s.refusedSince(ctx, caseID)
		}
		switch {
		case err == nil:
			s.announce(ctx, caseID, room, r.Version)
			return nil
		case refused != nil && errors.Is(err, refused):
			// Known not written: the entry is followed by its ".failed".
			s.settle(ctx, ev, err, nil)
			if errors.Is(refused, errMoved) {
				continue
			}
			return err
		default:
			s.settle(ctx, ev, err, func(ctx context.Context) (bool, error) {
				r, err := s.load(ctx, caseID)
				return slices.Contains(r.Ops, op), err
			})
			return err
		}
	}
	return fmt.Errorf("room controls of case %s changed meanwhile, again and again: %w", caseID, fault.ErrUnavailable)
}

// settle follows ev once its change failed with cause (audit.Settle);
// landed reads the record back (nil: known not written).
func (s *Service) settle(ctx context.Context, ev audit.Event, cause error, landed func(context.Context) (bool, error)) {
	record := func(ctx context.Context, e audit.Event) error {
		e.Time = s.cfg.Now().UTC()
		if i, err := s.cfg.Audit.Append(ctx, e); i < 0 {
			if err == nil {
				err = errors.New("not appended")
			}
			return err
		}
		return nil
	}
	audit.Settle(ctx, record, slog.Default(), "floor", ev, ev.Type, fault.Class(cause), landed)
}

// announce tells the case's open connections that room's controls
// changed (version: the record's). The change is durable and audited
// already, so a failed announcement (the broker is at most once) only
// delays what open pages show until their next change in a room of
// theirs, their own fallback check or a reload.
func (s *Service) announce(ctx context.Context, caseID, room string, version int64) {
	b, _ := json.Marshal(announcement{Floor: version, Room: room})
	if s.cfg.Broker != nil {
		s.cfg.Broker.Publish(context.WithoutCancel(ctx), caucus.CaseTopic(caseID), b)
	}
}

// SetTimer sets, moves or extends the timer of a room.
func (s *Service) SetTimer(ctx context.Context, actor account.Account, caseID, room string, req api.TimerRequest) (api.RoomTimer, error) {
	given := 0
	for _, set := range []bool{req.Minutes != 0, req.EndsAt != 0, req.Extend != 0} {
		if set {
			given++
		}
	}
	if given != 1 {
		return api.RoomTimer{}, fault.Invalid("minutes", "give exactly one of minutes, endsAt or extend")
	}
	now := s.ms()
	maxMs := int64(api.MaxTimerMinutes) * 60_000
	switch {
	case req.Minutes != 0 && (req.Minutes < 1 || req.Minutes > api.MaxTimerMinutes):
		return api.RoomTimer{}, fault.Invalid("minutes", fmt.Sprintf("from 1 to %d", api.MaxTimerMinutes))
	case req.Extend != 0 && (req.Extend < 1 || req.Extend > api.MaxTimerMinutes):
		return api.RoomTimer{}, fault.Invalid("extend", fmt.Sprintf("from 1 to %d minutes", api.MaxTimerMinutes))
	case req.EndsAt != 0 && (req.EndsAt <= now || req.EndsAt > now+maxMs):
		return api.RoomTimer{}, fault.Invalid("endsAt", fmt.Sprintf("a time in the next %d hours", api.MaxTimerMinutes/60))
	}
	if _, err := s.decide(ctx, actor, caseID, room, policy.RoomControl); err != nil {
		return api.RoomTimer{}, err
	}
	if err := s.limit(ctx, "change", actor.ID, ChangeLimit, ChangeWindow); err != nil {
		return api.RoomTimer{}, err
	}
	var t api.RoomTimer
	err := s.change(ctx, actor, caseID, "room.timer.set", room, func(r *record) (map[string]string, error) {
		if r.Timers == nil {
			r.Timers = map[string]api.RoomTimer{}
		}
		t = api.RoomTimer{Room: room, SetBy: actor.ID, SetAt: now}
		switch {
		case req.Minutes != 0:
			t.EndsAt = now + int64(req.Minutes)*60_000
		case req.EndsAt != 0:
			t.EndsAt = req.EndsAt
		default:
			old, ok := r.Timers[room]
			if !ok {
				return nil, fmt.Errorf("this room has no timer to extend: %w", fault.ErrConflict)
			}
			// An extension of a timer that ran out counts from now.
			t.EndsAt = max(old.EndsAt, now) + int64(req.Extend)*60_000
			if t.EndsAt > now+maxMs {
				return nil, fault.Invalid("extend", fmt.Sprintf("a timer ends at most %d hours from now", api.MaxTimerMinutes/60))
			}
		}
		r.Timers[room] = t
		return map[string]string{"endsAt": strconv.FormatInt(t.EndsAt, 10)}, nil
	})
	if err != nil {
		return api.RoomTimer{}, err
	}
	return t, nil
}

// ClearTimer removes a room's timer.
func (s *Service) ClearTimer(ctx context.Context, actor account.Account, caseID, room string) error {
	if _, err := s.decide(ctx, actor, caseID, room, policy.RoomControl); err != nil {
		return err
	}
	if err := s.limit(ctx, "change", actor.ID, ChangeLimit, ChangeWindow); err != nil {
		return err
	}
	return s.change(ctx, actor, caseID, "room.timer.cleared", room, func(r *record) (map[string]string, error) {
		if _, ok := r.Timers[room]; !ok {
			return nil, fmt.Errorf("this room has no timer: %w", fault.ErrConflict)
		}
		delete(r.Timers, room)
		return nil, nil
	})
}

// current returns the index of the turn running in room at now, or -1.
func current(turns []api.FloorTurn, room string, now int64) int {
	for i := len(turns) - 1; i >= 0; i-- {
		t := turns[i]
		if t.Room == room {
			if t.Ended == 0 && t.From <= now && now < t.Until {
				return i
			}
			return -1
		}
	}
	return -1
}

// GiveFloor gives the floor of a room to one side for a while; a turn
// running there ends now.
func (s *Service) GiveFloor(ctx context.Context, actor account.Account, caseID, room string, req api.FloorRequest) (api.FloorTurn, error) {
	if req.Minutes < 1 || req.Minutes > api.MaxFloorMinutes {
		return api.FloorTurn{}, fault.Invalid("minutes", fmt.Sprintf("from 1 to %d", api.MaxFloorMinutes))
	}
	sc, err := s.decide(ctx, actor, caseID, room, policy.RoomControl)
	if err != nil {
		return api.FloorTurn{}, err
	}
	if !sc.c.HasSide(req.Side) {
		return api.FloorTurn{}, fault.Invalid("side", "not a side of this case")
	}
	if err := s.limit(ctx, "change", actor.ID, ChangeLimit, ChangeWindow); err != nil {
		return api.FloorTurn{}, err
	}
	now := s.ms()
	turn := api.FloorTurn{Room: room, Side: req.Side, From: now, Until: now + int64(req.Minutes)*60_000, GivenBy: actor.ID}
	err = s.change(ctx, actor, caseID, "room.floor.given", room, func(r *record) (map[string]string, error) {
		if i := current(r.Turns, room, now); i >= 0 {
			r.Turns[i].Ended = now
		}
		r.Turns = append(r.Turns, turn)
		r.Turns = trimTurns(r.Turns, room)
		return map[string]string{"side": req.Side, "until": strconv.FormatInt(turn.Until, 10)}, nil
	})
	if err != nil {
		return api.FloorTurn{}, err
	}
	return turn, nil
}

// trimTurns keeps the newest api.MaxFloorTurns turns of room.
func trimTurns(turns []api.FloorTurn, room string) []api.FloorTurn {
	n := 0
	for _, t := range turns {
		if t.Room == room {
			n++
		}
	}
	if n <= api.MaxFloorTurns {
		return turns
	}
	drop := n - api.MaxFloorTurns
	return slices.DeleteFunc(turns, func(t api.FloorTurn) bool {
		if t.Room == room && drop > 0 {
			drop--
			return true
		}
		return false
	})
}

// TakeFloor ends the turn running in a room: the mediator has the floor.
func (s *Service) TakeFloor(ctx context.Context, actor account.Account, caseID, room string) error {
	if _, err := s.decide(ctx, actor, caseID, room, policy.RoomControl); err != nil {
		return err
	}
	if err := s.limit(ctx, "change", actor.ID, ChangeLimit, ChangeWindow); err != nil {
		return err
	}
	now := s.ms()
	return s.change(ctx, actor, caseID, "room.floor.taken", room, func(r *record) (map[string]string, error) {
		i := current(r.Turns, room, now)
		if i < 0 {
			return nil, fmt.Errorf("no side has the floor in this room: %w", fault.ErrConflict)
		}
		r.Turns[i].Ended = now
		return map[string]string{"side": r.Turns[i].Side}, nil
	})
}

// RaiseHand asks for the mediator from a room the actor is in. Raising a
// hand already raised keeps its time.
func (s *Service) RaiseHand(ctx context.Context, actor account.Account, caseID, room string) (api.Hand, error) {
	if _, err := s.decide(ctx, actor, caseID, room, policy.RoomRaiseHand); err != nil {
		return api.Hand{}, err
	}
	if err := s.limit(ctx, "raise", actor.ID, RaiseLimit, RaiseWindow); err != nil {
		return api.Hand{}, err
	}
	now := s.ms()
	var h api.Hand
	var raised *record // the record that has the hand raised already
	err := s.change(ctx, actor, caseID, "room.hand.raised", room, func(r *record) (map[string]string, error) {
		if i := slices.IndexFunc(r.Hands, func(o api.Hand) bool { return o.Account == actor.ID && o.Room == room }); i >= 0 {
			h, raised = r.Hands[i], r
			return nil, errUnchanged
		}
		if len(r.Hands) >= MaxHands {
			return nil, fmt.Errorf("too many raised hands in this case (%d); the mediator must lower some: %w", MaxHands, fault.ErrConflict)
		}
		h, raised = api.Hand{Account: actor.ID, Room: room, Since: now}, nil
		r.Hands = append(r.Hands, h)
		return nil, nil
	})
	if errors.Is(err, errUnchanged) {
		// Raised already (and audited when it was): announced again,
		// in case the first announcement was lost (the broker is at
		// most once) and the mediator's page does not show it — a
		// person asks again when nobody answers.
		s.announce(ctx, caseID, room, raised.Version)
		return h, nil
	}
	if err != nil {
		return api.Hand{}, err
	}
	return h, nil
}

// LowerHand lowers who's hand in a room: their own (any member), or
// anyone's (the mediators, room.control). Lowering a hand that is not
// raised does nothing.
func (s *Service) LowerHand(ctx context.Context, actor account.Account, caseID, room, who string) error {
	if who == "" {
		who = actor.ID
	}
	a := policy.RoomControl
	if who == actor.ID {
		a = policy.RoomJoin
	}
	if _, err := s.decide(ctx, actor, caseID, room, a); err != nil {
		return err
	}
	if err := s.limit(ctx, "change", actor.ID, ChangeLimit, ChangeWindow); err != nil {
		return err
	}
	err := s.change(ctx, actor, caseID, "room.hand.lowered", room, func(r *record) (map[string]string, error) {
		n := len(r.Hands)
		r.Hands = slices.DeleteFunc(r.Hands, func(h api.Hand) bool { return h.Account == who && h.Room == room })
		if len(r.Hands) == n {
			return nil, errUnchanged
		}
		return map[string]string{"account": who}, nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// errUnchanged aborts an update that would change nothing.
var errUnchanged = errors.New("unchanged")

// View returns what actor sees of the case's room controls: the timers
// and turns of the rooms they are in; every hand (of people still in
// their room) for the case's mediators, their own hands for anyone else.
func (s *Service) View(ctx context.Context, actor account.Account, caseID string) (api.FloorView, error) {
	v, _, err := s.view(ctx, actor, caseID, true)
	return v, err
}

// Pushed is View for an open connection's "floor" frame: a refusal is not
// audited (the connection is being closed for lost access at that moment).
// It returns too the rooms actor may join (room.join), decided with the
// view from the same read: the only rooms whose changes can change this
// view until the case's membership or rooms change (announced apart), so
// the connection reads nothing on a change announced in another room.
func (s *Service) Pushed(ctx context.Context, actor account.Account, caseID string) (api.FloorView, []string, error) {
	return s.view(ctx, actor, caseID, false)
}

func (s *Service) view(ctx context.Context, actor account.Account, caseID string, auditRefusal bool) (api.FloorView, []string, error) {
	// An outsider and a case that does not exist: one answer, audited
	// alike (cases.LoadFor).
	load := func() (*cases.Case, error) { return s.cfg.Cases.Load(ctx, caseID) }
	if auditRefusal {
		load = func() (*cases.Case, error) { return s.cfg.Cases.LoadFor(ctx, actor, caseID, policy.CaseRead) }
	}
	c, err := load()
	if err != nil {
		return api.FloorView{}, nil, err
	}
	if err := s.cfg.Cases.Admission(ctx, c); err != nil {
		return api.FloorView{}, nil, err
	}
	u := actor.Principal()
	facts := c.Facts()
	if !s.cfg.Policy.Decide(u, policy.CaseRead, facts).Allowed {
		if !auditRefusal {
			return api.FloorView{}, nil, fmt.Errorf("case %s: %w", caseID, fault.ErrNotFound)
		}
		s.cfg.Audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID,
			Attrs: map[string]string{"action": string(policy.CaseRead), "what": "floor"}})
		return api.FloorView{}, nil, fmt.Errorf("case %s: %w", caseID, fault.ErrNotFound)
	}
	// A mediator no seated mediator has confirmed sees no hand, timer or
	// turn (unconfirmed-mediators-see-no-hands; they are in no room).
	hands := s.cfg.Policy.Decide(u, policy.HandsRead, facts)
	if slices.Contains(hands.Policies, cases.RuleUnconfirmedHands) {
		if auditRefusal {
			s.cfg.Audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID,
				Attrs: map[string]string{"action": string(policy.HandsRead), "rule": cases.RuleUnconfirmedHands}})
		}
		return api.FloorView{}, nil, c.NotConfirmed("use the rooms' timers, turns and raised hands")
	}
	r, err := s.load(ctx, caseID)
	if err != nil {
		return api.FloorView{}, nil, err
	}
	v := api.FloorView{Case: caseID, Now: s.ms(), Timers: []api.RoomTimer{}, Turns: []api.FloorTurn{}, Hands: []api.Hand{},
		Mediator: hands.Allowed}
	rooms := map[string]policy.Room{}
	for _, name := range caucus.RoomNames(c) {
		if pr, err := caucus.PolicyRoom(c, name); err == nil {
			rooms[name] = pr
		}
	}
	in := func(who policy.User, room string) bool {
		pr, ok := rooms[room]
		return ok && s.cfg.Policy.DecideRoom(who, policy.RoomJoin, pr).Allowed
	}
	// The actor's own answers are asked for room by room several times
	// (timers, turns, hands, joins): each is decided once a view. Every
	// socket of the case reads its view at each floor change, and a
	// Cedar decision allocates as well as takes time.
	mine := make(map[string]bool, len(rooms))
	inMine := func(room string) bool {
		ok, seen := mine[room]
		if !seen {
			ok = in(u, room)
			mine[room] = ok
		}
		return ok
	}
	for _, name := range caucus.RoomNames(c) {
		if t, ok := r.Timers[name]; ok && inMine(name) {
			v.Timers = append(v.Timers, t)
		}
	}
	for _, t := range r.Turns {
		if inMine(t.Room) {
			v.Turns = append(v.Turns, t)
		}
	}
	for _, h := range r.Hands {
		// A mediator sees the hands of the rooms they may join: a room
		// another mediator opened without them stays unseen, hands
		// included.
		if h.Account != actor.ID && (!v.Mediator || !inMine(h.Room)) {
			continue
		}
		// A hand stays only while its owner is still in the room.
		if in(policy.User{ID: h.Account, Role: policy.RoleParticipant}, h.Room) {
			v.Hands = append(v.Hands, h)
		}
	}
	var joins []string
	for _, name := range caucus.RoomNames(c) {
		if inMine(name) {
			joins = append(joins, name)
		}
	}
	return v, joins, nil
}
