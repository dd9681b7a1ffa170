package api

import (
	"strconv"
	"time"
)

// MaxCertificateSize bounds a signed certificate of destruction.
const MaxCertificateSize = 128 << 20

// Trigger starts a record's retention clock.
type Trigger string

// The triggers.
const (
	TriggerCaseClosed Trigger = "case-closed" // the record's case moved to closure
	TriggerSuperseded Trigger = "superseded"  // a newer version of the document was stored
	TriggerCreated    Trigger = "created"     // the record was created
)

// RetentionRule keeps records of Class for Days days after Trigger.
type RetentionRule struct {
	Class   string  `json:"class"`
	Trigger Trigger `json:"trigger"`
	Days    int     `json:"days"`
}

// Period is the rule's period as people write it ("30d", "2y").
func (r RetentionRule) Period() string {
	if r.Days%365 == 0 && r.Days > 0 {
		return strconv.Itoa(r.Days/365) + "y"
	}
	return strconv.Itoa(r.Days) + "d"
}

// Schedule is a retention schedule: one rule per record class.
type Schedule struct {
	Version int             `json:"version"`
	Rules   []RetentionRule `json:"rules"`
}

// StoredSchedule is a schedule with who set it and when
// (GET /api/v1/retention/schedule).
type StoredSchedule struct {
	Schedule
	By string    `json:"by,omitempty"` // empty for the default (version 0)
	At time.Time `json:"at,omitzero"`
}

func (StoredSchedule) wire() {}

// RuleRequest changes one class's rule (PUT …/schedule/rules/{class}).
type RuleRequest struct {
	Trigger Trigger `json:"trigger"`
	Period  string  `json:"period"` // "30d", "6y"
}

// PlanRequest draws up a disposition plan (POST /api/v1/retention/plans).
type PlanRequest struct {
	AsOf string `json:"asOf,omitempty"` // RFC 3339 or YYYY-MM-DD; empty: now
}

// Approval is a second person's approval of a plan.
type Approval struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// Plan is a disposition plan's header.
type Plan struct {
	ID       string    `json:"id"`
	AsOf     time.Time `json:"asOf"`
	Created  time.Time `json:"created"`
	Planner  string    `json:"planner"`
	Schedule Schedule  `json:"schedule"`
	State    string    `json:"state"`
	// Pages of the plan's records; Records of them are due, Held held.
	Pages   int   `json:"pages"`
	Records int   `json:"records"`
	Held    int   `json:"held"`
	Bytes   int64 `json:"bytes"`
	Cases   int   `json:"cases"`
	// Residue counts, by kind, what the sweep found that no record class
	// covers (orphaned-ciphertext, abandoned-upload, expired-session,
	// expired-invite, stale-email-index, orphaned-seat-index,
	// spent-journal): counts only,
	// never names.
	Residue      map[string]int `json:"residue,omitempty"`
	Approved     *Approval      `json:"approved,omitempty"`
	Started      *time.Time     `json:"started,omitempty"`
	CaseKeysDone bool           `json:"caseKeysDone,omitempty"`
	Completed    *time.Time     `json:"completed,omitempty"`
	LinkFrom     int64          `json:"linkFrom,omitempty"`
	Certificate  string         `json:"certificate,omitempty"` // its id, once done
}

func (Plan) wire() {}

// Item is one record of a plan (GET …/plans/{id}/records?page=n).
type Item struct {
	Case string `json:"case"`
	// Reference is the case's docket or file number, as of the plan.
	Reference string    `json:"reference,omitempty"`
	Doc       string    `json:"doc,omitempty"`
	Version   int       `json:"version,omitempty"`
	Class     string    `json:"class"`
	Trigger   Trigger   `json:"trigger"`
	TriggerAt time.Time `json:"triggerAt"`
	DueAt     time.Time `json:"dueAt"`
	Size      int64     `json:"size"`
	Commit    string    `json:"commit,omitempty"`
	// Held lists the holds that exclude the record from the plan.
	Held []string `json:"held,omitempty"`
	// Paused: for a case record, when an earlier plan's disposal of the
	// case stopped at a storage (legal) hold and left what remained
	// (retention.case.paused); this plan resumes it.
	Paused *time.Time `json:"paused,omitempty"`
	// Opened is when the case was opened: with the case's id (its Parley
	// number), what names a case with no reference, as the case list
	// shows records staff. Absent for a statistical stub and in plans
	// made before it was recorded.
	Opened *time.Time `json:"opened,omitempty"`
}

func (Item) wire() {}

// ItemOutcome is what became of one record of an applied page.
type ItemOutcome struct {
	Result string   `json:"result"`
	Held   []string `json:"held,omitempty"`
	// Kept says why a record that was not held was kept (a case record
	// while documents or messages of its case remain).
	Kept string `json:"kept,omitempty"`
	// Missing says, for a case record that was gone when the plan reached
	// it though no retention plan destroyed it (result "missing"), that
	// it was not destroyed by Parley and is not certified as destroyed.
	Missing string `json:"missing,omitempty"`
	// Counts: for a case's other records (not a document version nor its
	// message history), how many stored objects of each class went.
	Counts map[string]int `json:"counts,omitempty"`
	// Audit is the index of the audit entry that recorded the destruction
	// (case classes), -1 or absent if none.
	Audit *int64 `json:"audit,omitempty"`
}

// Progress is where an apply stands after one step (POST …/apply).
type Progress struct {
	Plan      Plan          `json:"plan"`
	PagesDone int           `json:"pagesDone"`
	Page      int           `json:"page"`
	Items     []Item        `json:"items,omitempty"`
	Outcomes  []ItemOutcome `json:"outcomes,omitempty"`
	// Step: "transfers" (the transfer bundles, before any page), "page",
	// "case-keys", "certificate" or "done".
	Step string `json:"step"`
	Done bool   `json:"done"`
}

func (Progress) wire() {}

// Hold is a legal hold on a case or one document.
type Hold struct {
	ID            string     `json:"id"`
	Case          string     `json:"case"`
	Doc           string     `json:"doc,omitempty"`
	Reason        string     `json:"reason"`
	Authority     string     `json:"authority"`
	PlacedBy      string     `json:"placedBy"`
	Placed        time.Time  `json:"placed"`
	Released      *time.Time `json:"released,omitempty"`
	ReleasedBy    string     `json:"releasedBy,omitempty"`
	ReleaseReason string     `json:"releaseReason,omitempty"`
}

func (Hold) wire() {}

// Active reports whether the hold still stands.
func (h Hold) Active() bool { return h.Released == nil }

// Covers reports whether the hold, if active, covers document doc of its
// case ("" asks about the case's message history and case key).
func (h Hold) Covers(doc string) bool { return h.Active() && (h.Doc == "" || h.Doc == doc) }

// Scope is "case" or "document".
func (h Hold) Scope() string {
	if h.Doc == "" {
		return "case"
	}
	return "document"
}

// NewHold places a hold (POST /api/v1/cases/{case}/holds).
type NewHold struct {
	Case      string `json:"case"`
	Doc       string `json:"doc,omitempty"`
	Reason    string `json:"reason"`
	Authority string `json:"authority"`
}

// ReleaseRequest releases a hold (POST …/holds/{id}/release).
type ReleaseRequest struct {
	Reason string `json:"reason"`
}
