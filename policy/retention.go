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
	// HoldManage: place or release a legal hold on a case or one of its
	// documents (Decide with the case).
	HoldManage Action = "hold.manage"
	// HoldList: list legal holds, server-wide.
	HoldList Action = "hold.list"
)

// RetentionActions lists the retention actions, for tables and tests.
func RetentionActions() []Action {
	return []Action{RetentionScheduleRead, RetentionScheduleSet, RetentionPlan, RetentionApprove,
		RetentionApply, RetentionCertificateRead, HoldManage, HoldList, RetentionScheduleApprove}
}

// Plan is a disposition plan as policy sees it: who drew it up.
type Plan struct {
	Planner string // account id
}

// DecidePlan answers whether u may do a (RetentionApprove, RetentionApply)
// to plan p. The four-eyes rule — a planner never approves their own plan —
// is a forbid in retention.cedar, so it holds whatever the caller does.
func (e *Engine) DecidePlan(u User, a Action, p Plan) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, nil)
	uid := cedar.NewEntityUID("RetentionPlan", "plan")
	entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{
		"planner": cedar.NewEntityUID("User", cedar.String(p.Planner)),
	})}
	return e.evaluate(entities, principal, a, uid)
}
