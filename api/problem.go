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
