package api

import "time"

// FollowUpRequest sets a closed case's check-ins on its agreement
// (POST /api/v1/cases/{caseID}/followups): whole days after closure.
type FollowUpRequest struct {
	Days []int `json:"days"`
}

// FollowUpCheckpoint is one check-in: due Days after closure; Issued links
// went out (one per party and lawyer).
// In GET answers, Mailed and MailFailed count its mails the server
// accepted or that failed for good, NotMailed its links not emailed
// because their address is also on file for someone else in the case
// (given by hand instead), and Answered the links answered: counts only,
// never who or what.
type FollowUpCheckpoint struct {
	Days       int       `json:"days"`
	Due        time.Time `json:"due"`
	Issued     int       `json:"issued"`
	Mailed     int       `json:"mailed"`
	MailFailed int       `json:"mailFailed"`
	NotMailed  int       `json:"notMailed"`
	Answered   int       `json:"answered"`
}

// CheckInLink is one participant's single-use check-in link, shown once.
// A link Parley emailed to the person is not given (Link empty, Mailed
// true): only they can answer it.
type CheckInLink struct {
	Name   string `json:"name"`
	Days   int    `json:"days"`
	Link   string `json:"link,omitempty"`
	Mailed bool   `json:"mailed,omitempty"`
}

// FollowUpResponse answers FollowUpRequest (Links are shown once) and
// GET /api/v1/cases/{caseID}/followups (no links).
type FollowUpResponse struct {
	Checkpoints []FollowUpCheckpoint `json:"checkpoints"`
	Links       []CheckInLink        `json:"links,omitempty"`
	MailWarning string               `json:"mailWarning,omitempty"`
}

// CheckInRequest is one anonymous answer (POST /api/v1/checkins; the
// token is the capability, no session needed). Answer is honoured, partly
// or not.
type CheckInRequest struct {
	Token   string `json:"token"`
	Answer  string `json:"answer"`
	Comment string `json:"comment,omitempty"`
}
