package cases

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
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

// MaxPendingListed bounds how many invitations of one case are read for
// the list of pending ones.
const MaxPendingListed = 500

// caseInvitesPrefix holds one empty marker per invitation of a case, named
// by the invitation's keyed token hash (the same name its record has under
// invites/), so a case's invitations can be listed without the tokens.
// Invitations made before these markers existed are not listed.
func caseInvitesPrefix(caseID string) string { return "cases/" + caseID + "/invites/" }

type inviteMarker struct{}

// PendingInvites lists the case's invitations that are neither used nor
// expired, nor made by someone who may no longer invite to the case (a
// recused or disabled mediator, whose invites are refused: mayStillMake),
// oldest first. Only someone who may invite to the case (its mediators)
// may list them.
func (s *Service) PendingInvites(ctx context.Context, actor account.Account, id string) ([]PendingInvite, error) {
	c, err := s.loadFor(ctx, actor, id, policy.CaseInvite)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, actor, policy.CaseInvite, c); err != nil {
		return nil, err
	}
	prefix := caseInvitesPrefix(id)
	var names []string
	err = s.meta.List(ctx, prefix, func(key string) error {
		if len(names) >= MaxPendingListed {
			return errStopListing
		}
		names = append(names, strings.TrimPrefix(key, prefix))
		return nil
	})
	if err != nil && !errors.Is(err, errStopListing) {
		return nil, err
	}
	now := s.now()
	out := []PendingInvite{}
	makers := map[string]bool{} // maker → may still invite
	for _, name := range names {
		var inv Invite
		if _, err := s.meta.Get(ctx, "invites/"+name, &inv); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				continue
			}
			return nil, err
		}
		if inv.CaseID != id || inv.Completed || inv.Withdrawn != nil {
			continue
		}
		// Opened and not finished (a join that stopped after its claim)
		// is listed until it could no longer be finished, so that it can
		// be withdrawn; one whose account is in the case is used.
		if inv.ClaimedBy != "" {
			if _, in := c.Participant(inv.ClaimedBy); in || !now.Before(inv.Expires.Add(finishGrace)) {
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
