package retention

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/visible"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// Limits on a hold's text. The reason and authority are stored sealed and
// shown to records staff; they never reach the audit log.
const (
	MaxReasonLen    = 500 // characters
	MaxAuthorityLen = 200 // characters
	// MaxHoldsPerCase bounds the holds (active and released) one case keeps.
	MaxHoldsPerCase = 1000
)

// Hold is a legal hold on a case (Doc empty) or one of its documents.
type Hold = api.Hold

// NewHold describes a hold to place.
type NewHold = api.NewHold

func holdPrefix(caseID string) string      { return "retention/holds/" + caseID + "/" }
func holdKey(caseID, holdID string) string { return holdPrefix(caseID) + holdID }

func checkText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fault.Invalid(field, "required")
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return "", fault.Invalid(field, fmt.Sprintf("at most %d characters of text", max))
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "", fault.Invalid(field, "no control characters")
	}
	if !visible.Has(s) {
		return "", fault.Invalid(field, "has no visible character: letters, digits or symbols are needed")
	}
	return s, nil
}

// caseFor loads a case and asks policy whether actor may manage its holds.
// A case the actor has no place in (a party or mediator outside it) and a
// case that does not exist get one answer, audited alike (cases.LoadFor).
func (s *Service) caseFor(ctx context.Context, actor account.Account, caseID string) (*cases.Case, error) {
	if !ids.Valid("c", caseID) {
		return nil, fmt.Errorf("case: %w", fault.ErrNotFound)
	}
	c, err := s.cases.LoadFor(ctx, actor, caseID, policy.HoldManage)
	if err != nil {
		return nil, err
	}
	if !s.policy.Decide(actor.Principal(), policy.HoldManage, c.Facts()).Allowed {
		return nil, s.refused(ctx, actor, policy.HoldManage, caseID)
	}
	return c, nil
}

// PlaceHold places a legal hold. The hold is audited (its id and scope;
// never its reason) and recorded first — from then on no plan includes
// what it covers and no apply destroys it — and then set on every stored
// version of what it covers: for a case its case record, then its own
// record (holdRecords), the documents' ciphertext and key records
// (through the vault) and, for a case, the vault's case-hold record and
// its message history. A placement a disposal overtook (the case record
// or the hold's record gone before its storage hold) is undone and
// answered ErrGone: nothing is held (unplace). A hold released while it
// was being placed (listed once recorded) has what the placement set
// after that release cleared again, and is answered as released.
func (s *Service) PlaceHold(ctx context.Context, actor account.Account, n NewHold) (Hold, error) {
	c, err := s.caseFor(ctx, actor, n.Case)
	if err != nil {
		return Hold{}, err
	}
	if s.placeLoaded != nil {
		s.placeLoaded()
	}
	reason, err := checkText("reason", n.Reason, MaxReasonLen)
	if err != nil {
		return Hold{}, err
	}
	authority, err := checkText("authority", n.Authority, MaxAuthorityLen)
	if err != nil {
		return Hold{}, err
	}
	if n.Doc != "" && !ids.Valid("d", n.Doc) {
		return Hold{}, fmt.Errorf("document %s: %w", n.Doc, fault.ErrNotFound)
	}
	existing, err := s.caseHolds(ctx, c.ID)
	if err != nil {
		return Hold{}, err
	}
	if len(existing) >= MaxHoldsPerCase {
		return Hold{}, fmt.Errorf("case %s has %d holds: %w", c.ID, len(existing), fault.ErrTooLarge)
	}
	h := Hold{ID: ids.New("h"), Case: c.ID, Doc: n.Doc, Reason: reason, Authority: authority,
		PlacedBy: actor.ID, Placed: s.now().UTC()}
	if n.Doc != "" {
		// The vault decides doc.hold itself and 404s a document that is
		// not there, before anything is recorded.
		if _, err := s.vault.SetHold(ctx, actor, c.ID, n.Doc, true); err != nil {
			return Hold{}, err
		}
		if s.placeStep != nil {
			s.placeStep("doc-held", h)
		}
	}
	ev := audit.Paired(audit.Event{Type: "hold.placed", Actor: actor.ID, Case: c.ID, Objects: []string{h.ID},
		Attrs: map[string]string{"scope": h.Scope()}})
	if n.Doc != "" {
		ev.Objects = append(ev.Objects, n.Doc)
	}
	if err := s.record(ctx, ev); err != nil {
		return Hold{}, fmt.Errorf("audit: %w", err)
	}
	if _, err := s.meta.Create(ctx, holdKey(c.ID, h.ID), h); err != nil {
		// The hold's id is new: a record under it is this placement's.
		s.settle(ctx, ev, "hold.place", err, func(ctx context.Context) (bool, error) {
			return s.holdStored(ctx, h)
		})
		return Hold{}, err
	}
	if s.placeStep != nil {
		s.placeStep("recorded", h)
	}
	// The storage hold on, for a case hold, the case record and then on
	// the hold's own record, at once: an apply that read the holds before
	// this one was recorded and is deleting the case record now (its
	// places are the case-record class's) meets it and pauses
	// (destroyPlaces, pauseDisposal) rather than deleting the case and the
	// hold with it. An apply that deleted the case record (or the hold's
	// record) first has disposed of what the hold was for: the placement
	// is undone (unplace) and the caller told nothing is held.
	if err := s.holdRecords(ctx, h, true); errors.Is(err, fault.ErrGone) {
		if uerr := s.unplace(ctx, actor, ev, h, err); uerr != nil {
			return Hold{}, fmt.Errorf("hold %s: a disposal of the case overtook this hold while it was being placed, and removing its record failed: %w", h.ID, uerr)
		}
		return Hold{}, err
	} else if err != nil {
		return Hold{}, fmt.Errorf("hold %s is recorded, but setting it on storage failed (release and place it again): %w", h.ID, err)
	}
	if n.Doc != "" {
		// The vault held the document before this hold was recorded: a
		// release of another hold on it that looked for holds before
		// this record was stored may have released it since
		// (clearUncovered). Any later look sees this hold; what an
		// earlier one undid is set again here.
		d, err := s.vault.Get(ctx, actor, c.ID, n.Doc)
		if err == nil && !d.Held {
			_, err = s.vault.SetHold(ctx, actor, c.ID, n.Doc, true)
		}
		if err != nil {
			return Hold{}, fmt.Errorf("hold %s is recorded, but setting it on storage failed (release and place it again): %w", h.ID, err)
		}
	}
	// A case hold: the message history is held before the vault's
	// case-hold record is written and again after it, as SetCaseHold
	// holds the documents (before the record, the record, again): an
	// apply reads that record again right before it deletes keys or
	// batches, so whatever it deletes after the record is written was
	// either held by the first pass (the delete is refused) or deleted
	// since that pass listed it — overtaken, and said so below.
	var overtaken overtakenCount
	if n.Doc == "" {
		m, err := s.holdMessages(ctx, c.ID, true)
		if err != nil {
			return Hold{}, fmt.Errorf("hold %s is recorded, but setting it on the message history failed (release and place it again): %w", h.ID, err)
		}
		overtaken.batches += m
		var ov *vault.OvertakenError
		if err := s.vault.SetCaseHold(ctx, actor.ID, c.ID, true); errors.As(err, &ov) {
			overtaken.versions += len(ov.Versions)
		} else if err != nil {
			return Hold{}, fmt.Errorf("hold %s is recorded, but setting it on storage failed (release and place it again): %w", h.ID, err)
		}
		if _, err := holdAllVersions(ctx, s.store, vault.CaseHoldKey(c.ID), true); err != nil {
			return Hold{}, fmt.Errorf("hold %s is recorded, but setting it on storage failed (release and place it again): %w", h.ID, err)
		}
		m, err = s.holdMessages(ctx, c.ID, true)
		if err != nil {
			return Hold{}, fmt.Errorf("hold %s is recorded, but setting it on the message history failed (release and place it again): %w", h.ID, err)
		}
		overtaken.batches += m
	}
	if overtaken.any() {
		// The hold stands on what remains; what a disposal destroyed
		// while it was being placed is said, in the log and to the
		// caller, rather than answered as held.
		oev := audit.Event{Type: "hold.place.overtaken", Actor: actor.ID, Case: c.ID, Objects: []string{h.ID},
			Attrs: map[string]string{"scope": h.Scope(), "versions": strconv.Itoa(overtaken.versions), "batches": strconv.Itoa(overtaken.batches)}}
		if err := s.record(ctx, oev); err != nil {
			s.logger.WarnContext(ctx, "retention: a case hold was placed as a disposal destroyed some of the case, and that could not be audited",
				"case", c.ID, "hold", h.ID, "versions", overtaken.versions, "batches", overtaken.batches, "err", err)
		}
	}
	// Listed once recorded, the hold may have been released meanwhile:
	// that release cleared what was not yet set, and it has been set
	// since. Read again, a hold released so has its storage holds cleared
	// now, as its release would have (clearHeld), unless another hold
	// covers them; any later release clears them after this read.
	var got Hold
	if _, err := s.meta.Get(ctx, holdKey(c.ID, h.ID), &got); err != nil {
		return Hold{}, fmt.Errorf("hold %s is placed, but reading it back to check it was not released meanwhile failed (list the holds; if it was released, place and release a hold on the same records): %w", h.ID, err)
	}
	if got.Active() {
		if overtaken.any() {
			return h, overtaken.err()
		}
		return h, nil
	}
	if err := s.clearHeld(ctx, actor, got, causeReleasedWhilePlaced); err != nil {
		return Hold{}, fmt.Errorf("hold %s was released while it was being placed, and clearing what the placement had set on storage failed (place and release a hold on the same records): %w", h.ID, err)
	}
	return got, nil
}

// ReleaseHold releases a hold. What it covered stays held in storage while
// another active hold covers it, one placed while this one is being
// released included (clearUncovered).
func (s *Service) ReleaseHold(ctx context.Context, actor account.Account, caseID, holdID, reason string) (Hold, error) {
	c, err := s.caseFor(ctx, actor, caseID)
	if err != nil {
		return Hold{}, err
	}
	if !ids.Valid("h", holdID) {
		return Hold{}, fmt.Errorf("hold: %w", fault.ErrNotFound)
	}
	why, err := checkText("reason", reason, MaxReasonLen)
	if err != nil {
		return Hold{}, err
	}
	var h Hold
	if _, err := s.meta.Get(ctx, holdKey(c.ID, holdID), &h); errors.Is(err, metastore.ErrNotFound) {
		return Hold{}, fmt.Errorf("hold %s: %w", holdID, fault.ErrNotFound)
	} else if err != nil {
		return Hold{}, err
	}
	if !h.Active() {
		return Hold{}, fmt.Errorf("hold %s was released already: %w", holdID, fault.ErrConflict)
	}
	// Audited first, so a release is never missing from the log; if the
	// record is then not released, hold.release.failed says so (settle:
	// only once the record, read back, shows it still active). Once the
	// record says released, the release stands: storage holds left in
	// place by a failure after it are the safe side (release again).
	ev := audit.Paired(audit.Event{Type: "hold.released", Actor: actor.ID, Case: c.ID,
		Objects: []string{h.ID}, Attrs: map[string]string{"scope": h.Scope()}})
	if err := s.record(ctx, ev); err != nil {
		return Hold{}, fmt.Errorf("audit: %w", err)
	}
	h, err = metastore.Update(ctx, s.meta, holdKey(c.ID, holdID), func(r *Hold) error {
		if !r.Active() {
			return fmt.Errorf("hold %s was released already: %w", holdID, fault.ErrConflict)
		}
		now := s.now().UTC()
		r.Released, r.ReleasedBy, r.ReleaseReason = &now, actor.ID, why
		return nil
	})
	if err != nil {
		// Released by this actor for this reason: this release (or a
		// retry of it) landed. Released otherwise: not this one.
		s.settle(ctx, ev, "hold.release", err, func(ctx context.Context) (bool, error) {
			var got Hold
			if _, err := s.meta.Get(ctx, holdKey(c.ID, holdID), &got); err != nil {
				return false, err
			}
			return !got.Active() && got.ReleasedBy == actor.ID && got.ReleaseReason == why, nil
		})
		return Hold{}, err
	}
	if err := s.clearHeld(ctx, actor, h, causeRelease); err != nil {
		return Hold{}, err
	}
	return h, nil
}

// clearHeld clears the storage holds of released hold h: its own
// record's, and what else it held only once no other active hold covers
// it (clearUncovered: a hold placed meanwhile has its storage holds set
// again). cause is why, for clearUncovered's hold.restored.
func (s *Service) clearHeld(ctx context.Context, actor account.Account, h Hold, cause string) error {
	if _, err := holdAllVersions(ctx, s.store, holdKey(h.Case, h.ID), false); err != nil {
		return err
	}
	if h.Doc != "" {
		return s.clearUncovered(ctx, actor.ID, h, cause, func(ctx context.Context) error {
			_, err := s.vault.SetHold(ctx, actor, h.Case, h.Doc, false)
			return err
		}, func(ctx context.Context) error {
			_, err := s.vault.SetHold(ctx, actor, h.Case, h.Doc, true)
			return err
		})
	}
	return s.clearUncovered(ctx, actor.ID, h, cause, func(ctx context.Context) error {
		return s.caseStorageHold(ctx, actor.ID, h.Case, false)
	}, func(ctx context.Context) error {
		return s.caseStorageHold(ctx, actor.ID, h.Case, true)
	})
}

// restoreRounds bounds clearUncovered's rounds of clearing and setting
// again while other holds on the same records are placed and released.
const restoreRounds = 4

// Causes of a clearing that clearUncovered may undo, named by the
// hold.restored entry's cause attr.
const (
	causeRelease       = "release"        // ReleaseHold of the hold named by the released attr
	causeUndone        = "undone"         // a placement a disposal overtook, undone (unplace)
	causeUnrecordedDoc = "unrecorded-doc" // HoldDocument releasing a document held with no hold record
	// A placement finding its hold released while it was being placed,
	// clearing what it had set (PlaceHold).
	causeReleasedWhilePlaced = "released-while-placed"
)

// errHoldsUnsettled is what clearUncovered answers when other holds on
// the same records kept being placed and released through all its
// rounds: their storage holds are left set (the safe side).
var errHoldsUnsettled = fmt.Errorf("other holds on the same records were placed and released while this one was released, and their storage holds are left set: to clear them, place a hold on the same records and release it: %w", fault.ErrConflict)

// clearUncovered clears what hold h held in storage besides its own
// record (clear) unless another active hold covers it too (a case hold
// the case, a hold on the same document the document), and then looks at
// the holds again: one placed between the first look and the clearing
// may have set its storage holds just before they were cleared, so for
// one that appeared, set sets them again — audited first, by actorID, as
// hold.restored naming the covering hold (restores) and why they had
// been cleared (cause; released, h's id if it has one), so that the
// doc.hold or case.hold entry "on" by the releasing person that follows
// is read as what it is. Having set them, it looks once more: a covering
// hold released between that look and the setting may have had its own
// release clear them first, and they would stay set with no hold left,
// the case never disposed of; so they are cleared again, and so on,
// until a look agrees with what was last done, for at most restoreRounds
// rounds, after which they are left set and errHoldsUnsettled says so.
// Whatever the interleaving, a hold recorded before a look after a
// clearing has its storage holds set again after it, one recorded after
// it sets its own after it, and a hold released after a look following
// a setting clears them after it (unless another covers them).
// h may have no id (the unrecorded hold of a document, HoldDocument).
func (s *Service) clearUncovered(ctx context.Context, actorID string, h Hold, cause string, clear, set func(context.Context) error) error {
	covering := func() (string, error) {
		all, err := s.caseHolds(ctx, h.Case)
		if err != nil {
			return "", err
		}
		for _, o := range all {
			if o.ID != h.ID && o.Active() && o.Doc == h.Doc {
				return o.ID, nil
			}
		}
		return "", nil
	}
	if by, err := covering(); err != nil || by != "" {
		return err
	}
	if s.releaseListed != nil {
		s.releaseListed()
	}
	for range restoreRounds {
		if err := clear(ctx); err != nil {
			return err
		}
		by, err := covering()
		if err != nil {
			return fmt.Errorf("looking again for a hold placed meanwhile: %w", err)
		}
		if by == "" {
			return nil
		}
		ev := audit.Paired(audit.Event{Type: "hold.restored", Actor: actorID, Case: h.Case, Objects: []string{by},
			Attrs: map[string]string{"scope": h.Scope(), "restores": by, "cause": cause}})
		if h.Doc != "" {
			ev.Objects = append(ev.Objects, h.Doc)
		}
		if h.ID != "" {
			ev.Attrs["released"] = h.ID
		}
		if err := s.record(ctx, ev); err != nil {
			s.logger.WarnContext(ctx, "retention: a hold placed while another was released lost its storage hold, and it could not be audited to set it again; release that hold and place it again",
				"case", h.Case, "released", h.ID, "restores", by, "err", err)
			return fmt.Errorf("a hold placed meanwhile covers the same records, and their storage hold, cleared, was not set again (release that hold and place it again): audit: %w", err)
		}
		if err := set(ctx); err != nil {
			// Some of them may be set: the outcome is not confirmed.
			if uerr := s.record(context.WithoutCancel(ctx), audit.Unknown(ev, "hold.restore.unknown", fault.Class(err))); uerr != nil {
				s.logger.WarnContext(ctx, "retention: a restoration of storage holds failed after its audit entry; the entry following it was not appended",
					"case", h.Case, "op", ev.Attrs[audit.OpAttr], "err", uerr)
			}
			s.logger.WarnContext(ctx, "retention: a hold placed while another was released lost its storage hold, and setting it again failed; release that hold and place it again",
				"case", h.Case, "released", h.ID, "restores", by, "err", err)
			return fmt.Errorf("a hold placed meanwhile covers the same records, and setting their storage hold again failed (release that hold and place it again): %w", err)
		}
		if by, err = covering(); err != nil {
			return fmt.Errorf("looking again for a hold released meanwhile: %w", err)
		}
		if by != "" {
			return nil
		}
	}
	s.logger.WarnContext(ctx, "retention: holds on the same records kept being placed and released while one was released; their storage holds are left set",
		"case", h.Case, "doc", h.Doc, "released", h.ID)
	return errHoldsUnsettled
}

// caseStorageHold sets (on) or clears the storage holds a case hold puts
// on its case besides its own record: the case record, the vault's
// case-hold record (and through it the documents) and the message
// history. Setting, the vault's record comes before the storage hold on
// it; clearing, after.
func (s *Service) caseStorageHold(ctx context.Context, actorID, caseID string, on bool) error {
	if _, err := holdAllVersions(ctx, s.store, cases.RecordKey(caseID), on); err != nil {
		return err
	}
	if on {
		// A disposal that overtook part of this is no reason to stop
		// setting the rest (the case is held again: its record is
		// written).
		var ov *vault.OvertakenError
		if err := s.vault.SetCaseHold(ctx, actorID, caseID, true); err != nil && !errors.As(err, &ov) {
			return err
		}
	}
	if _, err := holdAllVersions(ctx, s.store, vault.CaseHoldKey(caseID), on); err != nil {
		return err
	}
	if !on {
		if err := s.vault.SetCaseHold(ctx, actorID, caseID, false); err != nil {
			return err
		}
	}
	_, err := s.holdMessages(ctx, caseID, on)
	return err
}

// overtakenCount is what a disposal destroyed while a case hold was
// being placed: document versions (their keys or ciphertext) and
// message batches.
type overtakenCount struct{ versions, batches int }

func (o overtakenCount) any() bool { return o.versions > 0 || o.batches > 0 }

// err is PlaceHold's answer then: the hold stands, on what remains.
func (o overtakenCount) err() error {
	return fmt.Errorf("the hold is placed and keeps what remains of this case, but a retention disposal destroyed %d document version(s) and %d stored message batch(es) of it while the hold was being placed: %w",
		o.versions, o.batches, fault.ErrConflict)
}

// errCaseGoneWhilePlacing and errHoldGoneWhilePlacing are what placing
// a hold answers when a disposal took the case record, or the hold's own
// record, before the storage hold was set on it; the hold is then undone
// (unplace) and nothing is held.
var (
	errCaseGoneWhilePlacing = fmt.Errorf("this case was disposed of while the hold was being placed; nothing is held: %w", fault.ErrGone)
	errHoldGoneWhilePlacing = fmt.Errorf("the case's disposal removed this hold while it was being placed; nothing is held: place it again if the case is still there: %w", fault.ErrGone)
)

// holdRecords sets (on) or clears the storage (object-lock legal) hold on
// every stored version of the records a hold keeps besides the documents
// and message history (the vault's and holdMessages' part): for a case
// hold the case record, and the hold's own record. Set at placement, so a
// disposal already past its hold check cannot delete them (the bucket
// refuses, and the disposal pauses); cleared at release — the hold's
// record always, the case record once no case hold stands (the caller
// decides: on false only the case record is cleared here).
//
// On placement the case record comes first: a case record a disposal
// deleted meanwhile is found (ErrGone) before anything is held, so the
// caller (unplace) has only the hold's record to remove.
func (s *Service) holdRecords(ctx context.Context, h Hold, on bool) error {
	if h.Doc == "" {
		n, err := holdAllVersions(ctx, s.store, cases.RecordKey(h.Case), on)
		if err != nil {
			return err
		}
		if on && n == 0 {
			return errCaseGoneWhilePlacing
		}
	}
	if !on {
		return nil
	}
	n, err := holdAllVersions(ctx, s.store, holdKey(h.Case, h.ID), true)
	if err != nil {
		return err
	}
	if n == 0 {
		return errHoldGoneWhilePlacing
	}
	return nil
}

// unplace undoes a placement a disposal overtook (holdRecords answered
// ErrGone): it clears the storage hold on the hold's own record and
// deletes every version of it, so no hold of a disposed-of case is left
// under a storage hold nobody can release. Then the placement's audit
// entry is corrected (settle: hold.place.failed once the record, read
// back, is gone). Then what the placement held besides its record is
// let go, unless another active hold covers it (clearUncovered, which
// also sets it again for a hold placed meanwhile): for a case hold the
// storage hold it may have set on the case record (a paused case keeps
// the case record under another case hold); for a document hold the
// document's own hold in the vault, set before the hold was recorded (the
// record saying held, every version's storage hold), which nothing would
// release otherwise and which would keep the case from being disposed
// of. A document or case gone meanwhile has nothing left to let go. It
// runs on a context of its own, bounded to 10 s, so a caller gone
// meanwhile does not leave it half done.
func (s *Service) unplace(ctx context.Context, actor account.Account, ev audit.Event, h Hold, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	key := holdKey(h.Case, h.ID)
	if _, err := holdAllVersions(ctx, s.store, key, false); err != nil {
		return err
	}
	vs, err := s.store.Versions(ctx, key)
	if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return err
	}
	infos := make([]objstore.Info, len(vs))
	for i, v := range vs {
		infos[i] = v.Info
	}
	if err := errors.Join(s.store.DeleteVersions(ctx, infos)...); err != nil {
		return err
	}
	// The hold's record is gone: its entry is corrected now, whatever
	// the storage holds below do.
	s.settle(ctx, ev, "hold.place", cause, func(ctx context.Context) (bool, error) {
		return s.holdStored(ctx, h)
	})
	if h.Doc == "" {
		err = s.clearUncovered(ctx, actor.ID, h, causeUndone, func(ctx context.Context) error {
			_, err := holdAllVersions(ctx, s.store, cases.RecordKey(h.Case), false)
			return err
		}, func(ctx context.Context) error {
			_, err := holdAllVersions(ctx, s.store, cases.RecordKey(h.Case), true)
			return err
		})
		if err != nil {
			s.logger.WarnContext(ctx, "retention: a case hold placed as its case was disposed of was taken back, but the case record's storage hold could not be cleared; clear it by placing and releasing a case hold, or in the store",
				"case", h.Case, "hold", h.ID, "err", err)
		}
		return err
	}
	err = s.clearUncovered(ctx, actor.ID, h, causeUndone, func(ctx context.Context) error {
		_, err := s.vault.SetHold(ctx, actor, h.Case, h.Doc, false)
		if errors.Is(err, fault.ErrNotFound) {
			return nil // the document (or the case) is gone: nothing of it is held
		}
		return err
	}, func(ctx context.Context) error {
		_, err := s.vault.SetHold(ctx, actor, h.Case, h.Doc, true)
		return err
	})
	if err != nil {
		s.logger.WarnContext(ctx, "retention: a document hold placed as its case was disposed of was taken back, but the document's hold could not be released; release it by placing and releasing a hold on the document",
			"case", h.Case, "doc", h.Doc, "hold", h.ID, "err", err)
	}
	return err
}

// holdStored reads h's record back: whether it is stored.
func (s *Service) holdStored(ctx context.Context, h Hold) (bool, error) {
	var got Hold
	_, err := s.meta.Get(ctx, holdKey(h.Case, h.ID), &got)
	if errors.Is(err, metastore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// holdAllVersions sets the legal hold of every stored version of key
// that is not a delete marker (a key that is gone is left alone) and
// says how many it set.
func holdAllVersions(ctx context.Context, store objstore.Store, key string, on bool) (int, error) {
	vs, err := store.Versions(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range vs {
		if v.DeleteMarker {
			continue
		}
		if err := store.SetLegalHold(ctx, key, v.VersionID, on); err != nil {
			return n, fmt.Errorf("legal hold on %s: %w", key, err)
		}
		n++
	}
	return n, nil
}

// caseHolds reads every hold of a case, active or released.
func (s *Service) caseHolds(ctx context.Context, caseID string) ([]Hold, error) {
	var out []Hold
	err := s.meta.List(ctx, holdPrefix(caseID), func(key string) error {
		var h Hold
		if _, err := s.meta.Get(ctx, key, &h); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				return nil // deleted since it was listed (a disposal, a hold taken back)
			}
			return err
		}
		out = append(out, h)
		return nil
	})
	return out, err
}

// activeHolds returns the ids of the active holds covering each document
// of a case ("" for the case as a whole).
func (s *Service) activeHolds(ctx context.Context, caseID string) (map[string][]string, error) {
	all, err := s.caseHolds(ctx, caseID)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, h := range all {
		if h.Active() {
			out[h.Doc] = append(out[h.Doc], h.ID)
		}
	}
	return out, nil
}

// Holds lists holds: of one case, or (caseID empty) of every case; only
// active ones unless all is set.
func (s *Service) Holds(ctx context.Context, actor account.Account, caseID string, all bool) ([]Hold, error) {
	if err := s.allow(ctx, actor, policy.HoldList); err != nil {
		return nil, err
	}
	prefix := "retention/holds/"
	if caseID != "" {
		if !ids.Valid("c", caseID) {
			return nil, fmt.Errorf("case: %w", fault.ErrNotFound)
		}
		prefix = holdPrefix(caseID)
	}
	out := []Hold{}
	err := s.meta.List(ctx, prefix, func(key string) error {
		var h Hold
		if _, err := s.meta.Get(ctx, key, &h); err != nil {
			return err
		}
		if all || h.Active() {
			out = append(out, h)
		}
		return nil
	})
	return out, err
}
