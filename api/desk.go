package api

import "time"

// PendingInvite is an invitation of a case not yet used and not expired
// (GET /api/v1/cases/{id}/invites, for the case's mediators): who was
// invited and as what, never the link (the server keeps only its hash).
type PendingInvite struct {
	// ID names the invitation for withdrawing it (DELETE
	// …/invites/{id}); it is not the link, and the link cannot be had
	// from it.
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Role    ParticipantRole `json:"role"`
	Side    string          `json:"side,omitempty"`
	Created time.Time       `json:"created"`
	Expires time.Time       `json:"expires"`
	// Emailed: an email address was given with the invitation.
	Emailed bool `json:"emailed,omitempty"`
	// EmailHint is that address masked ("l***@example.org"), to tell two
	// invitations of one name apart.
	EmailHint string `json:"emailHint,omitempty"`
}

func (PendingInvite) wire() {}

// InviteWithdrawn answers a withdrawn invitation (DELETE
// /api/v1/cases/{id}/invites/{inviteId}): its link no longer works.
type InviteWithdrawn struct {
	// Already: it had been withdrawn before.
	Already bool `json:"already,omitempty"`
	// MailWarning: its mail, still waiting to be sent, could not be
	// stopped (the link is refused all the same).
	MailWarning string `json:"mailWarning,omitempty"`
}

func (InviteWithdrawn) wire() {}
