package keydir

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// Carry is the stored record of a mediator's proposal to carry a caucus message to the joint
// room, and its author's consent. It names the message by position and
// ciphertext hash only: the server never sees what is carried.
type Carry struct {
	ID       string             `json:"id"`
	Case     string             `json:"case"`
	From     string             `json:"from"` // the caucus, e.g. "caucus:A"
	To       string             `json:"to"`   // "joint"
	Ref      messaging.Position `json:"ref"`  // the carried message in From
	Hash     string             `json:"hash"` // "sha256:<hex>" of its payload
	Author   string             `json:"author"`
	Proposer string             `json:"proposer"`
	Proposed time.Time          `json:"proposed"`
	// Set on consent: the author's device re-encrypted the message for To;
	// CarriedHash is the hash of that new payload.
	Consented   *time.Time `json:"consented,omitempty"`
	CarriedHash string     `json:"carriedHash,omitempty"`
	// Set when the author declines instead: a declined carry is never
	// consented afterwards, and a consented one is not declined.
	Declined *time.Time `json:"declined,omitempty"`
	// Unaudited is the carry's audit outbox, as a case's (cases.Case):
	// the event of a change written with it and not yet known to be in
	// the audit log. Never in the API view.
	Unaudited []cases.PendingEvent `json:"unaudited,omitempty"`
}

// CarryRequest is what a mediator's client sends to propose a carry.
type CarryRequest = api.CarryRequest

func carryKey(caseID, id string) string { return "keydir/carries/" + caseID + "/" + id }

func validHash(h string) bool {
	x, ok := strings.CutPrefix(h, "sha256:")
	if !ok || len(x) != 64 {
		return false
	}
	_, err := hex.DecodeString(x)
	return err == nil && strings.ToLower(x) == x
}

// ProposeCarry records a mediator's proposal. The message must exist at
// Ref in the caucus with exactly that payload hash; its author (as the
// room log records the sender) is the one whose consent is needed.
func (s *Service) ProposeCarry(ctx context.Context, actor account.Account, caseID string, req CarryRequest) (*Carry, error) {
	if err := validCase(caseID); err != nil {
		return nil, err
	}
	if !ids.Valid("cr", req.ID) {
		return nil, fault.Invalid("id", "a carry id (cr_…)")
	}
	if _, ok := e2ee.CaucusSide(req.From); !ok {
		return nil, fault.Invalid("from", "a caucus room (caucus:<side>)")
	}
	if req.To != caucus.JointName {
		return nil, fault.Invalid("to", "only the joint room")
	}
	if !validHash(req.Hash) {
		return nil, fault.Invalid("hash", "sha256:<64 lowercase hex digits>")
	}
	if req.Epoch < 1 || req.Offset < 1 {
		return nil, fault.Invalid("epoch", "a message position (epoch and offset from 1)")
	}
	c, err := s.cfg.Cases.Get(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	if c.Disposing != nil {
		return nil, fmt.Errorf("case %s: %w", caseID, cases.ErrDisposing)
	}
	if !s.cfg.Policy.Decide(actor.Principal(), policy.CaseUpdate, c.Facts()).Allowed {
		s.denied(ctx, actor, caseID, "carry.propose", req.ID)
		return nil, fmt.Errorf("only the case's mediators propose carries: %w", fault.ErrForbidden)
	}
	msgs, _, err := s.cfg.Caucus.History(ctx, actor, caseID, req.From, messaging.Position{Epoch: req.Epoch, Offset: req.Offset - 1}, 1)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 || msgs[0].Epoch != req.Epoch || msgs[0].Offset != req.Offset || msgs[0].From == "" {
		return nil, fmt.Errorf("no message at %d:%d in %s: %w", req.Epoch, req.Offset, req.From, fault.ErrNotFound)
	}
	if h := e2ee.PayloadHash(msgs[0].Body); fmt.Sprintf("sha256:%x", h) != req.Hash {
		return nil, fault.Invalid("hash", "does not match the message stored at that position")
	}
	cr := &Carry{ID: req.ID, Case: caseID, From: req.From, To: req.To, Ref: messaging.Position{Epoch: req.Epoch, Offset: req.Offset},
		Hash: req.Hash, Author: msgs[0].From, Proposer: actor.ID, Proposed: s.now().UTC()}
	// The proposal and its audit event are one write (the carry's outbox,
	// as a case's: cases/outbox.go); the event is appended after it.
	if err := s.queueEvent(cr, audit.Event{Type: "e2ee.carry.proposed", Actor: actor.ID, Case: caseID,
		Objects: []string{cr.ID, cr.Author}, Hashes: []string{cr.Hash},
		Attrs: map[string]string{"from": cr.From, "to": cr.To, "ref": posString(cr.Ref)}}); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Meta.Create(ctx, carryKey(caseID, req.ID), cr); err != nil {
		if errors.Is(err, metastore.ErrExists) {
			// A retry of a proposal whose audit append failed: its event
			// is appended now (best effort), the answer stays "exists".
			var old Carry
			if _, err := s.cfg.Meta.Get(ctx, carryKey(caseID, req.ID), &old); err == nil {
				s.flushCarry(ctx, &old)
			}
			return nil, fmt.Errorf("carry %s exists: %w", req.ID, fault.ErrConflict)
		}
		return nil, err
	}
	if _, err := s.flushCarry(ctx, cr); err != nil {
		// The proposal could not be audited: take it back, so that it
		// does not stand unaudited and the client can retry with the same
		// id. If even that fails, the append is tried once more (the
		// proposal then stands, audited); failing that too, its event stays
		// pending in the record, which nothing else may ever decide on (the
		// client retries with a new id): FlushCarries appends it, and
		// retention does not dispose of the case's carries before it has.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if derr := s.cfg.Meta.Delete(bctx, carryKey(caseID, req.ID)); derr != nil {
			if _, ferr := s.flushCarry(bctx, cr); ferr == nil {
				return cr.redacted(), nil
			}
			s.logger().WarnContext(ctx, "keydir: an unaudited carry proposal could not be taken back; its event stays pending until retention or a decision flushes it",
				"case", caseID, "carry", req.ID, "err", derr)
		}
		return nil, err
	}
	return cr.redacted(), nil
}

// denied audits a refusal (ids only). A failure to append is not the
// caller's problem: the refusal stands either way.
func (s *Service) denied(ctx context.Context, actor account.Account, caseID, action string, objects ...string) {
	s.cfg.Audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID, Objects: objects,
		Attrs: map[string]string{"action": action}})
}

// deniedBy records a refusal by one of the key directory's own rules
// (not a policy decision), naming the rule.
func (s *Service) deniedBy(ctx context.Context, actor account.Account, caseID, action, rule string) {
	s.cfg.Audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID,
		Attrs: map[string]string{"action": action, "rule": rule}})
}

func posString(p messaging.Position) string {
	return strconv.FormatInt(p.Epoch, 10) + ":" + strconv.FormatInt(p.Offset, 10)
}

// GetCarry is the server's record of one carry, for those who may see
// it: its author (whose device checks, before consenting, that the
// proposal it decrypted names what the mediator registered) and the case's
// mediators. Both are policy decisions: a mediator's is case.update, the
// author's the history of the caucus the carry is from (room.history, so
// an author who may no longer read that caucus may not read its carries
// either). Anyone else's request, and one for a carry that does not
// exist, get one answer, audited alike (as decideCarry), after the same
// decisions.
func (s *Service) GetCarry(ctx context.Context, actor account.Account, caseID, carryID string) (*Carry, error) {
	if err := validCase(caseID); err != nil {
		return nil, err
	}
	if !ids.Valid("cr", carryID) {
		return nil, fmt.Errorf("carry %q: %w", carryID, fault.ErrNotFound)
	}
	c, err := s.cfg.Cases.Get(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	// A mediator no seated mediator has confirmed reads no carry's record
	// (case.update: unconfirmed-mediators-read-the-roster-only), refused
	// before the carry is looked at, so the answer is the same for any id.
	if err := s.cfg.Cases.Admission(ctx, c); err != nil {
		return nil, err
	}
	facts := c.Facts()
	d := s.cfg.Policy.Decide(actor.Principal(), policy.CaseUpdate, facts)
	if slices.Contains(d.Policies, cases.RuleUnconfirmedRecord) {
		s.deniedBy(ctx, actor, caseID, "carry.read", cases.RuleUnconfirmedRecord)
		return nil, c.NotConfirmed("see what is carried from one room to another")
	}
	mediator := d.Allowed
	var cr Carry
	_, err = s.cfg.Meta.Get(ctx, carryKey(caseID, carryID), &cr)
	if err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return nil, err
	}
	author := err == nil && cr.Author == actor.ID && s.mayReadHistory(actor, facts, cr.From)
	if err != nil || !(mediator || author) {
		s.denied(ctx, actor, caseID, "carry.read", carryID)
		return nil, fmt.Errorf("carry %s: %w", carryID, fault.ErrNotFound)
	}
	return cr.redacted(), nil
}

// ConsentCarry records the author's consent, with the hash of the payload
// their device made for the joint room (the text the author approved,
// edited or not: the server never sees it). Only the author may consent,
// and only while policy still lets them post in the caucus the message came
// from. A second consent (the author's device had to encrypt the message
// again, the room having changed epoch) records the new hash and is
// audited too; a declined carry is not consented afterwards.
func (s *Service) ConsentCarry(ctx context.Context, actor account.Account, caseID, carryID, carriedHash string) (*Carry, error) {
	if !validHash(carriedHash) {
		return nil, fault.Invalid("hash", "sha256:<64 lowercase hex digits>")
	}
	return s.decideCarry(ctx, actor, caseID, carryID, "carry.consent", "e2ee.carry.consented", func(c *Carry, now time.Time) error {
		if c.Declined != nil {
			return fmt.Errorf("carry %s was declined: %w", carryID, fault.ErrConflict)
		}
		c.Consented, c.CarriedHash = &now, carriedHash
		return nil
	})
}

// DeclineCarry records that the author declines a proposal: nothing is
// carried, and the proposal cannot be consented afterwards. The same
// checks as consent apply (the author only, through policy), and it is
// audited as e2ee.carry.declined. Declining twice is harmless; declining a
// consented carry is a conflict (what was carried stays carried).
func (s *Service) DeclineCarry(ctx context.Context, actor account.Account, caseID, carryID string) (*Carry, error) {
	return s.decideCarry(ctx, actor, caseID, carryID, "carry.decline", "e2ee.carry.declined", func(c *Carry, now time.Time) error {
		if c.Consented != nil {
			return fmt.Errorf("carry %s was already carried with consent: %w", carryID, fault.ErrConflict)
		}
		if c.Declined == nil {
			c.Declined = &now
		}
		return nil
	})
}

// decideCarry is the author's decision on a carry: consent or decline.
// Another person's carry and a carry that does not exist get one answer,
// audited alike: "not yours" must not tell "not there". The author must
// still be allowed (policy room.post) in the caucus the message came from:
// someone removed from the case, or no longer on that side, decides nothing.
func (s *Service) decideCarry(ctx context.Context, actor account.Account, caseID, carryID, action, event string, apply func(*Carry, time.Time) error) (*Carry, error) {
	if err := validCase(caseID); err != nil {
		return nil, err
	}
	if !ids.Valid("cr", carryID) {
		return nil, fmt.Errorf("carry %q: %w", carryID, fault.ErrNotFound)
	}
	c, err := s.cfg.Cases.Get(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	// A case retention is disposing of takes no decision (its carries go
	// with it). This reads the fence before the write, so a decision may
	// still land just after it: retention appends what the carry records
	// it deletes hold (retention.auditListed), so its event is not lost.
	if c.Disposing != nil {
		return nil, fmt.Errorf("case %s: %w", caseID, cases.ErrDisposing)
	}
	var pre Carry
	_, err = s.cfg.Meta.Get(ctx, carryKey(caseID, carryID), &pre)
	if err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return nil, err
	}
	if err != nil || pre.Author != actor.ID || !s.mayPostIn(actor, c.Facts(), pre.From) {
		s.denied(ctx, actor, caseID, action, carryID)
		return nil, fmt.Errorf("carry %s: %w", carryID, fault.ErrNotFound)
	}
	// Earlier events of this carry first (the proposal's, say), so the log
	// keeps the carry's order; while they cannot be appended, no decision.
	if _, err := s.flushCarry(ctx, &pre); err != nil {
		return nil, fmt.Errorf("carry %s: earlier changes not yet in the audit log: %w", carryID, fault.ErrUnavailable)
	}
	now := s.now().UTC()
	cr, err := metastore.Update(ctx, s.cfg.Meta, carryKey(caseID, carryID), func(c *Carry) error {
		if err := apply(c, now); err != nil {
			return err
		}
		hashes := []string{c.Hash}
		if event == "e2ee.carry.consented" {
			hashes = append(hashes, c.CarriedHash)
		}
		return s.queueEvent(c, audit.Event{Type: event, Actor: actor.ID, Case: caseID,
			Objects: []string{c.ID}, Hashes: hashes,
			Attrs: map[string]string{"from": c.From, "to": c.To, "ref": posString(c.Ref)}, Time: now})
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.flushCarry(ctx, &cr); err != nil {
		return nil, err
	}
	return cr.redacted(), nil
}

// queueEvent adds ev to the carry's outbox (cases/outbox.go explains the
// pattern and its guarantee: an entry may appear twice after a crash,
// never be missing). An event the log would refuse is refused here.
func (s *Service) queueEvent(c *Carry, ev audit.Event) error {
	if ev.Time.IsZero() {
		ev.Time = s.now().UTC()
	}
	if _, err := ev.Encode(); err != nil {
		return err
	}
	c.Unaudited = append(c.Unaudited, cases.PendingEvent{Nonce: ids.Token(), Event: ev})
	return nil
}

// flushCarry appends the carry's pending audit events, oldest first,
// stopping at the first that fails, and removes those that landed from
// the stored record. It returns the append's error, if any (logged).
func (s *Service) flushCarry(ctx context.Context, cr *Carry) (*Carry, error) {
	if len(cr.Unaudited) == 0 {
		return cr, nil
	}
	landed := map[string]bool{}
	var appendErr error
	for _, p := range cr.Unaudited {
		// An index with an error: the entry is written, its checkpoint
		// not; it is in the log.
		if i, err := s.cfg.Audit.Append(ctx, p.Event); i < 0 {
			appendErr = err
			break
		}
		landed[p.Nonce] = true
	}
	if len(landed) > 0 {
		_, err := metastore.Update(ctx, s.cfg.Meta, carryKey(cr.Case, cr.ID), func(c *Carry) error {
			c.Unaudited = slices.DeleteFunc(c.Unaudited, func(p cases.PendingEvent) bool { return landed[p.Nonce] })
			return nil
		})
		if err != nil {
			s.logger().WarnContext(ctx, "keydir: carry audit events appended but not cleared; they will be appended again",
				"case", cr.Case, "carry", cr.ID, "appended", len(landed), "err", err)
		}
	}
	if appendErr != nil {
		s.logger().WarnContext(ctx, "keydir: carry audit events pending in the carry record (audit log unavailable)",
			"case", cr.Case, "carry", cr.ID, "pending", len(cr.Unaudited)-len(landed), "err", appendErr)
		return cr, appendErr
	}
	return cr, nil
}

func (s *Service) logger() *slog.Logger {
	if s.cfg.Log != nil {
		return s.cfg.Log
	}
	return slog.Default()
}

// redacted is the carry without its outbox.
func (c *Carry) redacted() *Carry {
	out := *c
	out.Unaudited = nil
	return &out
}

// mayPostIn asks policy whether actor may post in the caucus room.
func (s *Service) mayPostIn(actor account.Account, c *policy.Case, room string) bool {
	side, ok := e2ee.CaucusSide(room)
	if !ok {
		return false
	}
	return s.cfg.Policy.DecideRoom(actor.Principal(), policy.RoomPost, policy.Room{Case: c, Kind: policy.RoomCaucus, Side: side}).Allowed
}

// mayReadHistory reports whether policy lets actor read the history of
// the caucus room names.
func (s *Service) mayReadHistory(actor account.Account, c *policy.Case, room string) bool {
	side, ok := e2ee.CaucusSide(room)
	if !ok {
		return false
	}
	return s.cfg.Policy.DecideRoom(actor.Principal(), policy.RoomHistory, policy.Room{Case: c, Kind: policy.RoomCaucus, Side: side}).Allowed
}

// View is the carry as the API shows it.
func (c *Carry) View() api.Carry {
	return api.Carry{ID: c.ID, Case: c.Case, From: c.From, To: c.To, Ref: c.Ref, Hash: c.Hash, Author: c.Author,
		Proposer: c.Proposer, Proposed: c.Proposed, Consented: c.Consented, CarriedHash: c.CarriedHash, Declined: c.Declined}
}

// FlushCarries appends the pending audit events of every carry of a case
// (flushCarry, oldest first in each) and reports how many carries still
// hold pending events afterwards. Retention calls it before disposing of
// a case's carries: a carry's events are otherwise flushed only by the
// next decision on it, which may never come, and disposing of the record
// would lose them.
func (s *Service) FlushCarries(ctx context.Context, caseID string) (pending int, err error) {
	if err := validCase(caseID); err != nil {
		return 0, err
	}
	var first error
	err = s.cfg.Meta.List(ctx, "keydir/carries/"+caseID+"/", func(key string) error {
		var cr Carry
		if _, err := s.cfg.Meta.Get(ctx, key, &cr); errors.Is(err, metastore.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if len(cr.Unaudited) == 0 {
			return nil
		}
		if _, err := s.flushCarry(ctx, &cr); err != nil {
			pending++
			if first == nil {
				first = err
			}
		}
		return nil
	})
	if err != nil {
		return pending, err
	}
	return pending, first
}
