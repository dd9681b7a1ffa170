package api

import "time"

// PendingInvite is an invitation of a case not yet used and not expired
// (GET /api/v1/cases/{id}/invites, for the case's mediators): who was
// invited and as what, never the link (the server keeps only its hash).
type PendingInvite struct {
	Name    string          `json:"name"`
	Role    ParticipantRole `json:"role"`
	Side    string          `json:"side,omitempty"`
	Created time.Time       `json:"created"`
	Expires time.Time       `json:"expires"`
	// Emailed: an email address was given with the invitation.
	Emailed bool `json:"emailed,omitempty"`
}

func (PendingInvite) wire() {}
