package cases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// ErrInviteClaimed: the invitation to withdraw was already used (or is
// being used right now); its person is in the case, and is removed
// instead (RemoveParticipant).
var ErrInviteClaimed = fmt.Errorf("already joined: remove the person instead: %w", fault.ErrConflict)

// ErrInviteBeingJoined: the invitation to withdraw is being used right
// now; asked again in a minute, it is either joined or withdrawn.
var ErrInviteBeingJoined = fmt.Errorf("someone is joining with this invitation right now: try again in a minute: %w", fault.ErrConflict)

// errInviteNotFound: no invitation of this case by that id.
var errInviteNotFound = fmt.Errorf("no such invitation in this case: %w", fault.ErrNotFound)

// WithdrawnInvite is what WithdrawInvite reports: the invitation's mail
// seat (IssuedInvite.Seat), for its unsent mail to be cancelled.
type WithdrawnInvite struct {
	Seat string
	// Already: it had been withdrawn before; nothing was changed again
	// (its audit entry is appended now if that withdrawal's append
	// failed).
	Already bool
}

// WithdrawInvite withdraws an unused invitation of the case (inviteID:
// PendingInvite.ID). Who may make invitations to the case may withdraw
// them: a seated mediator (authorizeAdding, as CreateInvite). The record
// is marked withdrawn, not deleted, by the same conditional write Join's
// claim makes on it, so a withdrawal racing a Join has exactly one
// winner: whichever write lands first. If the claim lands first, the
// withdrawal is refused with ErrInviteClaimed; if the withdrawal does,
// the Join is refused with ErrInviteGone, in the words of an expired
// link. A withdrawn invitation is withdrawn again without error (Already).
// The withdrawal is audited (case.invite.withdrawn: actor, case and the
// invitation's keyed hash; never its address), after the write that
// marks it withdrawn, which also marks it unaudited (WithdrawnUnaudited);
// the mark is cleared once the entry is appended. The case is marked for
// the audit sweep (outbox.go) before that write, so that a node dying
// before the append leaves the withdrawal to the sweep, which appends the
// entry — as its withdrawer made it, at the withdrawal's time — and
// clears the mark once the withdrawal is StaleAfter old. If the append
// fails the request fails, and withdrawing it again (a retry, by any
// mediator who may) appends the entry as well. Retention appends it
// before it destroys a record still so marked (AuditPendingWithdrawal). As with the case's
// outbox, an entry may appear twice (a crash between the append and the
// clearing, a retry racing the sweep), never be missing once a retry or
// the sweep succeeds.
func (s *Service) WithdrawInvite(ctx context.Context, actor account.Account, caseID, inviteID string) (WithdrawnInvite, error) {
	// Who may withdraw is decided (and a refusal audited) before the id
	// is looked at, so that a refusal is the same whatever id was asked.
	c, err := s.loadFor(ctx, actor, caseID, policy.CaseInvite)
	if err != nil {
		return WithdrawnInvite{}, err
	}
	if err := s.authorizeAdding(ctx, actor, policy.CaseInvite, c); err != nil {
		return WithdrawnInvite{}, err
	}
	if !validInviteID(inviteID) {
		return WithdrawnInvite{}, errInviteNotFound
	}
	// The audit sweep's marker before the write that withdraws, so that
	// a node dying between that write and the append leaves the
	// withdrawal to the sweep (sweepWithdrawals). The marker is written
	// anew, with its time: the sweep keeps a marker younger than
	// StaleAfter though it finds nothing yet (sweepCase). If it cannot be
	// written, nothing is withdrawn.
	if err := s.markWithdrawing(ctx, caseID); err != nil {
		return WithdrawnInvite{}, err
	}
	already := false
	var marked Invite // as withdrawn, by this request or an earlier one
	_, err = metastore.Update(ctx, s.meta, "invites/"+inviteID, func(inv *Invite) error {
		already = false
		switch {
		case inv.CaseID != caseID:
			return errInviteNotFound
		case inv.Withdrawn != nil:
			already, marked = true, *inv
			return errAlreadyMarked
		case inv.Completed:
			return ErrInviteClaimed
		case inv.ClaimedBy != "":
			// Opened and not finished: being joined right now (a claim
			// younger than claimLease, which a finisher renews), or a
			// join that stopped (interrupted, or refused after its
			// claim by a build before the duplicate check came first).
			// The latter is withdrawn, unless its account is in the case.
			if _, in := c.Participant(inv.ClaimedBy); in {
				return ErrInviteClaimed
			}
			if inv.Claimed == nil || s.now().Sub(*inv.Claimed) < claimLease {
				return ErrInviteBeingJoined
			}
		}
		now := s.now().UTC()
		inv.Withdrawn, inv.WithdrawnBy, inv.WithdrawnUnaudited = &now, actor.ID, true
		marked = *inv
		return nil
	})
	out := WithdrawnInvite{Seat: inviteSeatPrefix + inviteID, Already: already}
	switch {
	case errors.Is(err, metastore.ErrNotFound):
		return WithdrawnInvite{}, errInviteNotFound
	case already && !marked.WithdrawnUnaudited:
		return out, nil
	case err != nil && !already:
		return WithdrawnInvite{}, err
	}
	if err := s.auditWithdrawal(ctx, inviteID, marked); err != nil {
		// Marked for the audit sweep (again, should a sweep have
		// dropped the marker written above), should nobody withdraw it
		// again (sweepCase: sweepWithdrawals); a marker that cannot be
		// written is logged (WARN). The request fails either way.
		s.markUnaudited(ctx, caseID)
		return WithdrawnInvite{}, err
	}
	return out, nil
}

// sweepWithdrawals finds the withdrawals of the case's invitations whose
// audit entry is not known to be in the log (WithdrawnUnaudited) and, if
// flush, appends the entry of each once it is StaleAfter old (a younger
// one is its request's own). It reports whether any is left unaudited.
func (s *Service) sweepWithdrawals(ctx context.Context, caseID string, flush bool) (bool, error) {
	prefix := caseInvitesPrefix(caseID)
	var names []string
	if err := s.meta.List(ctx, prefix, func(key string) error {
		names = append(names, strings.TrimPrefix(key, prefix))
		return nil
	}); err != nil {
		return false, err
	}
	left := false
	for _, name := range names {
		var inv Invite
		if _, err := s.meta.Get(ctx, "invites/"+name, &inv); errors.Is(err, metastore.ErrNotFound) {
			continue
		} else if err != nil {
			return true, err
		}
		if inv.CaseID != caseID || inv.Withdrawn == nil || !inv.WithdrawnUnaudited {
			continue
		}
		if !flush || s.now().Before(inv.Withdrawn.Add(StaleAfter)) {
			left = true
			continue
		}
		if err := s.auditWithdrawal(ctx, name, inv); err != nil {
			return true, err
		}
	}
	return left, nil
}

// auditWithdrawal appends the audit entry of the withdrawal inv records
// (its withdrawer, at its time), then clears WithdrawnUnaudited.
func (s *Service) auditWithdrawal(ctx context.Context, inviteID string, inv Invite) error {
	// An index with an error: the entry is written, its checkpoint not;
	// it is in the log (record).
	if i, err := s.audit.Append(ctx, audit.Event{Type: "case.invite.withdrawn", Actor: inv.WithdrawnBy, Case: inv.CaseID,
		Time: inv.Withdrawn.UTC(), Hashes: []string{inviteID}}); i < 0 {
		return err
	}
	_, err := metastore.Update(ctx, s.meta, "invites/"+inviteID, func(r *Invite) error {
		if !r.WithdrawnUnaudited {
			return errAlreadyMarked
		}
		r.WithdrawnUnaudited = false
		return nil
	})
	if errors.Is(err, errAlreadyMarked) {
		return nil
	}
	return err
}

// validInviteID: the shape of a keyed hash (metastore IndexKey), so that
// no other key is ever read by an id from a request.
func validInviteID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, r := range id {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// InviteWithdrawn reports whether self (an invitation's Seat.Key, as a
// link mail's Ref names it) is an invitation of case c that was
// withdrawn: its mail is not sent. Anything else (a re-entry link's
// account id, an invitation no longer on file) is not withdrawn.
func (s *Service) InviteWithdrawn(ctx context.Context, c *Case, self string) (bool, error) {
	hash, invitation := strings.CutPrefix(self, inviteSeatPrefix)
	if !invitation || !validInviteID(hash) {
		return false, nil
	}
	var inv Invite
	if _, err := s.meta.Get(ctx, "invites/"+hash, &inv); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	return inv.CaseID == c.ID && inv.Withdrawn != nil, nil
}

// unauditedMark is the audit sweep's marker (unauditedKey) as a
// withdrawal writes it: since when. (A case's change writes it empty.)
type unauditedMark struct {
	Since *time.Time `json:"since,omitempty"`
}

// markWithdrawing writes the audit sweep's marker of the case anew, with
// the time, before a withdrawal's write.
func (s *Service) markWithdrawing(ctx context.Context, caseID string) error {
	now := s.now().UTC()
	_, err := s.meta.Replace(ctx, unauditedKey(caseID), unauditedMark{Since: &now}, "")
	return err
}

// markYoung reports whether the sweep's marker at key was written by a
// withdrawal less than StaleAfter ago: that withdrawal's write may be
// still to come, and the marker is kept for it. It returns the ETag of
// the marker it read ("" if there is none): the sweep deletes that
// stored version of it (and older ones), never one written since.
func (s *Service) markYoung(ctx context.Context, key string) (young bool, etag string, err error) {
	var m unauditedMark
	etag, err = s.meta.Get(ctx, key, &m)
	if errors.Is(err, metastore.ErrNotFound) {
		return false, "", nil
	} else if err != nil {
		return false, "", err
	}
	return m.Since != nil && s.now().Before(m.Since.Add(StaleAfter)), etag, nil
}

// AuditPendingWithdrawal appends the case.invite.withdrawn entry of inv,
// the record invites/<inviteID> as some version of it was stored, if its
// withdrawal is still unaudited (WithdrawnUnaudited), then clears the
// mark on the stored record if it is still there. Retention calls it
// before it destroys an invitation record.
func (s *Service) AuditPendingWithdrawal(ctx context.Context, inviteID string, inv Invite) error {
	if inv.Withdrawn == nil || !inv.WithdrawnUnaudited {
		return nil
	}
	err := s.auditWithdrawal(ctx, inviteID, inv)
	if errors.Is(err, metastore.ErrNotFound) {
		return nil
	}
	return err
}
