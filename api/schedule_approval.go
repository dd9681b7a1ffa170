package api

import "time"

// ScheduleChange is a proposed change to one class's rule that shortens
// its period (or changes its trigger): it is in force only once a second
// person of records staff or the administrators approves it
// (GET /api/v1/retention/schedule/changes,
// POST …/changes/{id}/approve).
type ScheduleChange struct {
	ID string `json:"id"`
	// Rule is the proposed rule; Was the rule in force when proposed.
	Rule       RetentionRule `json:"rule"`
	Was        RetentionRule `json:"was"`
	ProposedBy string        `json:"proposedBy"`
	Proposed   time.Time     `json:"proposed"`
	// State: "pending", "approved", or "withdrawn" (the class's rule
	// changed before anyone approved it: propose again).
	State    string    `json:"state"`
	Approved *Approval `json:"approved,omitempty"`
	// Version is the schedule version the approval made.
	Version  int      `json:"version,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

func (ScheduleChange) wire() {}

// RuleResult answers a rule change (PUT …/schedule/rules/{class}): the
// schedule in force afterwards, and, when the change shortens a period,
// the pending change that awaits a second person (the schedule in force
// is then unchanged). Warnings name a zero or very short period.
type RuleResult struct {
	StoredSchedule
	Pending  *ScheduleChange `json:"pending,omitempty"`
	Warnings []string        `json:"warnings,omitempty"`
}

func (RuleResult) wire() {}
