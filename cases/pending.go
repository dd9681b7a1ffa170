package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// PendingInvite is an invitation not yet used and not expired, as its
// case's mediators see it: who and as what, never the token.
type PendingInvite struct {
	// ID names the invitation to its case's mediators (for
	// WithdrawInvite): its token's keyed hash, which the audit log also
	// names it by. The token cannot be had from it.
	ID      string
	Name    string
	Role    ParticipantRole
	Side    string
	Created time.Time
	Expires time.Time
	Emailed bool
	// EmailHint is the address it was mailed to, masked
	// ("l***@example.org"), for telling two invitations of one name
	// apart; "" when none was given.
	EmailHint string
}

// MaxPendingRead bounds how many invitations of one case the list of
// pending ones reads (every one it has, used, expired and withdrawn
// included): a case with more is refused with ErrTooManyInvites, never
// listed in part. Far more than a case's people (MaxParticipants), so
// only a case flooded with invitations meets it.
const MaxPendingRead = 10000

// ErrTooManyInvites refuses the list of pending invitations of a case
// with more than MaxPendingRead invitations: a list of some of them
// would hide the others from the mediator who looks for one to withdraw.
var ErrTooManyInvites = fmt.Errorf("this case has more than %d invitations, too many to list its pending ones: %w", MaxPendingRead, fault.ErrConflict)

// caseInvitesPrefix holds one empty marker per invitation of a case, named
// by the invitation's keyed token hash (the same name its record has under
// invites/), so a case's invitations can be listed without the tokens.
// Invitations made before these markers existed are not listed.
func caseInvitesPrefix(caseID string) string { return "cases/" + caseID + "/invites/" }

type inviteMarker struct{}

// PendingInvites lists the case's invitations that are neither used nor
// expired, nor made by someone who may no longer invite to the case (a
// recused or disabled mediator, whose invites are refused: mayStillMake),
// oldest first: every one, however many the case has, up to
// MaxPendingRead invitations in all (ErrTooManyInvites beyond). Only
// someone who may invite to the case (its mediators) may list them.
func (s *Service) PendingInvites(ctx context.Context, actor account.Account, id string) ([]PendingInvite, error) {
	c, err := s.loadFor(ctx, actor, id, policy.CaseInvite)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, actor, policy.CaseInvite, c); err != nil {
		return nil, err
	}
	// A mediator no seated mediator has confirmed sees none of them
	// (unconfirmed-mediators-see-no-invitations). The makers below are
	// decided without the fact, as redeeming their invitations is.
	if err := s.refuseUnconfirmed(ctx, actor, policy.CaseInvite, c, RuleUnconfirmedInvites, "see this case's invitations"); err != nil {
		return nil, err
	}
	// Every invitation of the case, read 16 at a time; more than the
	// bound is refused, not listed in part.
	limit := MaxPendingRead
	if s.maxPendingRead > 0 {
		limit = s.maxPendingRead
	}
	prefix := caseInvitesPrefix(id)
	var names []string
	err = s.meta.List(ctx, prefix, func(key string) error {
		if len(names) >= limit {
			return errStopListing
		}
		names = append(names, strings.TrimPrefix(key, prefix))
		return nil
	})
	if errors.Is(err, errStopListing) {
		return nil, ErrTooManyInvites
	}
	if err != nil {
		return nil, err
	}
	invs := make([]*Invite, len(names))
	var fail firstError
	workers.Run(len(names), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		var inv Invite
		if _, err := s.meta.Get(ctx, "invites/"+names[i], &inv); err != nil {
			if !errors.Is(err, metastore.ErrNotFound) {
				fail.set(err)
			}
			return
		}
		invs[i] = &inv
	})
	if err := fail.get(); err != nil {
		return nil, err
	}
	now := s.now()
	out := []PendingInvite{}
	makers := map[string]bool{} // maker → may still invite
	for i, name := range names {
		inv := invs[i]
		if inv == nil || inv.CaseID != id || inv.Completed || inv.Withdrawn != nil {
			continue
		}
		// Opened and not finished (a join that stopped after its claim)
		// is listed until it could no longer be finished, so that it can
		// be withdrawn; one whose account is in the case is used.
		if inv.ClaimedBy != "" {
			// One whose join was refused and its account marked
			// (discardRefused) can never be used: not listed, so the
			// mediator sees the person as not invited and invites again.
			if _, in := c.Participant(inv.ClaimedBy); in || slices.Contains(c.RefusedAccounts, inv.ClaimedBy) ||
				!now.Before(inv.Expires.Add(finishGrace)) {
				continue
			}
		} else if !now.Before(inv.Expires) {
			continue
		}
		may, known := makers[inv.CreatedBy]
		if !known {
			maker, err := s.linkMaker(ctx, inv.CreatedBy)
			switch {
			case err == nil:
				may = s.makerMay(maker, policy.CaseInvite, c)
			case !errors.Is(err, ErrInviteGone):
				return nil, err
			}
			makers[inv.CreatedBy] = may
		}
		if !may {
			continue
		}
		out = append(out, PendingInvite{ID: name, Name: inv.Name, Role: inv.Role, Side: inv.Side, Created: inv.Created, Expires: inv.Expires, Emailed: inv.Email != "", EmailHint: MaskEmail(inv.Email)})
	}
	slices.SortFunc(out, func(a, b PendingInvite) int { return a.Created.Compare(b.Created) })
	return out, nil
}

var errStopListing = errors.New("enough listed")

// MaskEmail is an address with all but the first character of its local
// part hidden ("lars@example.org" is "l***@example.org"): enough for the
// mediator who typed it to recognise it, not the whole address on a
// screen or in a terminal. "" for "".
func MaskEmail(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if addr == "" || !ok || local == "" {
		return ""
	}
	r := []rune(local)
	return string(r[0]) + "***@" + domain
}
