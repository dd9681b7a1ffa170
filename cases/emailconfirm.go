package cases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// EmailConfirmationTTL is how long a link confirming a participant's
// address for sign-in links works.
const EmailConfirmationTTL = 24 * time.Hour

// EmailConfirmation is a link, mailed to a participant's contact address
// at their request while signed in, that confirms the address for emailed
// sign-in links (docs/security.md, "The emailed sign-in link"). Stored at
// email-confirmations/<keyed hash of the token>; the token itself is only
// in the mail, and the address only as a keyed hash (EmailHash: the
// address on file when it was asked for, which must still be on file when
// it is used). Deleted once used.
type EmailConfirmation struct {
	AccountID string     `json:"accountId"`
	CaseID    string     `json:"caseId"`
	EmailHash string     `json:"emailHash"`
	Created   time.Time  `json:"created"`
	Expires   time.Time  `json:"expires"`
	Used      *time.Time `json:"used,omitempty"`
}

// IssuedEmailConfirmation is the confirmation link's token, returned once
// to be mailed to Email.
type IssuedEmailConfirmation struct {
	CaseID  string
	Token   string
	Email   string
	Expires time.Time
}

// ErrNoAddressToConfirm: the account has no address on file, or is not a
// participant of the case (staff confirm nothing: they sign in with their
// password only).
var ErrNoAddressToConfirm = fmt.Errorf("there is no address to confirm for signing in: %w", fault.ErrConflict)

// ErrConfirmationNotYours: a confirmation link opened while signed in as
// another account (or none). It is not spent.
var ErrConfirmationNotYours = fmt.Errorf("confirmation link belongs to another account: %w", fault.ErrForbidden)

// emailHash is the keyed hash an EmailConfirmation keeps of the address.
func (s *Service) emailHash(email string) string {
	return s.meta.IndexKey("email-confirmation-address", strings.ToLower(strings.TrimSpace(email)))
}

func (s *Service) emailConfirmationKey(token string) string {
	return "email-confirmations/" + s.meta.IndexKey("email-confirmation", token)
}

// RequestEmailConfirmation makes a link confirming actor's contact
// address for emailed sign-in links; the caller mails it to that address
// (IssuedEmailConfirmation.Email) and to no other. actor must be an
// enabled participant of the open case caseID with an address on file.
// Audited as account.email.confirmation.requested, with the token's keyed
// hash and never the address.
func (s *Service) RequestEmailConfirmation(ctx context.Context, actor account.Account, caseID string) (IssuedEmailConfirmation, error) {
	acct, err := s.accounts.Get(ctx, actor.ID)
	if err != nil {
		return IssuedEmailConfirmation{}, err
	}
	if acct.Role != policy.RoleParticipant || acct.Disabled || acct.Email == "" {
		return IssuedEmailConfirmation{}, ErrNoAddressToConfirm
	}
	c, err := s.load(ctx, caseID)
	if err != nil {
		return IssuedEmailConfirmation{}, err
	}
	if _, ok := c.Participant(acct.ID); !ok || !s.policy.Decide(acct.Principal(), policy.CaseRead, c.Facts()).Allowed {
		return IssuedEmailConfirmation{}, ErrNoAddressToConfirm
	}
	if c.Closed != nil {
		return IssuedEmailConfirmation{}, ErrClosed
	}
	now := s.now().UTC()
	token := ids.Token()
	r := EmailConfirmation{AccountID: acct.ID, CaseID: caseID, EmailHash: s.emailHash(acct.Email), Created: now, Expires: now.Add(EmailConfirmationTTL)}
	if _, err := s.meta.Create(ctx, s.emailConfirmationKey(token), r); err != nil {
		return IssuedEmailConfirmation{}, err
	}
	if err := s.record(ctx, audit.Event{Type: "account.email.confirmation.requested", Actor: acct.ID, Case: caseID,
		Objects: []string{acct.ID}, Hashes: []string{s.meta.IndexKey("email-confirmation", token)}}); err != nil {
		return IssuedEmailConfirmation{}, err
	}
	return IssuedEmailConfirmation{CaseID: caseID, Token: token, Email: acct.Email, Expires: r.Expires}, nil
}

// ConfirmEmail uses a confirmation link, opened by current (the session
// of the browser that opened it): only the account that asked for it may
// use it, once (a conditional write: of concurrent uses one wins), within
// EmailConfirmationTTL, only while the address it was sent to is still
// the one on file, and only while the case it was asked in is open
// (ErrClosed once it is closed, as RequestEmailConfirmation). Opened by anyone else it is refused and not
// spent (ErrConfirmationNotYours), so the holder of a mistyped address
// cannot confirm it. It marks the address confirmed and indexes it
// (account.ConfirmParticipantEmail). As every account change it is
// audited first (account.email.confirmed, paired), and a change that then
// fails is followed by its .failed or .unknown entry (audit.Settle). The
// record is deleted once used. It returns the account as confirmed.
func (s *Service) ConfirmEmail(ctx context.Context, token string, current account.Account) (account.Account, error) {
	key := s.emailConfirmationKey(token)
	usable := func(r *EmailConfirmation) error {
		if r.Used != nil || !s.now().Before(r.Expires) {
			return ErrInviteGone
		}
		if r.AccountID != current.ID {
			return ErrConfirmationNotYours
		}
		return nil
	}
	var cur EmailConfirmation
	if _, err := s.meta.Get(ctx, key, &cur); errors.Is(err, metastore.ErrNotFound) {
		return account.Account{}, ErrInviteGone
	} else if err != nil {
		return account.Account{}, err
	}
	if err := usable(&cur); err != nil {
		return account.Account{}, err
	}
	onFile, err := s.accounts.Get(ctx, cur.AccountID)
	if err != nil {
		return account.Account{}, err
	}
	if onFile.Email == "" || s.emailHash(onFile.Email) != cur.EmailHash {
		return account.Account{}, account.ErrEmailNotConfirmable
	}
	// Only while the case it was asked in is open, as asking is.
	c, err := s.load(ctx, cur.CaseID)
	if errors.Is(err, fault.ErrNotFound) {
		return account.Account{}, ErrInviteGone
	}
	if err != nil {
		return account.Account{}, err
	}
	if c.Closed != nil {
		return account.Account{}, ErrClosed
	}
	ev := audit.Paired(audit.Event{Type: "account.email.confirmed", Actor: cur.AccountID, Case: cur.CaseID,
		Objects: []string{cur.AccountID}, Hashes: []string{s.meta.IndexKey("email-confirmation", token)}})
	if err := s.record(ctx, ev); err != nil {
		return account.Account{}, fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
	}
	var refused error
	_, err = metastore.Update(ctx, s.meta, key, func(r *EmailConfirmation) error {
		if refused = usable(r); refused != nil {
			return refused
		}
		now := s.now().UTC()
		r.Used = &now
		return nil
	})
	var acct account.Account
	if err == nil {
		acct, err = s.accounts.ConfirmParticipantEmail(ctx, cur.AccountID, onFile.Email)
	}
	if err != nil {
		// Nothing changed if the link was refused (another use won);
		// otherwise the account says whether the address is confirmed.
		var landed func(context.Context) (bool, error)
		if refused == nil && !errors.Is(err, metastore.ErrNotFound) {
			landed = func(ctx context.Context) (bool, error) {
				a, err := s.accounts.Get(ctx, cur.AccountID)
				if err != nil {
					return false, err
				}
				return a.SignInEmail() != "" && s.emailHash(a.SignInEmail()) == cur.EmailHash, nil
			}
		}
		audit.Settle(ctx, s.record, s.logger(), "cases", ev, ev.Type, fault.Class(err), landed)
		if errors.Is(err, metastore.ErrNotFound) {
			return account.Account{}, ErrInviteGone
		}
		return account.Account{}, err
	}
	// Used: the record goes (a second use finds nothing: gone, as a used
	// one). A failed delete leaves it marked used.
	_ = s.meta.Delete(ctx, key)
	return acct, nil
}
