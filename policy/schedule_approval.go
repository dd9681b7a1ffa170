package policy

import (
	cedar "github.com/cedar-policy/cedar-go"
)

// RetentionScheduleApprove: approve a proposed schedule change that
// shortens a period (DecideScheduleChange: never its own proposer, nor an
// account tied to it by creation lineage, nor one whose lineage is
// unknown).
const RetentionScheduleApprove Action = "retention.schedule.approve"

// ShortPeriodDays: a period shorter than this is "very short", and
// setting one is answered with a warning (a zero period makes records due
// the moment their clock starts).
const ShortPeriodDays = 7

// ScheduleChange is a proposed schedule change as policy sees it: who
// proposed it, and its creation lineage (account.Account.Lineage).
type ScheduleChange struct {
	Proposer        string // account id
	ProposerLineage []string
}

// DecideScheduleChange answers whether u may approve the change c. The
// four-eyes and independence rules are forbids in retention.cedar.
func (e *Engine) DecideScheduleChange(u User, a Action, c ScheduleChange) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, nil)
	uid := cedar.NewEntityUID("ScheduleChange", "change")
	entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{
		"proposer":        cedar.NewEntityUID("User", cedar.String(c.Proposer)),
		"proposerControl": userSet(append([]string{c.Proposer}, c.ProposerLineage...)),
	})}
	return e.evaluate(entities, principal, a, uid)
}

// Shortens reports whether changing a class's rule from was to now can
// make records due sooner: a shorter period, or another trigger (which
// may start the clock earlier). Such a change needs a second person.
func Shortens(was, now RetentionRule) bool {
	return now.Days < was.Days || now.Trigger != was.Trigger
}

// ShortPeriodWarning says, in plain words, why a rule's period is worth a
// second look, or "" when it is not: zero or under ShortPeriodDays.
func ShortPeriodWarning(r RetentionRule) string {
	switch {
	case r.Days == 0:
		return "a period of 0d makes " + r.Class + " records due as soon as their clock starts (" + string(r.Trigger) + "): the next plan lists them at once"
	case r.Days < ShortPeriodDays:
		return "a period of " + r.Period() + " is very short: " + r.Class + " records fall due " + r.Period() + " after " + string(r.Trigger)
	}
	return ""
}
