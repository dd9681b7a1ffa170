package account

import (
	"context"
	"fmt"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// SignInEmail is the address to which a sign-in link may be emailed to
// this account ("Email me a link to sign in"): its contact email, once the
// participant confirmed it while signed in (ConfirmParticipantEmail), and
// only while it is still the contact email. Empty for staff and for
// participants who have not confirmed.
func (a Account) SignInEmail() string {
	if a.Role != policy.RoleParticipant || a.EmailConfirmed == "" || a.EmailConfirmed != normalizeEmail(a.Email) {
		return ""
	}
	return a.EmailConfirmed
}

// ErrEmailNotConfirmable: the account is not an enabled participant with
// that contact email (staff, a disabled account, or an address that
// changed since the confirmation was asked for).
var ErrEmailNotConfirmable = fmt.Errorf("this address cannot be confirmed for signing in: %w", fault.ErrConflict)

// ConfirmParticipantEmail records that participant id confirmed email,
// their contact email, for emailed sign-in links, and indexes it
// (SignInLinkCandidates). The index entry is written first, so a crash
// between the two writes leaves an entry that SignInLinkCandidates skips
// (the account is not marked) and a later confirmation completes.
func (s *Service) ConfirmParticipantEmail(ctx context.Context, id, email string) (Account, error) {
	email = normalizeEmail(email)
	a, err := s.Get(ctx, id)
	if err != nil {
		return Account{}, err
	}
	if a.Role != policy.RoleParticipant || a.Disabled || email == "" || normalizeEmail(a.Email) != email {
		return Account{}, ErrEmailNotConfirmable
	}
	if err := s.indexParticipantEmail(ctx, id, email); err != nil {
		return Account{}, err
	}
	return metastore.Update(ctx, s.meta, accountKey(id), func(a *Account) error {
		if a.Role != policy.RoleParticipant || a.Disabled || normalizeEmail(a.Email) != email {
			return ErrEmailNotConfirmable
		}
		a.EmailConfirmed = email
		return nil
	})
}

// EmailConfirmationsPerAddress bounds the confirmation links mailed to
// one address per SignInLinkWindow, whoever asks (AllowEmailConfirmation).
const EmailConfirmationsPerAddress = 3

// AllowEmailConfirmation counts one confirmation link to email against
// EmailConfirmationsPerAddress per SignInLinkWindow, on every node alike,
// so a participant cannot flood the address on file (a stranger's, if it
// was mistyped).
func (s *Service) AllowEmailConfirmation(ctx context.Context, email string) error {
	return s.limit(ctx, "confirm-email:"+s.meta.IndexKey("email", normalizeEmail(email)), EmailConfirmationsPerAddress, SignInLinkWindow)
}
