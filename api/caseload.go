package api

import "time"

// Caseload is the caseload view (GET /api/v1/caseload): the open cases the
// actor may see, with the program's norms per case type and stage.
type Caseload struct {
	Cases []CaseloadRow `json:"cases"`
	Norms []StageNorm   `json:"norms"`
	// Method says in words how the norms are computed and when a case is
	// flagged.
	Method string `json:"method"`
}

// CaseloadRow is one open case. Records staff get metadata only: Title,
// Unacknowledged names are empty for them (the counts are set).
type CaseloadRow struct {
	CaseID string `json:"caseId"`
	Title  string `json:"title,omitempty"`
	// Reference is the case's docket or file number, and Opened when it
	// was opened: what names a row without a title (records staff, who
	// read both on the case list too).
	Reference   string     `json:"reference,omitempty"`
	Opened      *time.Time `json:"opened,omitempty"`
	Type        string     `json:"type"`
	Stage       string     `json:"stage"`
	StageSince  time.Time  `json:"stageSince"`
	DaysInStage int        `json:"daysInStage"`
	NextSession *time.Time `json:"nextSession,omitempty"`
	// Unacknowledged names the parties and lawyers who have not
	// acknowledged a mediator's disclosure (mediators only);
	// UnacknowledgedCount counts them for everyone but a co-mediator no
	// seated mediator has confirmed yet, who reads no disclosure (0).
	Unacknowledged      []string `json:"unacknowledged,omitempty"`
	UnacknowledgedCount int      `json:"unacknowledgedCount"`
	// OverdueFollowUps are the check-ins (days after closure) that are due
	// and not all answered; for the case's mediators only (never records
	// staff).
	OverdueFollowUps []int `json:"overdueFollowUps,omitempty"`
	// Stalled is set when the case has been in its stage longer than the
	// 90th percentile of the program's closed cases of its type (Norm).
	Stalled bool       `json:"stalled"`
	Norm    *StageNorm `json:"norm,omitempty"`
}

// StageNorm is how long the program's closed cases spent in one stage.
// CaseType "*" is every type together (used when a type has too few
// closed cases).
type StageNorm struct {
	CaseType   string  `json:"caseType"`
	Stage      string  `json:"stage"`
	Cases      int     `json:"cases"`
	MedianDays float64 `json:"medianDays"`
	P90Days    float64 `json:"p90Days"`
}
