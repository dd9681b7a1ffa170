package cases

import (
	"context"
	"errors"

	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
)

// InvitedPerson is whom an invitation was for: its case, and the name and
// address the mediator gave.
type InvitedPerson struct {
	CaseID string
	Name   string
	Email  string
}

// Invited calls fn with whom every stored invitation was for: used or
// not, expired, withdrawn or refused alike, and those made before the
// per-case markers (caseInvitesPrefix) too, as it reads every record
// under invites/. An invitation's name and address are never changed
// after it is made, so its one stored version says them. For the
// evaluation export, which scrubs survey comments of every name a case
// ever held, the people invited who never joined included. A record
// disposed of between the listing and the read is skipped.
func (s *Service) Invited(ctx context.Context, fn func(InvitedPerson) error) error {
	var keys []string
	if err := s.meta.List(ctx, "invites/", func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return err
	}
	invs := make([]*Invite, len(keys))
	var fail firstError
	workers.Run(len(keys), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		var inv Invite
		if _, err := s.meta.Get(ctx, keys[i], &inv); err != nil {
			if !errors.Is(err, metastore.ErrNotFound) {
				fail.set(err)
			}
			return
		}
		invs[i] = &inv
	})
	if err := fail.get(); err != nil {
		return err
	}
	for _, inv := range invs {
		if inv == nil {
			continue
		}
		if err := fn(InvitedPerson{CaseID: inv.CaseID, Name: inv.Name, Email: inv.Email}); err != nil {
			return err
		}
	}
	return nil
}
