package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-mediation/parley/api"
)

// The retention schedule is data: for each record class, what starts its
// clock (the trigger) and how long the record is kept after it. Which rule
// applies to a record and when it falls due is decided here, purely, from
// facts the caller loads; package retention stores the schedule, draws up
// plans from these decisions and carries them out.

// Trigger is the event that starts a record's retention period (the
// wire's type, package api).
type Trigger = api.Trigger

// The triggers.
const (
	TriggerCaseClosed = api.TriggerCaseClosed
	TriggerSuperseded = api.TriggerSuperseded
	TriggerCreated    = api.TriggerCreated
)

// Triggers lists the triggers.
func Triggers() []Trigger { return []Trigger{TriggerCaseClosed, TriggerSuperseded, TriggerCreated} }

// ClassMessageHistory is the record class of a case's room messages (all
// rooms: joint, caucuses, mediators). The document classes are package
// vault's.
const ClassMessageHistory = "message-history"

// The record classes of what is stored about a case and its people
// besides its documents and messages (issue 18). Each is disposed of as a
// whole for one case.
const (
	// ClassCaseRecord is the case record itself (title, sides, names and
	// emails of everyone in it, objectives, disclosures and their
	// acknowledgements, stage notes, outcome, released holds) and, with
	// it, whatever of the case's other classes is still stored and the
	// accounts of its participants who belong to no other case. It goes
	// last: only once no document or message of the case remains.
	ClassCaseRecord = "case-record"
	// ClassInvitesSessions: the case's invitations (redeemed or not), its
	// scheduled sessions and their reminders, and its mail outbox but the
	// check-ins' mail (ClassSurveyResponses).
	ClassInvitesSessions = "invites-sessions"
	// ClassCarriesConsents: proposals to carry a caucus message to the
	// joint room and the author's consents.
	ClassCarriesConsents = "carries-consents"
	// ClassSurveyResponses: the parties' survey answers, the survey
	// tokens, and the follow-up check-ins on an agreement (their plan,
	// answers, links and mail).
	ClassSurveyResponses = "survey-responses"
	// ClassKeyDirectory: the case's signed membership statements. The
	// key-directory log keeps their hashes (its entries never held more),
	// so its consistency proofs still verify.
	ClassKeyDirectory = "key-directory"
	// ClassStatisticalStub: what program evaluation keeps of a disposed
	// case (banded, no personal data). Its clock starts when it is made
	// (trigger "created").
	ClassStatisticalStub = "statistical-stub"
	// ClassParticipantAccount is not scheduled on its own: a participant's
	// account, devices and sign-in sessions are destroyed with the case
	// record of the last case they belong to (staff accounts never). It
	// is a class of certificates, not of the schedule.
	ClassParticipantAccount = "participant-account"
)

// CaseClasses lists the scheduled classes disposed of per case (not per
// document), in the order a plan disposes of them: the case record last.
func CaseClasses() []string {
	return []string{ClassInvitesSessions, ClassCarriesConsents, ClassSurveyResponses, ClassKeyDirectory, ClassCaseRecord}
}

// RecordClasses lists every record class a schedule must cover: the
// vault's document classes, the message history, the case's other
// records and the statistical stub.
func RecordClasses() []string {
	return append([]string{"agreement", "evidence", ClassMediatorNotes, "correspondence", "admin", ClassMessageHistory},
		append(CaseClasses(), ClassStatisticalStub, ClassResidue)...)
}

// MaxRetentionDays bounds a rule's period (100 years).
const MaxRetentionDays = 36500

// RetentionRule keeps records of Class for Days days after Trigger (the
// wire's type, package api).
type RetentionRule = api.RetentionRule

// ParsePeriod reads a period: a whole number of days ("30d") or of 365-day
// years ("2y").
func ParsePeriod(s string) (int, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, fmt.Errorf("period %q: want a number of days or years, like 30d or 6y", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 0 {
		return 0, fmt.Errorf("period %q: want a number of days or years, like 30d or 6y", s)
	}
	// Checked before years are turned into days, so that the product
	// cannot wrap around to a small number.
	if n > MaxRetentionDays {
		return 0, fmt.Errorf("period %q: at most %d days", s, MaxRetentionDays)
	}
	switch s[len(s)-1] {
	case 'd':
	case 'y':
		n *= 365
	default:
		return 0, fmt.Errorf("period %q: end it with d (days) or y (years)", s)
	}
	if n > MaxRetentionDays {
		return 0, fmt.Errorf("period %q: at most %d days", s, MaxRetentionDays)
	}
	return n, nil
}

// Schedule is one version of the retention schedule: a rule for every
// record class.
type Schedule struct {
	Version int             `json:"version"`
	Rules   []RetentionRule `json:"rules"` // one per class, in RecordClasses order
}

// DefaultSchedule is the schedule a program starts with (version 0, until
// records staff set their own). Every record's clock starts when its case
// closes:
//
//	mediator-notes    30 days  the mediator's working notes; confidential, of no use after the case
//	message-history   30 days  the rooms' messages (end-to-end encrypted)
//	evidence           1 year  copies of exhibits the parties brought; the originals stay with them
//	correspondence     2 years letters and emails about the case
//	admin              3 years intake, scheduling and billing records
//	agreement          6 years signed settlements: limitation periods for enforcing a contract
//	invites-sessions  30 days  invitations, scheduled sessions, reminders, mail: of no use once closed
//	carries-consents  30 days  they point into the message history, which goes at 30 days
//	survey-responses   1 year  long enough for the program's annual report (gone before the stub is made, so stubs carry no means)
//	key-directory     30 days  membership statements; the log keeps their hashes
//	case-record        6 years the file of the case, as long as the agreement it records
//	statistical-stub  10 years after it is made: program evaluation over a decade, no personal data
//	residue           30 days  after it became residue (expired, signed out, abandoned, certified): nothing needs it
func DefaultSchedule() Schedule {
	return Schedule{Rules: []RetentionRule{
		{Class: "agreement", Trigger: TriggerCaseClosed, Days: 6 * 365},
		{Class: "evidence", Trigger: TriggerCaseClosed, Days: 365},
		{Class: ClassMediatorNotes, Trigger: TriggerCaseClosed, Days: 30},
		{Class: "correspondence", Trigger: TriggerCaseClosed, Days: 2 * 365},
		{Class: "admin", Trigger: TriggerCaseClosed, Days: 3 * 365},
		{Class: ClassMessageHistory, Trigger: TriggerCaseClosed, Days: 30},
		{Class: ClassInvitesSessions, Trigger: TriggerCaseClosed, Days: 30},
		{Class: ClassCarriesConsents, Trigger: TriggerCaseClosed, Days: 30},
		{Class: ClassSurveyResponses, Trigger: TriggerCaseClosed, Days: 365},
		{Class: ClassKeyDirectory, Trigger: TriggerCaseClosed, Days: 30},
		{Class: ClassCaseRecord, Trigger: TriggerCaseClosed, Days: 6 * 365},
		{Class: ClassStatisticalStub, Trigger: TriggerCreated, Days: 10 * 365},
		{Class: ClassResidue, Trigger: TriggerCreated, Days: 30},
	}}
}

// WithDefaults returns the schedule with the default rule added for every
// class it has none for: a schedule stored before a class existed keeps
// its version and rules, and the new class gets its documented default.
func (s Schedule) WithDefaults() Schedule {
	out := Schedule{Version: s.Version, Rules: slices.Clone(s.Rules)}
	for _, r := range DefaultSchedule().Rules {
		if _, ok := out.Rule(r.Class); !ok {
			out.Rules = append(out.Rules, r)
		}
	}
	return out
}

// Validate checks a schedule has exactly one rule for every record class,
// with a known trigger and a period within bounds. Message history has no
// versions, so it cannot be superseded.
func (s Schedule) Validate() error {
	seen := map[string]bool{}
	for _, r := range s.Rules {
		if !slices.Contains(RecordClasses(), r.Class) {
			return fmt.Errorf("class %q: not a record class (%s)", r.Class, strings.Join(RecordClasses(), ", "))
		}
		if seen[r.Class] {
			return fmt.Errorf("class %q: more than one rule", r.Class)
		}
		seen[r.Class] = true
		if !slices.Contains(Triggers(), r.Trigger) {
			return fmt.Errorf("class %q: trigger %q: want case-closed, superseded or created", r.Class, r.Trigger)
		}
		if r.Trigger == TriggerSuperseded && (r.Class == ClassMessageHistory || r.Class == ClassStatisticalStub || slices.Contains(CaseClasses(), r.Class)) {
			return fmt.Errorf("class %q: has no versions, so is never superseded", r.Class)
		}
		if r.Class == ClassResidue && r.Trigger != TriggerCreated {
			return fmt.Errorf("class %q: its clock starts when something becomes residue: trigger created", r.Class)
		}
		if r.Days < 0 || r.Days > MaxRetentionDays {
			return fmt.Errorf("class %q: period must be 0 to %d days", r.Class, MaxRetentionDays)
		}
	}
	for _, c := range RecordClasses() {
		if !seen[c] {
			return fmt.Errorf("class %q: no rule", c)
		}
	}
	return nil
}

// Rule returns the rule for a class.
func (s Schedule) Rule(class string) (RetentionRule, bool) {
	for _, r := range s.Rules {
		if r.Class == class {
			return r, true
		}
	}
	return RetentionRule{}, false
}

// With returns a copy of the schedule with class's rule replaced.
func (s Schedule) With(r RetentionRule) Schedule {
	out := Schedule{Version: s.Version, Rules: slices.Clone(s.Rules)}
	for i := range out.Rules {
		if out.Rules[i].Class == r.Class {
			out.Rules[i] = r
			return out
		}
	}
	out.Rules = append(out.Rules, r)
	return out
}

// RecordFacts are what a retention decision depends on.
type RecordFacts struct {
	Class   string
	Created time.Time
	// CaseClosed is when the record's case closed, nil while it is open.
	CaseClosed *time.Time
	// Superseded is when a newer version was stored, nil for the latest.
	Superseded *time.Time
}

// Disposition is the schedule's decision on one record.
type Disposition struct {
	Rule RetentionRule
	// Triggered: the trigger event happened, at TriggerAt.
	Triggered bool
	TriggerAt time.Time
	// DueAt is when the record may be disposed of (TriggerAt + period).
	DueAt time.Time
	// Due: asOf is at or after DueAt.
	Due bool
	// Reason says in words why the record is or is not due.
	Reason string
}

// Decide says whether record r is due for disposal on asOf under s. It
// does no I/O and reads no clock: the same facts always give the same
// answer. A record whose class has no rule is never due.
func (s Schedule) Decide(r RecordFacts, asOf time.Time) Disposition {
	rule, ok := s.Rule(r.Class)
	if !ok {
		return Disposition{Reason: "no rule for class " + r.Class}
	}
	d := Disposition{Rule: rule}
	switch rule.Trigger {
	case TriggerCaseClosed:
		if r.CaseClosed != nil {
			d.Triggered, d.TriggerAt = true, *r.CaseClosed
		}
	case TriggerSuperseded:
		if r.Superseded != nil {
			d.Triggered, d.TriggerAt = true, *r.Superseded
		}
	case TriggerCreated:
		d.Triggered, d.TriggerAt = true, r.Created
	}
	if !d.Triggered {
		d.Reason = "not yet " + string(rule.Trigger)
		return d
	}
	d.TriggerAt = d.TriggerAt.UTC()
	d.DueAt = d.TriggerAt.AddDate(0, 0, rule.Days)
	d.Due = !asOf.Before(d.DueAt)
	if d.Due {
		d.Reason = fmt.Sprintf("%s %s after %s", rule.Class, rule.Period(), rule.Trigger)
	} else {
		d.Reason = "kept until " + d.DueAt.Format(time.DateOnly)
	}
	return d
}
