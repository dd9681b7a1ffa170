package account

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
)

// Session is a signed-in account. The token itself is never stored.
//
// A session slides: Expires is the end of its idle window, pushed forward
// by use (Authenticate), but never past Cap, the absolute end counted from
// sign-in. Sessions written before Cap existed end at Created plus
// SessionMaxAge.
//
// Generation is the account's SessionGeneration when the session was
// opened: the session is revoked once the account's generation moved on
// (see revoked). It is never 0 (newSession). Sessions written before
// generations existed have none (nil), and those a release that counted
// from 0 opened at 0 are judged as they are: by the account's
// SessionsNotBefore, as they were.
type Session struct {
	AccountID  string    `json:"accountId"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	Cap        time.Time `json:"cap,omitzero"`
	Generation *uint64   `json:"generation,omitempty"`
	// ByMediatorLink: the session was opened by a re-entry link a mediator
	// made (cases.CreateReentry), whose token the mediator held. Whoever
	// holds it is not necessarily the participant, so it cannot register
	// the account's first device (keydir.RegisterInSession): that device
	// is the root of what counts as the participant's own consent. False
	// for a staff password sign-in, an invitation's join and an emailed
	// sign-in link (sent only to the address the participant confirmed).
	ByMediatorLink bool `json:"byMediatorLink,omitempty"`
}

// revoked reports whether a revocation of the account's sessions
// (RevokeSessions, a disabling, a password reset or change) was written
// after sess was opened. It compares no clocks: the revocation gives the
// account a new SessionGeneration, a random number, by a conditional write
// in the object store, and a session carries the generation of the account
// record it was opened from, so whichever node's clock is ahead or behind,
// a session opened before a revocation is caught by it and one opened
// after it is not.
//
// Generations are random, and no session is opened at generation 0, so an
// account record that loses its generation (rewritten by an older release
// that drops the field, back at 0) or gets a new one never matches a
// session revoked before: such a session stays ended (TestRollbackKeepsRevokedSessionsEnded).
//
// A session without a generation (from before generations existed, or at
// 0 from the release that counted from 0) is revoked by any revocation
// since (the account's generation is no longer 0), and otherwise, as
// before, if it was opened at or before SessionsNotBefore; such sessions
// are gone at most SessionMaxAge after the upgrade.
func revoked(a Account, sess Session) bool {
	if sess.Generation != nil && *sess.Generation != 0 {
		return *sess.Generation != a.SessionGeneration
	}
	if a.SessionGeneration != 0 {
		return true
	}
	return a.SessionsNotBefore != nil && !sess.Created.After(*a.SessionsNotBefore)
}

// maxGeneration bounds a session generation to 53 bits, so the number
// survives any JSON reader (a float64 holds every integer up to 2⁵³
// exactly: a larger one read and written back by a tool or a script
// would come back changed, revoking every session of the account).
const maxGeneration = 1<<53 - 1

// newGeneration returns a random session generation in [1, 2⁵³), not not.
func newGeneration(not uint64) uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if g := binary.BigEndian.Uint64(b[:]) & maxGeneration; g != 0 && g != not {
			return g
		}
	}
}

// revoke ends every session a has open: the account takes generation gen
// (from newGeneration), so every session opened from an earlier read of
// the record is revoked. It is applied inside a conditional update of the
// record (metastore.Update). SessionsNotBefore is kept (this node's
// clock) for the sessions without a generation and for older releases,
// which read only it; it only moves forward (at least a nanosecond per
// revocation, whatever this node's clock says), so a revocation on a node
// whose clock is behind brings back no session an older release ended, and
// each revocation leaves a different one (raiseGeneration tells a
// revocation from a raise by it).
func revoke(a *Account, now time.Time, gen uint64) {
	a.SessionGeneration = gen
	if a.SessionsNotBefore != nil && !now.After(*a.SessionsNotBefore) {
		now = a.SessionsNotBefore.Add(time.Nanosecond)
	}
	a.SessionsNotBefore = &now
}

// end is the session's absolute end.
func (s *Service) end(sess Session) time.Time {
	if !sess.Cap.IsZero() {
		return sess.Cap
	}
	return sess.Created.Add(s.SessionMaxAge)
}

// ErrBadCredentials: the email or the password is wrong (never says which).
var ErrBadCredentials = fmt.Errorf("email or password is wrong: %w", fault.ErrUnauthenticated)

func (s *Service) sessionKey(token string) string {
	return "sessions/" + s.meta.IndexKey("session", token)
}

// Login checks an email and password and opens a session. clientAddr is the
// caller's network address, for the attempt limits.
//
// The limits keep guessing bounded without letting a stranger lock the real
// person out (docs/security.md, "Password guessing"):
//
//  1. every attempt from an address counts against LoginLimitPerAddress;
//  2. an attempt reserves one wrong-password slot for this account from
//     this address (LoginLimitPerPair); a right password gives it back;
//  3. from an address the account has not signed in from within
//     LoginTrustTTL, it also reserves one slot of the account's
//     LoginLimitPerAccount; once those are spent, such addresses share a
//     single attempt per LoginSlowInterval. An address the account signed
//     in from is never held back by failures from elsewhere.
//
// Reserving before the password check (instead of counting after) keeps the
// bounds exact under concurrent attempts. Refused attempts never reach the
// password check, so they reveal nothing.
func (s *Service) Login(ctx context.Context, email, password, clientAddr string) (Account, string, Session, error) {
	if len(password) > MaxPasswordLen || len(email) > MaxEmailLen {
		return Account{}, "", Session{}, ErrBadCredentials
	}
	email = normalizeEmail(email)
	undo, knownKey, err := s.reserveGuess(ctx, email, clientAddr)
	if err != nil {
		return Account{}, "", Session{}, err
	}
	a, err := s.ByEmail(ctx, email)
	if err != nil {
		if errors.Is(err, fault.ErrNotFound) {
			if _, err := checkPasswordGated(ctx, dummyHash(), password); err != nil {
				// Nothing was checked (the node is busy): the guess
				// is given back.
				undo()
				return Account{}, "", Session{}, err
			}
			return Account{}, "", Session{}, ErrBadCredentials
		}
		undo()
		return Account{}, "", Session{}, err
	}
	hash := a.PasswordHash
	if hash == "" {
		hash = dummyHash()
	}
	ok, err := checkPasswordGated(ctx, hash, password)
	if err != nil {
		undo()
		return Account{}, "", Session{}, err
	}
	if !ok || a.PasswordHash == "" {
		return Account{}, "", Session{}, ErrBadCredentials
	}
	if a.Disabled {
		// Only someone who knows the password learns that the account
		// exists and is disabled.
		undo()
		return a, "", Session{}, fmt.Errorf("%w: %w", ErrDisabled, fault.ErrForbidden)
	}
	if a.CreatorsPassword() {
		// Its creator knows this password too: only someone who knows it
		// learns this, and is told to ask for a reset.
		undo()
		return a, "", Session{}, fmt.Errorf("%w: %w", ErrCreatorsPassword, fault.ErrForbidden)
	}
	// The session carries the generation of the record read before the
	// password check: a revocation written since (a disabling meanwhile)
	// ends it.
	token, sess, err := s.newSession(ctx, a, false)
	if err != nil {
		undo()
		return Account{}, "", Session{}, err
	}
	undo()
	// A failure here is not fatal: the address is merely not remembered
	// this time.
	_ = s.limiter.Remember(context.WithoutCancel(ctx), knownKey, s.LoginTrustTTL)
	return a, token, sess, nil
}

// reserveGuess reserves one password guess for the account with this
// email from clientAddr, against the sign-in limits (docs/security.md,
// "Password guessing"): per address, per account and address, and, from
// an address the account has not signed in from lately, the account's
// budget for such addresses and then its slow lane. Sign-in and
// change-password (which checks the current password) both spend it. undo
// gives the reservations back (after a right password, or a refusal that
// never reached the password check); knownKey is the key that remembers
// the address after a successful sign-in.
func (s *Service) reserveGuess(ctx context.Context, email, clientAddr string) (undo func(), knownKey string, err error) {
	addr := addressKey(clientAddr)
	if err := s.limit(ctx, "login-addr:"+s.meta.IndexKey("addr", addr), s.LoginLimitPerAddress, s.LoginWindow); err != nil {
		return nil, "", err
	}
	pair := s.meta.IndexKey("login-pair", email+"\x00"+addr)
	pairKey := "login-pair:" + pair
	knownKey = "login-known:" + pair
	acctKey := "login-acct:" + s.meta.IndexKey("email", email)
	if err := s.limit(ctx, pairKey, s.LoginLimitPerPair, s.LoginWindow); err != nil {
		return nil, "", err
	}
	// A failure to give a reservation back only makes the limit
	// stricter, so it is not an error.
	var reserved []string
	undo = func() {
		for _, k := range reserved {
			s.limiter.Undo(context.WithoutCancel(ctx), k)
		}
	}
	reserved = append(reserved, pairKey)
	known, err := s.limiter.Count(ctx, knownKey)
	if err != nil {
		undo()
		return nil, "", fmt.Errorf("rate limiter: %w", err)
	}
	if known == 0 {
		err := s.limit(ctx, acctKey, s.LoginLimitPerAccount, s.LoginWindow)
		if _, limited := fault.AsRateLimited(err); limited {
			// The account's budget for unknown addresses is spent: the
			// slow lane, one attempt per interval shared by all of them.
			slowKey := "login-slow:" + s.meta.IndexKey("email", email)
			err = s.limit(ctx, slowKey, 1, s.LoginSlowInterval)
			if err == nil {
				reserved = append(reserved, slowKey)
			}
		} else if err == nil {
			reserved = append(reserved, acctKey)
		}
		if err != nil {
			undo()
			return nil, "", err
		}
	}
	return undo, knownKey, nil
}

// addressKey is the unit the per-address limits count: an IPv4 address, or
// the /64 prefix of an IPv6 address (one subscriber usually holds a whole
// /64, so counting single IPv6 addresses would give them 2^64 budgets).
func addressKey(addr string) string {
	ip, err := netip.ParseAddr(strings.Trim(addr, "[]"))
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p.String()
}

func (s *Service) limit(ctx context.Context, key string, n int, window time.Duration) error {
	ok, retry, err := s.limiter.Allow(ctx, key, n, window)
	if err != nil {
		return fmt.Errorf("rate limiter: %w", err)
	}
	if !ok {
		return &fault.RateLimitedError{RetryAfter: retry}
	}
	return nil
}

// NewSession opens a session for account a, as the caller read and
// checked it (after a password check or an invite redemption), and returns
// its token. The session belongs to the account's sessions as they were at
// that read: a revocation written since (a disabling, a participant's
// removal landing after the caller's checks) ends it, as does a later one.
func (s *Service) NewSession(ctx context.Context, a Account) (string, Session, error) {
	return s.newSession(ctx, a, false)
}

// NewMediatorLinkSession is NewSession for a re-entry link a mediator made
// (Session.ByMediatorLink).
func (s *Service) NewMediatorLinkSession(ctx context.Context, a Account) (string, Session, error) {
	return s.newSession(ctx, a, true)
}

// errRevokedMeanwhile: the account's sessions were revoked between the
// caller's read of the account and the opening of its session.
var errRevokedMeanwhile = fmt.Errorf("the account's sessions were ended meanwhile: %w", fault.ErrUnauthenticated)

// newSession opens a session of a's generation, as the caller read the
// record: a revocation written after that read ends it. An account at
// generation 0 (made before generations were random, or rewritten by an
// older release that drops the field) first takes a random one
// (raiseGeneration): no session is opened at 0, which a dropped field would
// bring back.
func (s *Service) newSession(ctx context.Context, a Account, byMediatorLink bool) (string, Session, error) {
	gen := a.SessionGeneration
	if gen == 0 {
		var err error
		if gen, err = s.raiseGeneration(ctx, a); err != nil {
			return "", Session{}, err
		}
	}
	token := ids.Token()
	now := s.now().UTC()
	sess := Session{AccountID: a.ID, Created: now, Expires: now.Add(s.SessionTTL), Cap: now.Add(s.SessionMaxAge), Generation: &gen, ByMediatorLink: byMediatorLink}
	if sess.Expires.After(sess.Cap) {
		sess.Expires = sess.Cap
	}
	if _, err := s.meta.Create(ctx, s.sessionKey(token), sess); err != nil {
		return "", Session{}, err
	}
	return token, sess, nil
}

// errRaised stops raiseGeneration's update: another sign-in raised the
// generation first.
var errRaised = errors.New("generation raised meanwhile")

// raiseGeneration gives the account read (at generation 0) a random
// generation, by a conditional write, and returns it. Another sign-in may
// have raised it meanwhile: its generation is returned. A revocation
// written since the read (it moved SessionsNotBefore) fails with
// errRevokedMeanwhile: no session of the record read may be opened.
func (s *Service) raiseGeneration(ctx context.Context, read Account) (uint64, error) {
	var gen uint64
	_, err := metastore.Update(ctx, s.meta, accountKey(read.ID), func(a *Account) error {
		if !sameTime(a.SessionsNotBefore, read.SessionsNotBefore) {
			return errRevokedMeanwhile
		}
		if a.SessionGeneration != 0 {
			gen = a.SessionGeneration
			return errRaised
		}
		a.SessionGeneration = newGeneration(0)
		gen = a.SessionGeneration
		return nil
	})
	switch {
	case errors.Is(err, errRaised):
		return gen, nil
	case errors.Is(err, metastore.ErrNotFound):
		return 0, fmt.Errorf("account %s: %w", read.ID, fault.ErrNotFound)
	case err != nil:
		return 0, err
	}
	return gen, nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Authenticate resolves a token to its account. Unknown, expired or revoked
// tokens, and disabled accounts, fail with fault.ErrUnauthenticated.
//
// Each use slides the session: once less than half of its idle window
// (SessionTTL) is left, the window starts again from now, up to the
// session's absolute end (SessionMaxAge from sign-in). So a session is
// written at most once per half window, not on every request.
func (s *Service) Authenticate(ctx context.Context, token string) (Account, Session, error) {
	if len(token) != 43 {
		return Account{}, Session{}, fmt.Errorf("session: %w", fault.ErrUnauthenticated)
	}
	var sess Session
	ver, err := s.meta.Get(ctx, s.sessionKey(token), &sess)
	if err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return Account{}, Session{}, fmt.Errorf("session: %w", fault.ErrUnauthenticated)
		}
		return Account{}, Session{}, err
	}
	now := s.now()
	if !now.Before(sess.Expires) || !now.Before(s.end(sess)) {
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
		return Account{}, Session{}, fmt.Errorf("%w: %w", ErrDisabled, fault.ErrUnauthenticated)
	}
	if a.CreatorsPassword() {
		// A session opened with the creator's password (before the
		// upgrade) ends too.
		return Account{}, Session{}, fmt.Errorf("%w: %w", ErrCreatorsPassword, fault.ErrUnauthenticated)
	}
	if revoked(a, sess) {
		return Account{}, Session{}, fmt.Errorf("session revoked: %w", fault.ErrUnauthenticated)
	}
	return a, s.slide(ctx, token, ver, sess, now), nil
}

// slide starts the session's idle window again when less than half of it
// is left, never past its absolute end. A failed write is not an error:
// the session is valid now and the next use tries again. The write is
// conditional on the version read, so it cannot bring back a session that
// a sign-out deleted meanwhile.
func (s *Service) slide(ctx context.Context, token string, ver string, sess Session, now time.Time) Session {
	if s.SessionTTL <= 0 || sess.Expires.Sub(now) >= s.SessionTTL/2 {
		return sess
	}
	next := now.UTC().Add(s.SessionTTL)
	if end := s.end(sess); next.After(end) {
		next = end
	}
	if !next.After(sess.Expires) {
		return sess
	}
	moved := sess
	moved.Expires = next
	if _, err := s.meta.Replace(ctx, s.sessionKey(token), moved, ver); err != nil {
		return sess
	}
	return moved
}

// RevokeSessions ends every session the account has open now, on every
// node (the account record is in the object store: it takes a new
// SessionGeneration, see revoked); later sign-ins work. Open WebSockets close once
// told on AccountTopic (or at their next periodic session check).
func (s *Service) RevokeSessions(ctx context.Context, id string) error {
	if !ids.Valid("u", id) {
		return fmt.Errorf("account: %w", fault.ErrNotFound)
	}
	now := s.now().UTC()
	_, err := metastore.Update(ctx, s.meta, accountKey(id), func(a *Account) error {
		revoke(a, now, newGeneration(a.SessionGeneration))
		return nil
	})
	if errors.Is(err, metastore.ErrNotFound) {
		return fmt.Errorf("account %s: %w", id, fault.ErrNotFound)
	}
	return err
}

// RevokeSessionsAudited is RevokeSessions for a person's request (an
// administrator ending someone's sessions): audit appends the change's
// entry first (see Audit), so sessions are never ended unaudited; if it
// fails nothing is changed. It answers the account as stored after.
func (s *Service) RevokeSessionsAudited(ctx context.Context, id string, audit Audit) (Account, error) {
	if !ids.Valid("u", id) {
		return Account{}, fmt.Errorf("account: %w", fault.ErrNotFound)
	}
	cur, err := s.Get(ctx, id)
	if err != nil {
		return Account{}, err
	}
	now := s.now().UTC()
	var gen uint64
	return s.auditedUpdate(ctx, cur, audit, func(a *Account) error {
		gen = newGeneration(a.SessionGeneration)
		revoke(a, now, gen)
		return nil
	}, func(a Account) bool { return gen != 0 && a.SessionGeneration == gen })
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
