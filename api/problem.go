package api

// Problem is an RFC 9457 problem details object: every HTTP error answer,
// with Content-Type application/problem+json.
type Problem struct {
	Type      string       `json:"type"` // ProblemTypeBase + a ProblemType
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"requestId,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
}

func (Problem) wire() {}

// FieldError names one wrong input field (an RFC 9457 extension member).
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// ProblemTypeBase prefixes every problem type.
const ProblemTypeBase = "urn:parley:problem:"

// ProblemType is the last part of a problem's type.
type ProblemType string

// Problem types.
const (
	ProblemInvalidInput     ProblemType = "invalid-input"
	ProblemRateLimited      ProblemType = "rate-limited"
	ProblemUnauthenticated  ProblemType = "unauthenticated"
	ProblemForbidden        ProblemType = "forbidden"
	ProblemNotFound         ProblemType = "not-found"
	ProblemMethodNotAllowed ProblemType = "method-not-allowed"
	ProblemConflict         ProblemType = "conflict"
	ProblemGone             ProblemType = "gone"
	ProblemTooLarge         ProblemType = "too-large"
	ProblemUnavailable      ProblemType = "unavailable"
	ProblemNotReady         ProblemType = "not-ready"
	ProblemHeld             ProblemType = "held"
	ProblemRequestTimeout   ProblemType = "request-timeout"
	ProblemInternal         ProblemType = "internal"
	// A request net/http could not read — a request line or header it
	// cannot parse — answered before any handler runs (400, or the status
	// net/http chose; web.ProblemListener).
	ProblemBadRequest ProblemType = "bad-request"
	// A request whose headers (cookies included) exceed the server's limit
	// (431, before any handler runs; web.ProblemListener): clear the site's
	// cookies or send fewer headers.
	ProblemHeadersTooLarge ProblemType = "headers-too-large"
	// The node is doing as much of this as it can at once (503, with
	// Retry-After): too many sign-ins or uploads at the same moment. The
	// detail is a sentence written for people; nothing was done.
	ProblemBusy ProblemType = "busy"
	// A signature on an agreement version that a later one replaced (409).
	ProblemAgreementSuperseded ProblemType = "agreement-superseded"
	// A change to, or a signature on, an agreement already signed by
	// everyone and filed (409).
	ProblemAgreementFiled ProblemType = "agreement-filed"
	// An invitation for someone of the same name, side and role who has
	// already joined the case with another link (410): a link back in, not
	// a new invitation, brings them back.
	ProblemAlreadyJoined ProblemType = "already-joined"
	// An invitation or a link back in asked by a mediator whom the case's
	// signed membership does not seat (403): a mediator already in the
	// case confirms them first (or, in a case whose conversation nobody
	// has opened, a mediator opens it). The detail says which.
	ProblemMediatorNotConfirmed ProblemType = "mediator-not-confirmed"
	// A new document in a case that already holds the most documents one
	// case holds (409): the detail names the limit.
	ProblemDocumentLimit ProblemType = "document-limit"
	// A new version of a document that already has the most versions one
	// document holds (409): the detail names the limit.
	ProblemVersionLimit ProblemType = "version-limit"
	// A stored document that failed its integrity check as it was read
	// (500): altered, cut short or mixed up with another in storage. The
	// event is in the audit log; trying again may help (another copy, a
	// passing fault), and if not the mediator is told.
	ProblemIntegrityFailure ProblemType = "integrity-failure"
	// A download asking for a byte range that selects none of the
	// version's bytes: it starts past the end, or the version is empty
	// (416; Content-Range says the size). Ask for a range within it, or
	// for the whole version.
	ProblemRangeNotSatisfiable ProblemType = "range-not-satisfiable"
	// An upload (a document, a version, an agreement's text) whose
	// contents were stored but whose record storage did not confirm
	// (503): it may still appear, so it is looked for before it is added
	// again — unlike "unavailable", where nothing was added and trying
	// again is right.
	ProblemUploadUnconfirmed ProblemType = "upload-unconfirmed"
	// A share of an end-to-end encrypted document that does not carry its
	// keys wrapped for the new audience (409): the server holds no keys, so
	// the share is done from a device that holds them.
	ProblemRewrapRequired ProblemType = "rewrap-required"

	// Staff accounts (docs/security.md, "Staff accounts: disable, enable,
	// reset, change").

	// The account is disabled (403 at sign-in with the right password, 401
	// for a session it ended): the program administrator can enable it.
	ProblemAccountDisabled ProblemType = "account-disabled"
	// An administrator reset the account's password (403): choose a new one
	// first; until then only reading one's own account, changing the
	// password and signing out are allowed.
	ProblemPasswordChangeRequired ProblemType = "password-change-required"
	// The account's password was chosen by the administrator who created it
	// (a mediator's or records clerk's account made before first passwords
	// were approved): it opens nothing (403 at sign-in with it, 401 for a
	// session opened with it) until an administrator requests a reset and a
	// second one approves it.
	ProblemPasswordResetNeeded ProblemType = "password-reset-needed"
	// An administrator tried to approve the password reset they requested
	// themselves (403): a different administrator approves it.
	ProblemSecondAdminRequired ProblemType = "second-admin-required"
	// An administrator who proposed or approved a program assignment of
	// the account's holder to a case (or whose account one person could
	// hold together with such an administrator's) tried to approve a reset
	// of that account's password (403): another administrator, who took no
	// part in that assignment, approves it.
	ProblemResetApproverAssigned ProblemType = "reset-approver-assigned"
	// An approval or refusal of a password reset when none is waiting (409):
	// someone approved, declined or withdrew it meanwhile; reload to see
	// the account as it is.
	ProblemNoPendingReset ProblemType = "no-pending-reset"
	// A password change refused, nothing written, because the account's
	// sessions were ended or its password reset while it was being changed
	// (401): that change stands; sign in again.
	ProblemPasswordNotChanged ProblemType = "password-not-changed"
	// A password change that was made (it ended every session of the
	// account), but the new session for the caller could not be opened
	// (401): sign in again with the new password.
	ProblemPasswordChangedSignInAgain ProblemType = "password-changed-sign-in-again"
	// Disabling the last enabled administrator account (409): enable or
	// create another administrator first.
	ProblemLastAdmin ProblemType = "last-admin"
	// An approval of a disposition plan whose chosen actions changed
	// after the approver was shown them (409): a clerk changed a
	// transfer's recipient, a review's date, or set a record back to
	// destroy. Look at the actions again (GET …/actions) and approve what
	// they now are.
	ProblemChoicesChanged ProblemType = "choices-changed"
)

// Header names Parley defines.
const (
	// DocumentNameHeader carries an upload's file name, percent-encoded
	// (headers are not UTF-8).
	DocumentNameHeader = "Parley-Document-Name"
	// DocumentVersionHeader says which version a download is.
	DocumentVersionHeader = "Parley-Document-Version"
	// RequestIDHeader is every answer's request id (also in problems).
	RequestIDHeader = "X-Request-Id"
	// The evaluation export's report travels in these headers.
	ExportRowsHeader            = "X-Parley-Export-Rows"
	ExportSuppressedHeader      = "X-Parley-Export-Suppressed"
	ExportGeneralizedHeader     = "X-Parley-Export-Generalized"
	ExportCommentsDroppedHeader = "X-Parley-Export-Comments-Dropped"
	ExportKHeader               = "X-Parley-Export-K"
	ExportSHA256Header          = "X-Parley-Export-Sha256"
)
