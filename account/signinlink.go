package account

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
)

// Limits on asking for an emailed sign-in link (docs/security.md, "The
// emailed sign-in link"), per SignInLinkWindow: per address asked for, and
// per client address (IPv6 per /64, as sign-in counts them).
const (
	SignInLinkPerEmail   = 3
	SignInLinkPerAddress = 20
	SignInLinkWindow     = 15 * time.Minute
)

// participantEmailPrefix is where a participant's confirmed email is
// indexed (ConfirmParticipantEmail): participant-emails/<keyed hash of
// the email>/<account id>, an empty record. Unlike a staff account's sign-in email (emailKey) it is
// not claimed: one person joining several cases has one account per case,
// all with the same email.
func (s *Service) participantEmailPrefix(email string) string {
	return "participant-emails/" + s.meta.IndexKey("participant-email", normalizeEmail(email)) + "/"
}

type participantEmail struct{}

// indexParticipantEmail records that participant account id has email.
// Idempotent: an entry already there is kept.
func (s *Service) indexParticipantEmail(ctx context.Context, id, email string) error {
	if email == "" {
		return nil
	}
	_, err := s.meta.Create(ctx, s.participantEmailPrefix(email)+id, participantEmail{})
	if errors.Is(err, metastore.ErrExists) {
		return nil
	}
	return err
}

// SignInLinkCandidates returns the enabled participant accounts whose
// contact email is email and who confirmed it (SignInEmail; staff
// accounts are never among them: they sign in with their password only). An index entry whose account is gone (a
// disposed case's participant) is deleted on the way.
func (s *Service) SignInLinkCandidates(ctx context.Context, email string) ([]Account, error) {
	email = normalizeEmail(email)
	var ids []string
	prefix := s.participantEmailPrefix(email)
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
			_ = s.meta.Delete(ctx, prefix+id)
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
