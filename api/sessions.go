package api

import "time"

// NewSessionRequest schedules a session (POST /api/v1/cases/{caseID}/sessions).
// Start is the local date and time in TimeZone, "YYYY-MM-DDTHH:MM"; Rooms
// defaults to the joint room and Expected to everyone in the case.
type NewSessionRequest struct {
	Start    string   `json:"start"`
	TimeZone string   `json:"timeZone"`
	Minutes  int      `json:"minutes"`
	Rooms    []string `json:"rooms,omitempty"`
	Expected []string `json:"expected,omitempty"`
}

// MoveSessionRequest reschedules a session. TimeZone and Minutes keep
// their old values when empty or zero. Reason is required and is shown to
// the case's mediators only; the participants are told the new time.
type MoveSessionRequest struct {
	Start    string `json:"start"`
	TimeZone string `json:"timeZone,omitempty"`
	Minutes  int    `json:"minutes,omitempty"`
	Reason   string `json:"reason"`
}

// CancelSessionRequest cancels a session, with a reason (mediators only
// see it).
type CancelSessionRequest struct {
	Reason string `json:"reason"`
}

// SessionChange is one scheduling event of a session (mediators only).
type SessionChange struct {
	Kind   string    `json:"kind"` // scheduled, moved, cancelled
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	From   time.Time `json:"from,omitzero"`
	Reason string    `json:"reason,omitempty"`
}

// Session is one session of a case. Start and End are instants (UTC);
// TimeZone is the zone it was scheduled in (a browser shows the time in
// its own zone as well).
type Session struct {
	ID       string          `json:"id"`
	CaseID   string          `json:"caseId"`
	Start    time.Time       `json:"start"`
	End      time.Time       `json:"end"`
	TimeZone string          `json:"timeZone"`
	Minutes  int             `json:"minutes"`
	Rooms    []string        `json:"rooms"`
	Expected []string        `json:"expected"`
	Status   string          `json:"status"` // scheduled, cancelled
	Sequence int             `json:"sequence"`
	Changes  []SessionChange `json:"changes,omitempty"`
	// MailWarning is set when the change was saved but some of its mail
	// could not be queued.
	MailWarning string `json:"mailWarning,omitempty"`
}

// MailMessage is one message of a case's outbox as its mediators see it
// (GET /api/v1/cases/{caseID}/mail). Text is filled only in a development
// outbox (no --smtp-url), where nothing is sent and the browser shows it.
type MailMessage struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"` // invitation, update, cancellation, reminder, survey, follow-up
	To          string     `json:"to"`
	ToAccount   string     `json:"toAccount,omitempty"`
	Subject     string     `json:"subject"`
	State       string     `json:"state"` // pending, sending, sent, held, failed, uncertain, cancelled
	Attempts    int        `json:"attempts"`
	NotBefore   time.Time  `json:"notBefore"`
	NextAttempt time.Time  `json:"nextAttempt"`
	Created     time.Time  `json:"created"`
	Done        *time.Time `json:"done,omitempty"`
	LastError   string     `json:"lastError,omitempty"`
	ResendOf    string     `json:"resendOf,omitempty"`
	Development bool       `json:"development,omitempty"`
	Text        string     `json:"text,omitempty"`
	Attachment  string     `json:"attachment,omitempty"` // its file name
}
