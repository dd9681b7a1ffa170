package account

import (
	"context"
	"fmt"
	"slices"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
)

// MaxAssigners bounds Account.AssignedBy. Nothing is ever dropped from it
// (a dropped assigner could approve a reset of the account's password):
// an assignment that would grow it past the bound is refused
// (ErrTooManyAssigners), and the activation waits (cases.Service).
const MaxAssigners = 64

// ErrTooManyAssigners: recording an assignment's administrators would
// grow Account.AssignedBy past MaxAssigners.
var ErrTooManyAssigners = fmt.Errorf("the account already records %d administrators who assigned it to cases: %w", MaxAssigners, fault.ErrConflict)

// RecordAssigners adds by (the administrators who proposed and approved a
// program assignment of account id to a case) to its AssignedBy, before
// the assignment takes effect. Ids already recorded are not added again,
// so an account whose record already holds them all is not written.
func (s *Service) RecordAssigners(ctx context.Context, id string, by ...string) error {
	missing := func(a Account) []string {
		var add []string
		for _, b := range by {
			if b != "" && !slices.Contains(a.AssignedBy, b) && !slices.Contains(add, b) {
				add = append(add, b)
			}
		}
		return add
	}
	cur, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if len(missing(cur)) == 0 {
		return nil
	}
	_, err = metastore.Update(ctx, s.meta, accountKey(id), func(a *Account) error {
		add := missing(*a)
		if len(a.AssignedBy)+len(add) > MaxAssigners {
			return ErrTooManyAssigners
		}
		a.AssignedBy = append(a.AssignedBy, add...)
		return nil
	})
	return err
}
