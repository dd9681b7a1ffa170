package account

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/visible"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// Account is one person known to the server, as the store holds it: with
// the password hash. It is never an API answer: handlers encode only
// package api's types, and View is the account as the API shows it.
type Account struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
	// EmailConfirmed is the address a participant confirmed, signed in,
	// for emailed sign-in links (ConfirmParticipantEmail): a link is
	// mailed only while it is Email. Empty for staff and for participants
	// who never confirmed.
	EmailConfirmed string      `json:"emailConfirmed,omitempty"`
	Name           string      `json:"name"`
	Role           policy.Role `json:"role"`
	Disabled       bool        `json:"disabled,omitempty"`
	// PasswordChangeRequired: an administrator reset the password (see
	// ResetPassword); until the person chooses a new one, the API lets
	// them do nothing else.
	PasswordChangeRequired bool `json:"passwordChangeRequired,omitempty"`
	// OwnPassword: the current password is one its holder chose
	// (ChangePassword) or the operator set (SetPassword, on the store),
	// not one its creating administrator chose. Records written before it
	// existed lack it; see CreatorsPassword.
	OwnPassword bool `json:"ownPassword,omitempty"`
	// SessionGeneration is a random number, new at each revocation of the
	// account's sessions (a lost laptop, a stolen token: RevokeSessions; a
	// disabling, a password reset or change). A session is valid only
	// while it carries the account's current generation (see revoked): no
	// clocks compared. 0 only in records from before it was random, or
	// rewritten by an older release (newSession raises it first).
	SessionGeneration uint64 `json:"sessionGeneration,omitempty"`
	// SessionsNotBefore is when (by the revoking node's clock) the
	// account's sessions were last revoked. It decides only for sessions
	// written before generations existed, and for older releases.
	SessionsNotBefore *time.Time `json:"sessionsNotBefore,omitempty"`
	Created           time.Time  `json:"created"`
	// CreatedBy is the account that created this one through the API;
	// empty for accounts the operator made from the command line
	// (`parley admin user create`) and for participants (invites).
	CreatedBy string `json:"createdBy,omitempty"`
	// Lineage is CreatedBy, its creator, and so on up to an account the
	// operator made. Whoever is in it chose (or could have chosen) the
	// first password of an account in the chain, so policy treats them as
	// able to act as this account (proposals.cedar). Set at creation; a
	// password reset adds the resetter and its lineage. Policy weighs
	// independence on Control, the closure of these links as the records
	// are at the moment of the decision.
	Lineage []string `json:"lineage,omitempty"`
	// Origin records how the account came to be: OriginOperator (the
	// operator's command line) or OriginStaff (through the API, by
	// CreatedBy). It is empty for accounts made before origins were
	// recorded, and for accounts created by such an account: their
	// lineage is not known, so policy never counts them as independent
	// (they cannot approve a proposal nor be nominated as a mediator).
	Origin       string `json:"origin,omitempty"`
	PasswordHash string `json:"passwordHash,omitempty"`
	// CaseID is a participant's case: the case of the invitation whose
	// claim made the account (EnsureParticipant). A participant account is
	// made for one invitation and sits in that case only, so the case list
	// reads that one case (cases.Service.List). Empty for staff, and for
	// participant accounts made before it was recorded.
	CaseID string `json:"caseId,omitempty"`
	// PendingReset: an administrator asked to reset this account's
	// password and a second one has not yet approved (RequestReset).
	PendingReset *PendingReset `json:"pendingReset,omitempty"`
	// AssignedBy are the administrators who proposed and approved a
	// program assignment of this account to a case that took effect
	// (RecordAssigners), deduplicated, at most MaxAssigners. Neither they
	// nor anyone one person could hold together with them approves a
	// reset of its password (policy/passwordreset.cedar). Empty for
	// accounts never assigned, and for assignments that took effect
	// before it was recorded.
	AssignedBy []string `json:"assignedBy,omitempty"`
}

// PendingReset is a password reset waiting for a second administrator.
type PendingReset struct {
	RequestedBy string    `json:"requestedBy"`
	Requested   time.Time `json:"requested"`
}

// Account origins (Account.Origin).
const (
	OriginOperator = "operator"
	OriginStaff    = "staff"
)

// CreatorsPassword reports whether the account's password may be the one
// the administrator who created it chose: a mediator's or records clerk's
// account an administrator created through the API (CreatedBy set,
// FirstPasswordApproved) with a password that is neither a reset's
// temporary one (PasswordChangeRequired) nor recorded as its holder's or
// the operator's (OwnPassword). Only a release before first passwords
// were approved stored such an account (its Create took the creator's
// password), and nothing in those records tells whether the holder has
// changed it since: the safe side is taken, and Login and Authenticate
// refuse it (ErrCreatorsPassword) until a reset requested by one
// administrator and approved by a second, independent one gives it a
// temporary password its holder replaces. View shows it to
// administrators as api.Account.PasswordResetNeeded.
func (a Account) CreatorsPassword() bool {
	return a.CreatedBy != "" && FirstPasswordApproved(a.Role) && a.PasswordHash != "" &&
		!a.PasswordChangeRequired && !a.OwnPassword
}

// ProvenanceKnown reports whether the account's creation lineage is
// known in full.
func (a Account) ProvenanceKnown() bool { return a.Origin != "" }

// View is the account as the API shows it: no password hash.
func (a Account) View() api.Account {
	v := api.Account{ID: a.ID, Email: a.Email, EmailConfirmed: a.SignInEmail() != "", Name: a.Name, Role: a.Role, Disabled: a.Disabled,
		PasswordChangeRequired: a.PasswordChangeRequired, SessionsNotBefore: a.SessionsNotBefore, Created: a.Created, CreatedBy: a.CreatedBy, Lineage: a.Lineage,
		// Sign-in's own rule (Login, Authenticate), not a copy of it.
		PasswordResetNeeded: a.CreatorsPassword()}
	if a.Role != policy.RoleParticipant && a.PasswordHash == "" {
		v.NoPassword = true
	}
	if a.PendingReset != nil {
		v.PendingReset = &api.PasswordResetPending{RequestedBy: a.PendingReset.RequestedBy, Requested: a.PendingReset.Requested}
	}
	return v
}

// Principal is the account as policy sees it.
func (a Account) Principal() policy.User {
	return policy.User{ID: a.ID, Role: a.Role, Disabled: a.Disabled, Lineage: a.Lineage,
		ProvenanceKnown: a.ProvenanceKnown()}
}

// Limits on account fields.
const (
	MaxNameLen  = 200
	MaxEmailLen = 254
)

// Service manages accounts and sessions.
type Service struct {
	meta    *metastore.Store
	limiter ratelimit.Limiter
	now     func() time.Time
	// SessionTTL is a session's idle window: a session unused for this
	// long ends. Use slides it (see Authenticate).
	SessionTTL time.Duration
	// SessionMaxAge is a session's absolute end, counted from sign-in,
	// however much it is used.
	SessionMaxAge time.Duration
	// Sign-in limits, per LoginWindow (see Login and docs/security.md,
	// "Password guessing"):
	//   - LoginLimitPerAddress: attempts from one client address, any
	//     account; past it the address is refused.
	//   - LoginLimitPerPair: wrong passwords for one account from one
	//     address; past it that address is refused for that account.
	//   - LoginLimitPerAccount: wrong passwords for one account from
	//     addresses it has not signed in from (see LoginTrustTTL); past it
	//     such addresses share one attempt per LoginSlowInterval for that
	//     account. Addresses the account signed in from keep working.
	LoginLimitPerAccount int
	LoginLimitPerAddress int
	LoginLimitPerPair    int
	LoginWindow          time.Duration
	LoginSlowInterval    time.Duration
	// LoginTrustTTL is how long an address stays known to an account
	// after a successful sign-in from it.
	LoginTrustTTL time.Duration
}

// NewService returns a Service with the documented defaults: sessions that
// end after 7 days unused and 30 days after sign-in at the latest; per 15 minutes, 100 sign-in attempts per client address, 10 wrong
// passwords per account from one address and 20 per account from addresses
// it has not signed in from in 30 days, then one attempt a minute from
// those.
func NewService(meta *metastore.Store, limiter ratelimit.Limiter) *Service {
	return &Service{
		meta: meta, limiter: limiter, now: time.Now,
		SessionTTL:           7 * 24 * time.Hour,
		SessionMaxAge:        30 * 24 * time.Hour,
		LoginLimitPerAccount: 20,
		LoginLimitPerAddress: 100,
		LoginLimitPerPair:    10,
		LoginWindow:          15 * time.Minute,
		LoginSlowInterval:    time.Minute,
		LoginTrustTTL:        30 * 24 * time.Hour,
	}
}

// SetClock replaces the service's clock (tests move time with it). Call it
// before the service serves requests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// NewAccount is what Create needs.
type NewAccount struct {
	Email string
	Name  string
	Role  policy.Role
	// Password is the account's first password: required for staff,
	// except for a mediator's or records clerk's account a staff member
	// creates (FirstPasswordApproved), where it must be empty; optional
	// for participants.
	Password string
	// Creator is the account creating this one (through the API), or nil
	// for the operator's command line. It and its lineage become the new
	// account's lineage.
	Creator *Account
	// Audit, if set, appends the account's creation to the audit log
	// before anything is stored (see type Audit): an account that cannot
	// be audited is not made, and its email stays free for a retry.
	Audit Audit
}

func accountKey(id string) string { return "accounts/" + id }

// RecordKey is the metastore key of account id's record (for a look at
// whether the account is still there).
func RecordKey(id string) string { return accountKey(id) }

func (s *Service) emailKey(email string) string {
	return "account-emails/" + s.meta.IndexKey("email", normalizeEmail(email))
}

func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

type emailIndex struct {
	AccountID string `json:"accountId"`
}

// ValidateEmail checks an email address's form and length.
func ValidateEmail(field, email string) error {
	if len(email) > MaxEmailLen {
		return fault.Invalid(field, fmt.Sprintf("at most %d characters", MaxEmailLen))
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != strings.TrimSpace(email) {
		return fault.Invalid(field, "not an email address")
	}
	return nil
}

// ValidateName checks a person's display name.
func ValidateName(field, name string) error {
	n := strings.TrimSpace(name)
	if n == "" {
		return fault.Invalid(field, "required")
	}
	if utf8.RuneCountInString(n) > MaxNameLen || !utf8.ValidString(n) {
		return fault.Invalid(field, fmt.Sprintf("at most %d characters of text", MaxNameLen))
	}
	if !visible.Has(n) {
		return fault.Invalid(field, "has no visible character: letters, digits or symbols are needed")
	}
	return nil
}

// ValidatePassword checks a new password's length.
func ValidatePassword(field, pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return fault.Invalid(field, fmt.Sprintf("at least %d characters", MinPasswordLen))
	}
	if len(pw) > MaxPasswordLen {
		return fault.Invalid(field, fmt.Sprintf("at most %d bytes", MaxPasswordLen))
	}
	return nil
}

// FirstPasswordApproved reports whether an account of role that a staff
// member (an administrator, through the API) creates gets its first
// password as a reset does (policy/passwordreset.cedar): a mediator's or a
// records clerk's, whose holder reads case content or approves what others
// plan. Its creator chooses none.
func FirstPasswordApproved(role policy.Role) bool {
	return role == policy.RoleMediator || role == policy.RoleRecords
}

// Create makes an account. Staff accounts need an email and a password;
// the email must not belong to another account. A mediator's or records
// clerk's account that a staff member creates (FirstPasswordApproved, and
// n.Creator set) takes no password: it is stored with none, and with a
// reset request by its creator waiting (PendingReset), so that only a
// second, independent administrator's ApproveReset makes its first
// password, a temporary one its holder replaces at their first sign-in.
// No password its creator chose or saw ever opens it.
func (s *Service) Create(ctx context.Context, n NewAccount) (Account, error) {
	if !policy.ValidRole(n.Role) {
		return Account{}, fault.Invalid("role", "one of admin, mediator, records, participant")
	}
	if err := ValidateName("name", n.Name); err != nil {
		return Account{}, err
	}
	staff := n.Role != policy.RoleParticipant
	if staff || n.Email != "" {
		if err := ValidateEmail("email", n.Email); err != nil {
			return Account{}, err
		}
	}
	approved := n.Creator != nil && FirstPasswordApproved(n.Role)
	if approved && n.Password != "" {
		return Account{}, fault.Invalid("password", "leave it empty: a mediator's or records clerk's first password is made when a second administrator approves it, and shown only to them")
	}
	if (staff && !approved) || n.Password != "" {
		if err := ValidatePassword("password", n.Password); err != nil {
			return Account{}, err
		}
	}
	a := Account{
		ID:      ids.New("u"),
		Email:   normalizeEmail(n.Email),
		Name:    strings.TrimSpace(n.Name),
		Role:    n.Role,
		Created: s.now().UTC(),
		// Random from the start: its first session need not raise it.
		SessionGeneration: newGeneration(0),
	}
	if n.Creator != nil {
		a.CreatedBy = n.Creator.ID
		a.Lineage = append([]string{n.Creator.ID}, n.Creator.Lineage...)
		// An account created by one whose lineage is unknown has an
		// unknown lineage too: its origin stays empty.
		if n.Creator.ProvenanceKnown() {
			a.Origin = OriginStaff
		}
	} else {
		a.Origin = OriginOperator
	}
	if n.Password != "" {
		h, err := hashPasswordGated(ctx, n.Password)
		if err != nil {
			return Account{}, err
		}
		a.PasswordHash = h
	}
	if approved {
		// The creator's request, waiting as RequestReset's does: the
		// approval policy forbids to the creator and to whoever it
		// controls or is controlled by.
		a.PendingReset = &PendingReset{RequestedBy: n.Creator.ID, Requested: a.Created}
	}
	if n.Audit != nil {
		if err := n.Audit(ctx, a); err != nil {
			return Account{}, err
		}
	}
	release := func(context.Context) error { return nil }
	if a.Email != "" {
		// Claim the email first: the create-only write makes the claim
		// atomic across nodes.
		claim, err := s.meta.Create(ctx, s.emailKey(a.Email), emailIndex{AccountID: a.ID})
		if err != nil {
			if errors.Is(err, metastore.ErrExists) {
				return Account{}, fmt.Errorf("email: %w: an account with this email exists", fault.ErrConflict)
			}
			return Account{}, err
		}
		release = func(ctx context.Context) error { return s.releaseEmail(ctx, a.Email, claim) }
	}
	// An account record surely not written gives its email back (the
	// retry would otherwise be told the email is taken, for ever); one
	// whose write may still land (cut short) keeps it.
	if err := metastore.CreateOrUndo(ctx, s.meta, accountKey(a.ID), a, release); err != nil {
		if errors.Is(err, metastore.ErrExists) {
			return Account{}, err
		}
		// Stored despite the error? The id is fresh, so its record is ours.
		got, rerr := s.readBack(ctx, a.ID, err, func(Account) bool { return true })
		if rerr != nil && errors.Is(err, metastore.ErrStoredUnknown) && !errors.Is(rerr, ErrOutcomeUnknown) {
			// Not there now, but a write cut short may still land: the
			// creation's entries are settled as of unknown outcome, not
			// as failed (and the email stays claimed).
			return Account{}, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
		}
		return got, rerr
	}
	return a, nil
}

// releaseEmail deletes the claim of email that Create wrote (its etag is
// claim) for an account it then failed to store. Only that claim: a claim
// written since (nobody can while it stands: claims are create-only) is
// another account's and stays.
func (s *Service) releaseEmail(ctx context.Context, email, claim string) error {
	key := s.emailKey(email)
	etag, err := s.meta.Stat(ctx, key)
	if errors.Is(err, metastore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if etag != claim {
		return nil
	}
	return s.meta.Delete(ctx, key)
}

// Get returns an account by id.
func (s *Service) Get(ctx context.Context, id string) (Account, error) {
	if !ids.Valid("u", id) {
		return Account{}, fmt.Errorf("account: %w", fault.ErrNotFound)
	}
	var a Account
	if _, err := s.meta.Get(ctx, accountKey(id), &a); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return Account{}, fmt.Errorf("account %s: %w", id, fault.ErrNotFound)
		}
		return Account{}, err
	}
	return a, nil
}

// ByEmail returns the account with this email.
func (s *Service) ByEmail(ctx context.Context, email string) (Account, error) {
	var idx emailIndex
	if _, err := s.meta.Get(ctx, s.emailKey(email), &idx); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return Account{}, fmt.Errorf("account: %w", fault.ErrNotFound)
		}
		return Account{}, err
	}
	return s.Get(ctx, idx.AccountID)
}

// List returns every account, as the API shows them.
func (s *Service) List(ctx context.Context) ([]api.Account, error) {
	var out []api.Account
	err := s.meta.List(ctx, "accounts/", func(key string) error {
		var a Account
		if _, err := s.meta.Get(ctx, key, &a); err != nil {
			return err
		}
		out = append(out, s.View(a))
		return nil
	})
	return out, err
}

// Each calls fn with every stored account, one at a time, in key order;
// an error from fn stops it (retention's notice of what falls due asks
// policy about each).
func (s *Service) Each(ctx context.Context, fn func(Account) error) error {
	return s.meta.List(ctx, "accounts/", func(key string) error {
		var a Account
		if _, err := s.meta.Get(ctx, key, &a); err != nil {
			return err
		}
		return fn(a)
	})
}

// SetPassword replaces an account's password.
func (s *Service) SetPassword(ctx context.Context, id, password string) error {
	if err := ValidatePassword("password", password); err != nil {
		return err
	}
	hash, err := hashPasswordGated(ctx, password)
	if err != nil {
		return err
	}
	_, err = metastore.Update(ctx, s.meta, accountKey(id), func(a *Account) error {
		a.PasswordHash = hash
		// The operator's (on the store, trusted), not a creator's.
		a.OwnPassword = true
		return nil
	})
	return err
}

// EnsureParticipant returns the participant account with this id, creating
// it if it does not exist yet. Invite redemption picks the id before it
// creates the account, so that a redemption interrupted by a crash finishes
// with the same account rather than a second one. The email, if any, is kept
// for contact but not claimed as a sign-in email: participants sign in by
// invite, re-entry or emailed sign-in link, and one person may join
// several cases (the email is indexed for the sign-in link only once the
// participant confirmed it: ConfirmParticipantEmail). caseID is the
// invitation's case, the only one the account sits in (CaseID).
func (s *Service) EnsureParticipant(ctx context.Context, id, caseID, name, email string) (Account, error) {
	a := Account{ID: id, Name: strings.TrimSpace(name), Email: normalizeEmail(email),
		Role: policy.RoleParticipant, Created: s.now().UTC(), SessionGeneration: newGeneration(0), CaseID: caseID}
	_, err := s.meta.Create(ctx, accountKey(id), a)
	if errors.Is(err, metastore.ErrExists) {
		return s.Get(ctx, id)
	}
	if err != nil {
		return Account{}, err
	}
	return a, nil
}

// DiscardParticipant permanently deletes every stored version of the
// participant account id: the account of a join that a case refused
// after EnsureParticipant made it (cases.Service.JoinAs), which no case
// names and so no disposal would ever reach. Its id was minted for that
// one invitation's claim, so no other seat shares it. An account whose
// stored record is not a participant's is refused, and one that is not
// stored is not an error.
func (s *Service) DiscardParticipant(ctx context.Context, id string) error {
	var a Account
	if _, err := s.meta.Get(ctx, accountKey(id), &a); err == nil && a.Role != policy.RoleParticipant {
		return fmt.Errorf("account %s is not a participant's: %w", id, fault.ErrConflict)
	} else if err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return err
	}
	obj := s.meta.Objects()
	vs, err := obj.Versions(ctx, accountKey(id))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	infos := make([]objstore.Info, 0, len(vs))
	for _, v := range vs {
		infos = append(infos, v.Info)
	}
	return errors.Join(obj.DeleteVersions(ctx, infos)...)
}
