package account

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parley-mediation/parley/internal/fault"
)

// MaxControl bounds how many accounts Control reads for one account: a
// chain longer than any program has is refused rather than walked.
const MaxControl = 1000

// Control returns a as policy must see it when it weighs independence
// (two administrators for a reset, a proposal's approval, a retention
// approval): its Lineage becomes everyone who controls it, that is the
// transitive closure of the creator and resetter links as the account
// records have them now. An account is controlled by whoever created it
// and whoever reset its password (Lineage), and by everyone who controls
// one of those: an attacker who holds one account and resets an
// independent administrator's password holds that administrator too, for
// every later check, and a later reset of an ancestor reaches every
// account below it.
//
// The provenance is known only if it is known for every account in the
// closure (Origin is cleared otherwise): an account created or reset by
// one whose lineage is unknown could be held by anyone. An account in a
// lineage that no longer exists makes the provenance unknown too.
//
// The result is for policy decisions only and is never stored.
func (s *Service) Control(ctx context.Context, a Account) (Account, error) {
	seen := map[string]bool{a.ID: true}
	known := a.ProvenanceKnown()
	var out []string
	queue := slices.Clone(a.Lineage)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
		if len(out) > MaxControl {
			return Account{}, fmt.Errorf("account %s: more than %d accounts control it", a.ID, MaxControl)
		}
		b, err := s.Get(ctx, id)
		if errors.Is(err, fault.ErrNotFound) {
			known = false
			continue
		}
		if err != nil {
			return Account{}, err
		}
		if !b.ProvenanceKnown() {
			known = false
		}
		queue = append(queue, b.Lineage...)
	}
	a.Lineage = out
	if !known {
		a.Origin = ""
	}
	return a, nil
}

// ControlOf is Control for the account with this id.
func (s *Service) ControlOf(ctx context.Context, id string) (Account, error) {
	a, err := s.Get(ctx, id)
	if err != nil {
		return Account{}, err
	}
	return s.Control(ctx, a)
}
