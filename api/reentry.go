package api

import "time"

// ReentryRequest asks for a re-entry link for a participant (POST
// /api/v1/cases/{caseID}/participants/{accountID}/reentry, a mediator of
// the case). The link signs that participant in as their existing account.
type ReentryRequest struct {
	TTLSeconds int64 `json:"ttlSeconds"` // 0: 72 hours
}

func (ReentryRequest) wire() {}

// ReentryResponse carries the link once; the server keeps only its hash.
// It opens at /join like an invite, is single-use, and expires.
type ReentryResponse struct {
	Link    string    `json:"link"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
	Name    string    `json:"name"`
	// Mailed: the link was queued to the participant's email address for
	// a real mail server. MailWarning says when it could not be queued.
	Mailed      bool   `json:"mailed,omitempty"`
	MailWarning string `json:"mailWarning,omitempty"`
}

func (ReentryResponse) wire() {}

// ProblemFieldParticipant is the field of a 409 problem answering an invite
// for someone already in the case: its detail is that participant's account
// id, for whom a re-entry link can be asked instead.
const ProblemFieldParticipant = "participant"
