package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
)

// Session is a signed-in account. The token itself is never stored.
type Session struct {
	AccountID string    `json:"accountId"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
}

// ErrBadCredentials: the email or the password is wrong (never says which).
var ErrBadCredentials = fmt.Errorf("email or password is wrong: %w", fault.ErrUnauthenticated)

func (s *Service) sessionKey(token string) string {
	return "sessions/" + s.meta.IndexKey("session", token)
}

// Login checks an email and password and opens a session. clientAddr is the
// caller's network address, for the per-address attempt limit.
func (s *Service) Login(ctx context.Context, email, password, clientAddr string) (Account, string, Session, error) {
	if len(password) > MaxPasswordLen || len(email) > MaxEmailLen {
		return Account{}, "", Session{}, ErrBadCredentials
	}
	if err := s.limit(ctx, "login-addr:"+s.meta.IndexKey("addr", clientAddr), s.LoginLimitPerAddress); err != nil {
		return Account{}, "", Session{}, err
	}
	if err := s.limit(ctx, "login-acct:"+s.meta.IndexKey("email", normalizeEmail(email)), s.LoginLimitPerAccount); err != nil {
		return Account{}, "", Session{}, err
	}
	a, err := s.ByEmail(ctx, email)
	if err != nil {
		if errors.Is(err, fault.ErrNotFound) {
			checkPassword(dummyHash, password)
			return Account{}, "", Session{}, ErrBadCredentials
		}
		return Account{}, "", Session{}, err
	}
	hash := a.PasswordHash
	if hash == "" {
		hash = dummyHash
	}
	ok, err := checkPassword(hash, password)
	if err != nil {
		return Account{}, "", Session{}, err
	}
	if !ok || a.PasswordHash == "" || a.Disabled {
		return Account{}, "", Session{}, ErrBadCredentials
	}
	token, sess, err := s.NewSession(ctx, a.ID)
	if err != nil {
		return Account{}, "", Session{}, err
	}
	return a, token, sess, nil
}

func (s *Service) limit(ctx context.Context, key string, n int) error {
	ok, retry, err := s.limiter.Allow(ctx, key, n, s.LoginWindow)
	if err != nil {
		return fmt.Errorf("rate limiter: %w", err)
	}
	if !ok {
		return &fault.RateLimitedError{RetryAfter: retry}
	}
	return nil
}

// NewSession opens a session for an account (after a password check or an
// invite redemption) and returns its token.
func (s *Service) NewSession(ctx context.Context, accountID string) (string, Session, error) {
	token := ids.Token()
	now := s.now().UTC()
	sess := Session{AccountID: accountID, Created: now, Expires: now.Add(s.SessionTTL)}
	if _, err := s.meta.Create(ctx, s.sessionKey(token), sess); err != nil {
		return "", Session{}, err
	}
	return token, sess, nil
}

// Authenticate resolves a token to its account. Unknown, expired or revoked
// tokens, and disabled accounts, fail with fault.ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (Account, Session, error) {
	if len(token) != 43 {
		return Account{}, Session{}, fmt.Errorf("session: %w", fault.ErrUnauthenticated)
	}
	var sess Session
	if _, err := s.meta.Get(ctx, s.sessionKey(token), &sess); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return Account{}, Session{}, fmt.Errorf("session: %w", fault.ErrUnauthenticated)
		}
		return Account{}, Session{}, err
	}
	if !s.now().Before(sess.Expires) {
		return Account{}, Session{}, fmt.Errorf("session expired: %w", fault.ErrUnauthenticated)
	}
	a, err := s.Get(ctx, sess.AccountID)
	if errors.Is(err, fault.ErrNotFound) {
		return Account{}, Session{}, fmt.Errorf("session: %w", fault.ErrUnauthenticated)
	}
	if err != nil {
		// The store could not answer: say so (503), rather than telling a
		// signed-in person to sign in again.
		return Account{}, Session{}, err
	}
	if a.Disabled {
		return Account{}, Session{}, fmt.Errorf("account disabled: %w", fault.ErrUnauthenticated)
	}
	if a.SessionsNotBefore != nil && !sess.Created.After(*a.SessionsNotBefore) {
		return Account{}, Session{}, fmt.Errorf("session revoked: %w", fault.ErrUnauthenticated)
	}
	return a, sess, nil
}

// RevokeSessions ends every session the account has open now, on every
// node (the account record is in the object store); later sign-ins work.
// Open WebSockets close once told on AccountTopic (or at their next
// periodic session check).
func (s *Service) RevokeSessions(ctx context.Context, id string) error {
	if !ids.Valid("u", id) {
		return fmt.Errorf("account: %w", fault.ErrNotFound)
	}
	now := s.now().UTC()
	_, err := metastore.Update(ctx, s.meta, accountKey(id), func(a *Account) error {
		a.SessionsNotBefore = &now
		return nil
	})
	if errors.Is(err, metastore.ErrNotFound) {
		return fmt.Errorf("account %s: %w", id, fault.ErrNotFound)
	}
	return err
}

// AccountTopic is the broker topic announcing that all of an account's
// sessions were revoked.
func AccountTopic(id string) string { return "account-sessions:" + id }

// SessionTopic is the broker topic on which a sign-out of token is
// announced to every node, so its open WebSockets close. It is a keyed
// hash (its own domain, not the record's key): Redis never sees a token.
func (s *Service) SessionTopic(token string) string {
	return "session:" + s.meta.IndexKey("session-topic", token)
}

// Logout revokes a session on every node: its record is deleted.
func (s *Service) Logout(ctx context.Context, token string) error {
	if len(token) != 43 {
		return nil
	}
	return s.meta.Delete(ctx, s.sessionKey(token))
}
