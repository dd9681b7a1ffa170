package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
)

// Audit appends the audit entry of an account change before the change is
// written (docs/security.md, "What the audit log is guaranteed to hold"):
// a change that cannot be audited is not made, so no account changes
// unaudited and no secret a change makes (a temporary password, a new
// session) is made and then thrown away for want of its entry. It is
// called once the change is decided (after its checks), with the account
// as it stands (for Create, as it will be); an error from it stops the
// change with nothing written, and is returned. nil audits nothing.
//
// If the write then fails, the change returns its error; the caller
// follows its entry (audit.Settle): with a ".failed" entry, or, when the
// error wraps ErrOutcomeUnknown, an ".unknown" one. A write that answered
// an error but landed (read back) is answered as done.
type Audit func(ctx context.Context, a Account) error

// ErrOutcomeUnknown: a change's write failed with an error and the account
// could not be read back to tell whether it was made anyway.
var ErrOutcomeUnknown = errors.New("the change's outcome is unknown: its write failed and the account could not be read back")

// settleWindow bounds the read-back after a failed write; the request's
// context may have ended.
const settleWindow = 10 * time.Second

// auditedUpdate appends cur's change's entry (audit), then applies change
// to the stored account. change's own refusal (a check that no longer
// holds) is returned as it is: nothing was written. Any other error does
// not prove the write absent (a store may commit and still answer an
// error), so the account is read back on a context of its own: if landed
// says the change is there, the read account is the answer; if the read
// fails, the error wraps ErrOutcomeUnknown.
func (s *Service) auditedUpdate(ctx context.Context, cur Account, audit Audit, change func(*Account) error, landed func(Account) bool) (Account, error) {
	if audit != nil {
		if err := audit(ctx, cur); err != nil {
			return Account{}, err
		}
	}
	var refused error
	var mine Account
	runs := 0
	a, err := metastore.Update(ctx, s.meta, accountKey(cur.ID), func(a *Account) error {
		// A run after the first follows a conflict, which may be this
		// change's own write: a conditional PUT retried after it landed
		// comes back 412. Then the change is there, and is done.
		if runs++; runs > 1 && landed != nil && landed(*a) {
			mine, refused = *a, errLandedAlready
			return refused
		}
		refused = change(a)
		return refused
	})
	if errors.Is(refused, errLandedAlready) {
		return mine, nil
	}
	if err == nil || refused != nil {
		return a, err
	}
	return s.readBack(ctx, cur.ID, err, landed)
}

// errLandedAlready: auditedUpdate's change found, on a run after a
// conflict, its own earlier write in the account; answered as done.
var errLandedAlready = errors.New("the change is already in the account")

// readBack decides a write that failed with err: the stored account if
// landed says the change is in it, err if not, err wrapping
// ErrOutcomeUnknown if the account cannot be read.
func (s *Service) readBack(ctx context.Context, id string, err error, landed func(Account) bool) (Account, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleWindow)
	defer cancel()
	got, rerr := s.Get(rctx, id)
	if errors.Is(rerr, fault.ErrNotFound) {
		return Account{}, err // not there: not made
	}
	if rerr != nil {
		return Account{}, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	}
	if landed(got) {
		return got, nil
	}
	return Account{}, err
}
