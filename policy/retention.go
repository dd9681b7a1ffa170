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
	// plan's own planner).
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
)

// RetentionActions lists the retention actions, for tables and tests.
func RetentionActions() []Action {
	return []Action{RetentionScheduleRead, RetentionScheduleSet, RetentionPlan, RetentionApprove,
		RetentionApply, RetentionCertificateRead, RetentionReview, RetentionKeep, RetentionTransfer, HoldManage, HoldList, RetentionScheduleApprove}
}

// Plan is a disposition plan as policy sees it: who drew it up.
type Plan struct {
	Planner string // account id
	// Choosers are the accounts that chose an action other than destroy
	// for one of its records (review, keep, transfer): they do not
	// approve it either.
	Choosers []string
}

// DecidePlan answers whether u may do a (RetentionApprove, RetentionApply)
// to plan p. The four-eyes rule — a planner never approves their own plan —
// is a forbid in retention.cedar, so it holds whatever the caller does.
func (e *Engine) DecidePlan(u User, a Action, p Plan) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, nil)
	uid := cedar.NewEntityUID("RetentionPlan", "plan")
	entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{
		"planner":  cedar.NewEntityUID("User", cedar.String(p.Planner)),
		"choosers": choosers(p.Choosers),
	})}
	return e.evaluate(entities, principal, a, uid)
}

func choosers(ids []string) cedar.Set {
	out := make([]cedar.Value, len(ids))
	for i, id := range ids {
		out[i] = cedar.NewEntityUID("User", cedar.String(id))
	}
	return cedar.NewSet(out...)
}
