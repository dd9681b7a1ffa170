package api

// The answers added with the sessions, mail, follow-up, caseload and
// proposal routes are Bodies too.
func (Proposal) wire()         {}
func (Session) wire()          {}
func (MailMessage) wire()      {}
func (FollowUpResponse) wire() {}
func (Caseload) wire()         {}
