package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// ErrDisabled: the account is disabled. Sign-in says so only after the
// right password; a session of a disabled account ends.
var ErrDisabled = errors.New("this account is disabled; ask the program administrator to enable it")

// ErrPasswordChangeRequired: an administrator reset the password, and the
// person must choose a new one before anything else.
var ErrPasswordChangeRequired = errors.New("choose a new password first: an administrator reset yours")

// ErrCreatorsPassword: the account's password may be the one the
// administrator who created it chose (Account.CreatorsPassword), so it
// opens nothing: an administrator must request a reset, and a second one
// approve it.
var ErrCreatorsPassword = errors.New("this account's password was chosen by the administrator who created it, so it no longer opens the account: ask an administrator to reset your password; a second administrator approves it and gives you a temporary one")

// ErrLastAdmin: disabling this account would leave no enabled
// administrator.
var ErrLastAdmin = errors.New("this is the last enabled administrator: enable or create another administrator first")

// tempAlphabet has no look-alike characters (no 0/O, 1/l/I), so a
// temporary password can be read out over the phone.
const tempAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// TemporaryPasswordLen is the length of a reset's temporary password
// (about 99 bits).
const TemporaryPasswordLen = 20

func temporaryPassword() string {
	return randomFrom(tempAlphabet, TemporaryPasswordLen)
}

func randomFrom(alphabet string, n int) string {
	out := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		rand.Read(buf)
		// Rejection sampling keeps every character equally likely.
		if int(buf[0]) >= 256-256%len(alphabet) {
			continue
		}
		out[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(out)
}

func (s *Service) staffAccount(ctx context.Context, id string) (Account, error) {
	a, err := s.Get(ctx, id)
	if err != nil {
		return Account{}, err
	}
	if a.Role == policy.RoleParticipant {
		return Account{}, fault.Invalid("account", "participants have no staff account: their mediator manages who takes part in a case")
	}
	return a, nil
}

// Disable stops an account: its open sessions end at once (on every node,
// the record is in the object store; the caller announces it on
// AccountTopic so open WebSockets close), it cannot sign in, and policy
// refuses it everything. The last enabled administrator cannot be
// disabled (ErrLastAdmin).
//
// The last-administrator check reads every account and then writes one:
// two administrators disabling each other at the same moment can both
// pass it. The operator's command line (`parley admin user create`) is the
// way back from that.
//
// audit appends the change's entry first (see Audit); disabling an
// account already disabled changes nothing and appends nothing.
func (s *Service) Disable(ctx context.Context, id string, audit Audit) (Account, error) {
	a, err := s.staffAccount(ctx, id)
	if err != nil {
		return Account{}, err
	}
	if a.Disabled {
		return a, nil
	}
	if a.Role == policy.RoleAdmin {
		list, err := s.List(ctx)
		if err != nil {
			return Account{}, err
		}
		enabled := 0
		for _, o := range list {
			if o.Role == policy.RoleAdmin && !o.Disabled && o.ID != id {
				enabled++
			}
		}
		if enabled == 0 {
			return Account{}, fmt.Errorf("%w: %w", ErrLastAdmin, fault.ErrConflict)
		}
	}
	now := s.now().UTC()
	return s.auditedUpdate(ctx, a, audit, func(a *Account) error {
		a.Disabled = true
		revoke(a, now, newGeneration(a.SessionGeneration))
		return nil
	}, func(a Account) bool { return a.Disabled })
}

// Enable lets a disabled account sign in again. Sessions it had before
// it was disabled stay ended. audit appends its entry first (see Audit).
func (s *Service) Enable(ctx context.Context, id string, audit Audit) (Account, error) {
	cur, err := s.staffAccount(ctx, id)
	if err != nil {
		return Account{}, err
	}
	return s.auditedUpdate(ctx, cur, audit, func(a *Account) error {
		a.Disabled = false
		return nil
	}, func(a Account) bool { return !a.Disabled })
}

// ErrNoPendingReset: no password reset of the account waits for approval
// (it was approved, declined or superseded meanwhile).
var ErrNoPendingReset = errors.New("no password reset of this account is waiting for approval")

// ResetRequestLifetime is how long a waiting password reset request
// (PendingReset) may be approved: an older one is refused
// (ErrResetRequestStale), so an approval weeks later, when the holder may
// long have been working with their own password, gives nobody a
// temporary password on a request nobody renewed.
const ResetRequestLifetime = api.ResetRequestDays * 24 * time.Hour

// ErrResetRequestStale: the waiting reset request is older than
// ResetRequestLifetime; it wraps ErrNoPendingReset (no request that can
// be approved waits).
var ErrResetRequestStale = fmt.Errorf("%s: %w", strings.TrimSuffix(api.ResetRequestTooOld, "."), ErrNoPendingReset)

// ResetRequestStale reports whether p (a waiting request) is older than
// ResetRequestLifetime by the service's clock.
func (s *Service) ResetRequestStale(p *PendingReset) bool {
	return resetRequestStaleAt(p, s.now())
}

// resetRequestStaleAt is the one rule for a stale request: p (a waiting
// request) is older than ResetRequestLifetime at now. Approval, a request
// made again (which replaces a stale one) and the listing
// (api.PasswordResetPending.Stale) all apply it.
func resetRequestStaleAt(p *PendingReset, now time.Time) bool {
	return p != nil && now.Sub(p.Requested) > ResetRequestLifetime
}

// View is a.View() with what only the service knows: whether a waiting
// reset request is stale by the service's clock.
func (s *Service) View(a Account) api.Account {
	v := a.View()
	if v.PendingReset != nil {
		v.PendingReset.Stale = s.ResetRequestStale(a.PendingReset)
	}
	return v
}

// ResetRequestAudit appends the entry of a reset request before it is
// written (see Audit). next is the account as the request leaves it: its
// PendingReset the request that will stand (the one already waiting, or
// this one). replaced names the requester of a stale request this one
// replaces ("" if none).
type ResetRequestAudit func(ctx context.Context, next Account, replaced string) error

// ErrResetRequestChanged: the waiting reset request changed between the
// read that decided what a new request does and its write (another
// administrator asked for the reset, or one was approved or declined,
// meanwhile). Nothing was written; looking again shows where it stands.
var ErrResetRequestChanged = fmt.Errorf("the password reset request changed meanwhile (another administrator acted on it); look again: %w", fault.ErrConflict)

// RequestReset records by's request to reset the account's password and
// ends its sessions at once (safe for one administrator alone: no password
// is made). A second administrator's ApproveReset makes the temporary
// password. A request already waiting is kept as it is (its requester
// stays the first one), unless it is older than ResetRequestLifetime:
// then this one replaces it. The answer's PendingReset says whose it is.
// audit appends its entry first, with what the write will do (see
// ResetRequestAudit); that is decided once, on one clock reading, and the
// write refuses (ErrResetRequestChanged) if the waiting request it finds
// is not the one decided on, so that two administrators asking at once
// cannot both be recorded as the requester while only one is.
func (s *Service) RequestReset(ctx context.Context, id, by string, audit ResetRequestAudit) (Account, error) {
	cur, err := s.staffAccount(ctx, id)
	if err != nil {
		return Account{}, err
	}
	now := s.now().UTC()
	seen := cur.PendingReset
	next := cur
	replaced := ""
	if seen == nil || resetRequestStaleAt(seen, now) {
		next.PendingReset = &PendingReset{RequestedBy: by, Requested: now}
		if seen != nil {
			replaced = seen.RequestedBy
		}
	}
	var onAudit Audit
	if audit != nil {
		onAudit = func(ctx context.Context, _ Account) error { return audit(ctx, next, replaced) }
	}
	want := *next.PendingReset
	// wrote: the (random) session generation this request's last run
	// wrote, so that only its own write reads as landed (a sign-in that
	// raised the generation meanwhile does not).
	var wrote uint64
	return s.auditedUpdate(ctx, cur, onAudit, func(a *Account) error {
		if !samePendingReset(a.PendingReset, seen) {
			return ErrResetRequestChanged
		}
		p := want
		a.PendingReset = &p
		wrote = newGeneration(a.SessionGeneration)
		revoke(a, now, wrote)
		return nil
	}, func(a Account) bool {
		return samePendingReset(a.PendingReset, &want) && wrote != 0 && a.SessionGeneration == wrote
	})
}

// samePendingReset says whether a and b are the same request (or both
// none).
func samePendingReset(a, b *PendingReset) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.RequestedBy == b.RequestedBy && a.Requested.Equal(b.Requested)
}

// ApproveReset carries out the reset requestedBy asked for, approved by
// by: as ResetPassword, and the request is cleared. It fails with
// ErrNoPendingReset (a conflict) if no request by requestedBy waits — the
// caller's policy decision was about that request — and with
// ErrResetRequestStale (a conflict too) if it is older than
// ResetRequestLifetime: the request must be made again.
func (s *Service) ApproveReset(ctx context.Context, id, requestedBy, by string, audit Audit) (Account, string, error) {
	return s.resetPassword(ctx, id, by, audit, func(a *Account) error {
		if a.PendingReset == nil || a.PendingReset.RequestedBy != requestedBy {
			return fmt.Errorf("%w: %w", ErrNoPendingReset, fault.ErrConflict)
		}
		if s.ResetRequestStale(a.PendingReset) {
			return fmt.Errorf("%w: %w", ErrResetRequestStale, fault.ErrConflict)
		}
		a.PendingReset = nil
		return nil
	})
}

// DeclineReset clears a waiting reset request (declined by a second
// administrator or withdrawn by its requester). The account's sessions
// stay ended; its password is unchanged. audit appends its entry first
// (see Audit).
func (s *Service) DeclineReset(ctx context.Context, id string, audit Audit) (Account, error) {
	cur, err := s.staffAccount(ctx, id)
	if err != nil {
		return Account{}, err
	}
	if cur.PendingReset == nil {
		return Account{}, fmt.Errorf("%w: %w", ErrNoPendingReset, fault.ErrConflict)
	}
	// over: the password hash this decline's last write left in place. A
	// password change does not withdraw the request, so it may land
	// between the read above and the write: the decline is written over
	// the changed password, and reads as landed by that one.
	over := cur.PasswordHash
	return s.auditedUpdate(ctx, cur, audit, func(a *Account) error {
		// The request this decline was decided about, not one made since.
		if !samePendingReset(a.PendingReset, cur.PendingReset) {
			return fmt.Errorf("%w: %w", ErrNoPendingReset, fault.ErrConflict)
		}
		a.PendingReset = nil
		over = a.PasswordHash
		return nil
	}, func(a Account) bool {
		// Cleared with the password its write left: an approval that
		// cleared it (a new password) is not this decline.
		return a.PendingReset == nil && a.PasswordHash == over
	})
}

// ResetPassword replaces an account's password with a temporary one,
// returned once, ends its sessions, and requires the person to choose a
// new password at their next sign-in before anything else. by (the
// administrator) joins the account's lineage with everyone who controls
// by (its own lineage, transitively: Control): having held a password
// that opens it, none of them is independent of it any more
// (proposals.cedar). Independence checks still take Control of the
// account at decision time, so a later reset of an ancestor counts too.
//
// Policy allows it in one step only for administrator accounts; a
// mediator's or records clerk's password is reset by RequestReset and a
// second administrator's ApproveReset (policy/passwordreset.cedar).
//
// audit appends the reset's entry before the password is changed (see
// Audit): a reset that cannot be audited changes nothing (a request
// waiting for approval still waits), and a temporary password that was
// stored is always returned.
func (s *Service) ResetPassword(ctx context.Context, id, by string, audit Audit) (Account, string, error) {
	return s.resetPassword(ctx, id, by, audit, nil)
}

func (s *Service) resetPassword(ctx context.Context, id, by string, audit Audit, check func(*Account) error) (Account, string, error) {
	cur, err := s.staffAccount(ctx, id)
	if err != nil {
		return Account{}, "", err
	}
	if check != nil {
		// Refused before its entry is appended (checked again in the write).
		probe := cur
		if err := check(&probe); err != nil {
			return Account{}, "", err
		}
	}
	// Whoever resets the password holds the account from now on, and so
	// does everyone who holds them: the resetter joins the lineage with
	// everyone who controls it (Control), not alone.
	var joins []string
	if by != "" {
		resetter, err := s.ControlOf(ctx, by)
		if err != nil {
			return Account{}, "", fmt.Errorf("the administrator resetting: %w", err)
		}
		joins = append([]string{by}, resetter.Lineage...)
	}
	pw := temporaryPassword()
	hash, err := hashPasswordGated(ctx, pw)
	if err != nil {
		return Account{}, "", err
	}
	now := s.now().UTC()
	a, err := s.auditedUpdate(ctx, cur, audit, func(a *Account) error {
		if check != nil {
			if err := check(a); err != nil {
				return err
			}
		}
		a.PasswordHash = hash
		a.PasswordChangeRequired = true
		a.OwnPassword = false
		revoke(a, now, newGeneration(a.SessionGeneration))
		for _, j := range joins {
			if j != a.ID && !slices.Contains(a.Lineage, j) {
				a.Lineage = append(a.Lineage, j)
			}
		}
		return nil
	}, func(a Account) bool { return a.PasswordHash == hash })
	if err != nil {
		return Account{}, "", err
	}
	return a, pw, nil
}

// ChangePassword sets the account's own new password after checking the
// current one (every attempt counts against the sign-in limits, as a
// sign-in of the account from clientAddr would: reserveGuess; a right
// one gives its reservation back). Every session of the account ends, and
// a new one is opened for the caller and returned. audit appends the
// change's entry once the current password checked out and before the new
// one is stored (see Audit): a change that cannot be audited leaves the
// current password. A reset, reset request or revocation that lands during
// the check refuses the change with ErrChangedMeanwhile (nothing written);
// a change written whose new session then cannot be opened returns the
// account and ErrSessionNotOpened (the change stands). A reset request
// waiting for approval is left waiting: whoever knows the password (the
// reason a reset is asked for) can change it, and must not withdraw the
// request by doing so.
func (s *Service) ChangePassword(ctx context.Context, id, current, next, clientAddr string, audit Audit) (Account, string, Session, error) {
	if err := ValidatePassword("newPassword", next); err != nil {
		return Account{}, "", Session{}, err
	}
	if current == next {
		return Account{}, "", Session{}, fault.Invalid("newPassword", "must differ from the current password")
	}
	a, err := s.staffAccount(ctx, id)
	if err != nil {
		return Account{}, "", Session{}, err
	}
	// A guess at the current password is a sign-in attempt: it spends the
	// same budgets (per address, per account and address, the account's
	// budget for unfamiliar addresses), so a stolen session token gives
	// no more guesses than the sign-in page does.
	undo, _, err := s.reserveGuess(ctx, a.Email, clientAddr)
	if err != nil {
		return Account{}, "", Session{}, err
	}
	ok := false
	if a.PasswordHash != "" && len(current) <= MaxPasswordLen {
		if ok, err = checkPasswordGated(ctx, a.PasswordHash, current); err != nil {
			undo()
			return Account{}, "", Session{}, err
		}
	}
	if !ok {
		return Account{}, "", Session{}, fault.Invalid("currentPassword", "is not your current password")
	}
	undo()
	hash, err := hashPasswordGated(ctx, next)
	if err != nil {
		return Account{}, "", Session{}, err
	}
	// Every session opened so far ends; the new one carries the
	// generation this change writes (gen), not that of a record read
	// afterwards: should the write answer an error and the record read
	// back show a revocation written after the change, the new session
	// ends with it.
	now := s.now().UTC()
	gen := newGeneration(a.SessionGeneration)
	checked, readGen := a.PasswordHash, a.SessionGeneration
	a, err = s.auditedUpdate(ctx, a, audit, func(a *Account) error {
		// Only over the record whose password was checked: a reset, a
		// reset request or a revocation that landed during the check (the
		// update reads the record again on a conflict) stands, and this
		// change is refused rather than undoing it.
		if a.PasswordHash != checked || a.SessionGeneration != readGen {
			return ErrChangedMeanwhile
		}
		a.PasswordHash = hash
		a.PasswordChangeRequired = false
		a.OwnPassword = true
		revoke(a, now, gen)
		// A reset waiting for approval stays: it is asked for when
		// someone else may know the password, and whoever knows it can
		// change it. An approval makes the temporary password over this
		// one; a holder who simply remembered their password has the
		// request declined by an administrator.
		return nil
	}, func(a Account) bool { return a.PasswordHash == hash })
	if err != nil {
		return Account{}, "", Session{}, err
	}
	opened := a
	opened.SessionGeneration = gen
	token, sess, err := s.newSession(ctx, opened, false)
	if err != nil {
		// The change stands (its entry is true): only the caller's new
		// session is missing.
		return a, "", Session{}, fmt.Errorf("%w: %w", ErrSessionNotOpened, err)
	}
	return a, token, sess, nil
}

// ErrChangedMeanwhile: a password change refused, nothing written, because
// the account's password or sessions changed while its current password
// was checked (a reset, a reset request, a revocation): that change stands
// and has ended the caller's session.
var ErrChangedMeanwhile = fmt.Errorf("your password was not changed: your sessions were ended or your password was reset meanwhile: %w", fault.ErrUnauthenticated)

// ErrSessionNotOpened: a password change was written (it stands, and ended
// every session of the account), but the session it opens for the caller
// could not be; the error wraps why. The caller signs in with the new
// password.
var ErrSessionNotOpened = errors.New("your password was changed, but you could not be signed in with it")
