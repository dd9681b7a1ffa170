package policy

import (
	cedar "github.com/cedar-policy/cedar-go"
)

// Retention actions (package retention). The rules are in retention.cedar.
const (
	// RetentionScheduleRead: read the retention schedule and its history.
	RetentionScheduleRead Action = "retention.schedule.read"
	// RetentionScheduleSet: change the retention schedule.
	RetentionScheduleSet Action = "retention.schedule.set"
	// RetentionPlan: draw up, list and read disposition plans.
	RetentionPlan Action = "retention.plan"
	// RetentionApprove: approve a disposition plan (DecidePlan: never the
	// plan's planner or choosers, nor an account tied to them by creation
	// lineage, nor one whose lineage is unknown).
	RetentionApprove Action = "retention.approve"
	// RetentionApply: carry out an approved plan.
	RetentionApply Action = "retention.apply"
	// RetentionCertificateRead: read a certificate of destruction.
	RetentionCertificateRead Action = "retention.certificate.read"
	// RetentionReview: choose, for a plan's record, to keep it longer
	// (a review extends its period, with a reason).
	RetentionReview Action = "retention.review"
	// RetentionKeep: choose, for a plan's record, to keep it permanently
	// (with the authority: a court order, a statute, a program rule).
	RetentionKeep Action = "retention.keep"
	// RetentionTransfer: choose, for a plan's case, to transfer it (an
	// encrypted bundle for an archive or a court) before it is destroyed,
	// and download the bundle once made.
	RetentionTransfer Action = "retention.transfer"
	// HoldManage: place or release a legal hold on a case or one of its
	// documents (Decide with the case).
	HoldManage Action = "hold.manage"
	// HoldList: list legal holds, server-wide.
	HoldList Action = "hold.list"
	// RetentionDueNotice: be mailed the daily notice of what falls due
	// (retention.Service.NoticeOnce asks it about every account; the
	// outbox asks again before sending).
	RetentionDueNotice Action = "retention.due.notice"
)

// RetentionActions lists the retention actions, for tables and tests.
func RetentionActions() []Action {
	return []Action{RetentionScheduleRead, RetentionScheduleSet, RetentionPlan, RetentionApprove,
		RetentionApply, RetentionCertificateRead, RetentionReview, RetentionKeep, RetentionTransfer, HoldManage, HoldList, RetentionScheduleApprove, RetentionDueNotice}
}

// Plan is a disposition plan as policy sees it: who drew it up and who
// chose its actions, with their creation lineages (account.Account.Lineage).
type Plan struct {
	Planner        string // account id
	PlannerLineage []string
	// Choosers are the accounts that chose an action other than destroy
	// for one of its records (review, keep, transfer): they do not
	// approve it either.
	Choosers []string
	// ChoosersLineage is every chooser's lineage, together.
	ChoosersLineage []string
}

// DecidePlan answers whether u may approve (RetentionApprove) plan p. The
// four-eyes and independence rules — the approver is neither the planner,
// a chooser, nor an account one person could hold together with theirs —
// are forbids in retention.cedar, so they hold whatever the caller does.
func (e *Engine) DecidePlan(u User, a Action, p Plan) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, nil)
	uid := cedar.NewEntityUID("RetentionPlan", "plan")
	control := append([]string{p.Planner}, p.PlannerLineage...)
	control = append(control, p.Choosers...)
	control = append(control, p.ChoosersLineage...)
	entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{
		"planner":  cedar.NewEntityUID("User", cedar.String(p.Planner)),
		"choosers": userSet(p.Choosers),
		"control":  userSet(control),
	})}
	return e.evaluate(entities, principal, a, uid)
}
