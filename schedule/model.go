package schedule

import "time"

// Status is whether a session will take place.
type Status string

// The statuses.
const (
	Scheduled Status = "scheduled"
	Cancelled Status = "cancelled"
)

// Session is one meeting of a case.
type Session struct {
	ID     string `json:"id"`
	CaseID string `json:"caseId"`
	// Start is the instant it starts (UTC); TimeZone the IANA zone it was
	// scheduled in, in which the mail states its time.
	Start    time.Time `json:"start"`
	TimeZone string    `json:"timeZone"`
	Minutes  int       `json:"minutes"`
	Rooms    []string  `json:"rooms"`
	// Expected are the account ids of the people expected (participants
	// and mediators of the case).
	Expected []string `json:"expected"`
	Status   Status   `json:"status"`
	// Sequence is the iCalendar SEQUENCE: 0 when scheduled, one more on
	// every move and on cancellation.
	Sequence int `json:"sequence"`
	// UIDs is "recipient" for a session whose invitations carry each
	// recipient's own iCalendar UID (Service.uid); empty for one scheduled
	// before that, whose invitations all carried the session's id, kept
	// so that its updates still replace the event in those calendars.
	UIDs      string    `json:"uids,omitempty"`
	History   []Change  `json:"history"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"createdBy"`
}

// Change is one scheduling event of a session.
type Change struct {
	Kind   string    `json:"kind"` // scheduled, moved, cancelled
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	From   time.Time `json:"from,omitzero"` // for a move: the old start
	Reason string    `json:"reason,omitempty"`
}

// End is when the session ends.
func (s *Session) End() time.Time { return s.Start.Add(time.Duration(s.Minutes) * time.Minute) }
