package policy

// The actions on a case's sessions and its outbox (policy/sessions.cedar).
// The forbids of base.cedar (recused mediators, disabled accounts) apply to
// them as to every action on a case.
const (
	// SessionManage: schedule, move or cancel a session; set follow-ups.
	SessionManage Action = "session.manage"
	// SessionRead: see a case's sessions.
	SessionRead Action = "session.read"
	// MailRead: see the case's outbox (recipients, delivery state) and
	// ask for a resend.
	MailRead Action = "mail.read"
	// CaseloadView: open the caseload view (server-wide).
	CaseloadView Action = "caseload.view"
)

// SessionActions lists the session and mail actions.
func SessionActions() []Action { return []Action{SessionManage, SessionRead, MailRead, CaseloadView} }
