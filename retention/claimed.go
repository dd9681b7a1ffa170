package retention

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// claimedAccounts returns the participant accounts that invitation records
// among keys claimed (cases.Invite.ClaimedBy) for a join that never seated
// them: not completed, and named by no stored case (named, from
// membership: every case naming it; a removed participant's account goes
// with its case instead). Such an account — a name and an email — was made
// by a join that stopped between making it and the case's update (the
// node killed, an error that is no refusal, the person gone; review 249):
// the invitation's claimedBy is the only link to it, so it is destroyed
// before the invitation record is (a rerun after a crash still finds it).
// The id was minted for that claim (cases.JoinAs), so no other seat shares
// it. Read from each record's newest stored version that is not a delete
// marker; staff accounts are never returned.
func (s *Service) claimedAccounts(ctx context.Context, keys []string, named map[string][]string) ([]string, error) {
	var out []string
	for _, key := range keys {
		if id, ok := strings.CutPrefix(key, "invites/"); !ok || strings.Contains(id, "/") {
			continue
		}
		var inv cases.Invite
		if err := s.olderVersion(ctx, key, &inv); errors.Is(err, objstore.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if inv.ClaimedBy == "" || inv.Completed || len(named[inv.ClaimedBy]) > 0 || slices.Contains(out, inv.ClaimedBy) {
			continue
		}
		ok, err := s.isParticipantAccount(ctx, inv.ClaimedBy)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, inv.ClaimedBy)
		}
	}
	slices.Sort(out)
	return out, nil
}

// closedCaseClaims is claimedAccounts for the invitation records among
// keys of case caseID, when the invitations' class goes before the case
// record: only once the case is closed (a closed case is never reopened
// and seats nobody, cases.joinRefused) or gone, so no join can seat one
// of them after this decides; a case still open keeps them (its record's
// disposal takes them).
func (s *Service) closedCaseClaims(ctx context.Context, caseID string, keys []string) ([]string, error) {
	named := map[string][]string{}
	c, err := s.cases.Load(ctx, caseID)
	switch {
	case errors.Is(err, fault.ErrNotFound):
	case err != nil:
		return nil, err
	case c.Closed == nil:
		return nil, nil
	default:
		for _, p := range c.Participants {
			named[p.AccountID] = append(named[p.AccountID], caseID)
		}
		for _, r := range c.Removed {
			named[r.AccountID] = append(named[r.AccountID], caseID)
		}
	}
	return s.claimedAccounts(ctx, keys, named)
}
