package account

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// Limits on asking for an emailed sign-in link (docs/security.md, "The
// emailed sign-in link"), per SignInLinkWindow: per address asked for, and
// per client address (IPv6 per /64, as sign-in counts them).
const (
	SignInLinkPerEmail   = 3
	SignInLinkPerAddress = 20
	SignInLinkWindow     = 15 * time.Minute
)

// ParticipantEmailsPrefix is where participants' confirmed emails are
// indexed (ConfirmParticipantEmail): participant-emails/<keyed hash of
// the email>/<account id>, an empty record. Unlike a staff account's
// sign-in email (emailKey) it is
// not claimed: one person joining several cases has one account per case,
// all with the same email. An entry goes with its account: retention's
// disposal of a participant account deletes every stored version of the
// account's entries with it, and its sweep takes an entry whose account
// is gone or no longer has the address (ParticipantEmailEntryStale).
const ParticipantEmailsPrefix = "participant-emails/"

// ParticipantEmailPrefix is the prefix under which the accounts with
// contact email email are indexed.
func (s *Service) ParticipantEmailPrefix(email string) string {
	return ParticipantEmailsPrefix + s.meta.IndexKey("participant-email", normalizeEmail(email)) + "/"
}

// ParticipantEmailAccount returns the account id an index entry's key
// names, or "" if key is not an index entry's.
func ParticipantEmailAccount(key string) string {
	rest, ok := strings.CutPrefix(key, ParticipantEmailsPrefix)
	if !ok {
		return ""
	}
	hash, id, ok := strings.Cut(rest, "/")
	if !ok || hash == "" || id == "" || strings.Contains(id, "/") {
		return ""
	}
	return id
}

// ParticipantEmailEntryStale reports whether the index entry at key
// points at an account that no longer has its address: the account is
// gone, is not a participant's, or has another (or no) email. A key that
// is not an index entry's is not stale (nothing to say about it).
func (s *Service) ParticipantEmailEntryStale(ctx context.Context, key string) (bool, error) {
	id := ParticipantEmailAccount(key)
	if id == "" {
		return false, nil
	}
	var a Account
	if _, err := s.meta.Get(ctx, accountKey(id), &a); errors.Is(err, metastore.ErrNotFound) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	email := a.SignInEmail() // "" unless confirmed: only confirmed addresses are indexed
	return a.Role != policy.RoleParticipant || email == "" || s.ParticipantEmailPrefix(email)+id != key, nil
}

type participantEmail struct{}

// indexParticipantEmail records that participant account id has email.
// Idempotent: an entry already there is kept.
func (s *Service) indexParticipantEmail(ctx context.Context, id, email string) error {
	if email == "" {
		return nil
	}
	_, err := s.meta.Create(ctx, s.ParticipantEmailPrefix(email)+id, participantEmail{})
	if errors.Is(err, metastore.ErrExists) {
		return nil
	}
	return err
}

// SignInLinkCandidates returns the enabled participant accounts whose
// contact email is email and who confirmed it (SignInEmail; staff
// accounts are never among them: they sign in with their password only).
// An index entry whose account is gone is skipped, not deleted: disposal
// deletes an account's entries with it, and the retention sweep what a
// crash left (docs/security.md, "The emailed sign-in link"). A delete here
// would leave the entry's older version in a versioned bucket.
func (s *Service) SignInLinkCandidates(ctx context.Context, email string) ([]Account, error) {
	email = normalizeEmail(email)
	var ids []string
	prefix := s.ParticipantEmailPrefix(email)
	if err := s.meta.List(ctx, prefix, func(key string) error {
		ids = append(ids, strings.TrimPrefix(key, prefix))
		return nil
	}); err != nil {
		return nil, err
	}
	var out []Account
	for _, id := range ids {
		a, err := s.Get(ctx, id)
		if errors.Is(err, fault.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if a.Disabled || a.SignInEmail() != email {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// StaffHasEmail reports whether a staff account (any role but
// participant), enabled or disabled, has email as its address. Staff
// addresses are claimed, one account each (emailKey), so this is one read
// of the claim and one of the account it names; a claim whose account is
// gone, or no longer has the address, is no staff account's.
func (s *Service) StaffHasEmail(ctx context.Context, email string) (bool, error) {
	email = normalizeEmail(email)
	a, err := s.ByEmail(ctx, email)
	if errors.Is(err, fault.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return a.Role != policy.RoleParticipant && normalizeEmail(a.Email) == email, nil
}

// AllowSignInLink counts one request for an emailed sign-in link to email
// from clientAddr against the limits (SignInLinkPerEmail and
// SignInLinkPerAddress per SignInLinkWindow), on every node alike (Redis in
// scale mode). Every request counts, whether or not an account has the
// address, so the answer says nothing about accounts.
func (s *Service) AllowSignInLink(ctx context.Context, email, clientAddr string) error {
	addr := addressKey(clientAddr)
	if err := s.limit(ctx, "link-addr:"+s.meta.IndexKey("addr", addr), SignInLinkPerAddress, SignInLinkWindow); err != nil {
		return err
	}
	if err := s.limit(ctx, "link-email:"+s.meta.IndexKey("email", normalizeEmail(email)), SignInLinkPerEmail, SignInLinkWindow); err != nil {
		return err
	}
	return nil
}
