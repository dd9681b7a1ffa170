package keydir

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// Endorsements authorise an account's devices after its first (see
// e2ee.Endorsement): a link signed by another device of the account, or a
// mediator's admission for one case. The server checks and logs them;
// clients check them again and count no device without one.

func endorsementKey(account, device, by string) string {
	return "keydir/endorsements/" + account + "/" + device + "/" + by
}

// checkEndorsement decodes and checks an endorsement posted by actor (its
// signer's account). caseID is "" for a link, or the case of an admission
// (the caller checked actor is a mediator of it).
func (s *Service) checkEndorsement(ctx context.Context, actor account.Account, record []byte, caseID string) (*e2ee.Endorsement, error) {
	e, err := e2ee.DecodeEndorsement(record)
	if err != nil {
		return nil, fault.Invalid("record", err.Error())
	}
	if e.By != actor.ID || e.Case != caseID {
		return nil, fault.Invalid("record", "an endorsement must be signed by your own device, for this case")
	}
	by, err := s.activeDevice(ctx, actor.ID, e.ByDev)
	if err != nil {
		return nil, err
	}
	st, err := s.read0(ctx, deviceKey(e.Account, e.Device))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("device %s is not registered: %w", e.Device, fault.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	rec, err := e2ee.DecodeDeviceRecord(st.Record)
	if err != nil {
		return nil, err
	}
	if err := e.Verify(rec, by); err != nil {
		return nil, fault.Invalid("record", err.Error())
	}
	return e, nil
}

// storeEndorsement stores and logs an endorsement checkEndorsement
// passed: an admission (caseID set) as a record of its case. Another
// endorsement stored at its key (a retry signed again, so other bytes) is
// a conflict (endorse answers it).
func (s *Service) storeEndorsement(ctx context.Context, e *e2ee.Endorsement, record []byte, caseID string) (*stored, error) {
	key := endorsementKey(e.Account, e.Device, e.ByDev)
	if caseID != "" {
		// An admission belongs to its case: none is added to a case
		// retention is disposing of.
		return s.storeInCase(ctx, caseID, key, EventEndorse, record)
	}
	return s.storeLogged(ctx, key, EventEndorse, record)
}

// sameEndorsement reads the endorsement stored at e's key: it is returned
// (logged) if it endorses the same device of the same account, in the
// same case, by the same device as e (a repeat of a change made: a
// mediator's Admit clicked again after a lost answer, a link retried,
// each signed again with a new time), nil if the key holds nothing or
// another endorsement.
func (s *Service) sameEndorsement(ctx context.Context, e *e2ee.Endorsement) (*stored, error) {
	key := endorsementKey(e.Account, e.Device, e.ByDev)
	st, err := s.read0(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	old, err := e2ee.DecodeEndorsement(st.Record)
	if err != nil {
		return nil, err
	}
	if old.Account != e.Account || old.Device != e.Device || old.Case != e.Case || old.By != e.By || old.ByDev != e.ByDev {
		return nil, nil
	}
	return s.ensureLogged(ctx, key)
}

// endorse checks an endorsement, audits ev (made of it) first and only
// then stores it (auditFirst): an endorsement makes a device count, for
// its account (a link) or in a case (an admission), so it reads what is
// sealed to the account's devices from then on. A repeat of an
// endorsement stored before (the same device, case and signer, signed
// again) is answered with the stored one and audits nothing: its entry
// would name a record stored nowhere. A repeat racing the first is
// audited, then settled .failed (cause conflict) and answered with the
// stored one.
func (s *Service) endorse(ctx context.Context, actor account.Account, record []byte, caseID string, ev func(e *e2ee.Endorsement) audit.Event) (*stored, error) {
	e, err := s.checkEndorsement(ctx, actor, record, caseID)
	if err != nil {
		return nil, err
	}
	if st, err := s.sameEndorsement(ctx, e); err != nil || st != nil {
		return st, err
	}
	saved, err := s.auditFirst(ctx, ev(e), endorsementKey(e.Account, e.Device, e.ByDev), record, func(ctx context.Context) (*stored, error) {
		return s.storeEndorsement(ctx, e, record, caseID)
	})
	if errors.Is(err, fault.ErrConflict) {
		if st, serr := s.sameEndorsement(ctx, e); serr == nil && st != nil {
			return st, nil // endorsed meanwhile; this entry is settled .failed
		}
	}
	return saved, err
}

// Admit logs a mediator's admission of a participant's new device in a
// case (the participant lost every device they had: nobody else can
// endorse it). Only the case's mediators may; the device must belong to a
// participant of the case.
func (s *Service) Admit(ctx context.Context, actor account.Account, caseID string, record []byte, since int64) (*Proven, error) {
	if err := validCase(caseID); err != nil {
		return nil, err
	}
	c, err := s.cfg.Cases.Get(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	// A mediator no seated mediator has confirmed admits no device
	// (case.update: unconfirmed-mediators-read-the-roster-only; review
	// 376): clients would not trust such an admitter, but the server
	// would keep and serve the admission.
	if err := s.cfg.Cases.Admission(ctx, c); err != nil {
		return nil, err
	}
	d := s.cfg.Policy.Decide(actor.Principal(), policy.CaseUpdate, c.Facts())
	if slices.Contains(d.Policies, cases.RuleUnconfirmedRecord) {
		s.deniedBy(ctx, actor, caseID, "device.admit", cases.RuleUnconfirmedRecord)
		return nil, c.NotConfirmed("admit a participant's new device")
	}
	if !d.Allowed {
		s.denied(ctx, actor, caseID, "device.admit")
		return nil, fmt.Errorf("only the case's mediators admit devices: %w", fault.ErrForbidden)
	}
	// A case retention is disposing of admits no device (checked again
	// once the admission is stored: storeInCase).
	if err := cases.RefuseAdditions(c); err != nil {
		return nil, err
	}
	e, err := e2ee.DecodeEndorsement(record)
	if err != nil {
		return nil, fault.Invalid("record", err.Error())
	}
	participant := false
	for _, p := range c.Participants {
		participant = participant || p.AccountID == e.Account
	}
	if !participant {
		return nil, fault.Invalid("record", "the device is not a participant's of this case")
	}
	if err := s.checkSince(ctx, since); err != nil {
		return nil, err
	}
	// Audited first: an admission that stood unaudited would be a device
	// reading the case's rooms with no entry saying who let it.
	saved, err := s.endorse(ctx, actor, record, caseID, func(e *e2ee.Endorsement) audit.Event {
		return audit.Event{Type: "e2ee.device.admitted", Actor: actor.ID, Case: caseID,
			Objects: []string{e.Account, e.Device}, Hashes: []string{fmt.Sprintf("sha256:%x", e.Hash())}}
	})
	if err != nil {
		return nil, err
	}
	p, groups, err := s.prove(ctx, since, []*stored{saved})
	if err != nil {
		return nil, err
	}
	p.Endorsements = groups[0]
	return p, nil
}

// accountEndorsements lists the endorsements of an account's devices:
// links, and admissions for caseID only ("": every case, for the account
// itself) — a case's people must not learn the account's other cases.
func (s *Service) accountEndorsements(ctx context.Context, account, caseID string) ([]*stored, error) {
	all, err := s.list(ctx, "keydir/endorsements/"+account+"/")
	if err != nil {
		return nil, err
	}
	if caseID == "" {
		return all, nil
	}
	out := all[:0]
	for _, st := range all {
		e, err := e2ee.DecodeEndorsement(st.Record)
		if err == nil && (e.Case == "" || e.Case == caseID) {
			out = append(out, st)
		}
	}
	return out, nil
}
