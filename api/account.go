package api

import "time"

// Role is an account's role on the server. Parties, counsel and observers
// are all RoleParticipant accounts; what they are in a given case is their
// ParticipantRole there.
type Role string

// The account roles.
const (
	RoleAdmin       Role = "admin"
	RoleMediator    Role = "mediator"
	RoleRecords     Role = "records"
	RoleParticipant Role = "participant"
)

// Account is a person as the API shows them (GET /api/v1/me, the account
// list, a session). It has no password hash: the server's stored account
// record is another type, which no handler can encode.
type Account struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
	// EmailConfirmed: a participant confirmed Email, signed in, so a
	// sign-in link can be emailed to it ("Email me a link to sign in").
	EmailConfirmed bool   `json:"emailConfirmed,omitempty"`
	Name           string `json:"name"`
	Role           Role   `json:"role"`
	Disabled       bool   `json:"disabled,omitempty"`
	// PasswordChangeRequired: an administrator reset the password; the
	// person must choose a new one (POST /api/v1/me/password) before the
	// server lets them do anything else.
	PasswordChangeRequired bool `json:"passwordChangeRequired,omitempty"`
	// SessionsNotBefore: when the account's sessions were last revoked,
	// by the revoking node's clock. A session ends with the first
	// revocation written after it was opened, whatever the nodes' clocks
	// say (docs/security.md, "Revocation compares no clocks"); this time
	// judges only sessions stored before revocations were counted.
	SessionsNotBefore *time.Time `json:"sessionsNotBefore,omitempty"`
	Created           time.Time  `json:"created"`
	// CreatedBy is the account that created this one through the API;
	// Lineage is its creator, that one's creator, and so on.
	CreatedBy string   `json:"createdBy,omitempty"`
	Lineage   []string `json:"lineage,omitempty"`
	// PendingReset: a password reset waiting for a second administrator
	// (api/passwordreset.go).
	PendingReset *PasswordResetPending `json:"pendingReset,omitempty"`
	// NoPassword: a staff account with no password yet, so nobody can
	// sign in as it. A mediator's or records clerk's account an
	// administrator created starts so: its first password is made when a
	// second administrator approves its creator's request (PendingReset),
	// as for a reset (or not, if that request was declined).
	NoPassword bool `json:"noPassword,omitempty"`
	// PasswordResetNeeded: the account's password may still be the one
	// the administrator who created it chose (a mediator's or records
	// clerk's account made through the API by a release before first
	// passwords were approved), so signing in with it is refused
	// (ProblemPasswordResetNeeded) until a password reset, asked for by
	// one administrator and approved by a second, gives it a temporary
	// one. The server derives it from the rule sign-in applies.
	PasswordResetNeeded bool `json:"passwordResetNeeded,omitempty"`
}

func (Account) wire() {}

// LoginRequest signs in (POST /api/v1/session).
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// SessionResponse answers a sign-in, an invite redemption or a password
// change. Token is for the Go client and the CLI (bearer), which send no
// Origin; a request from our own page (our Origin) gets none: the
// browser's session is the HttpOnly cookie set alongside, which no script
// reads.
type SessionResponse struct {
	Token   string    `json:"token,omitempty"`
	Expires time.Time `json:"expires"`
	Account Account   `json:"account"`
	CaseID  string    `json:"caseId,omitempty"`
}

func (SessionResponse) wire() {}

// CreateAccountRequest makes a staff account (POST /api/v1/accounts, admin).
//
// Password is the first password of an administrator's account. A
// mediator's or records clerk's account takes none (a password is refused,
// 400 on field "password"): it is made with none (Account.NoPassword) and
// with a password reset requested by its creator waiting
// (Account.PendingReset); a second, independent administrator approves it
// (POST /api/v1/accounts/{accountID}/reset-password/approve) and alone gets
// a temporary password, which its holder replaces at their first sign-in.
type CreateAccountRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Password string `json:"password"`
}
