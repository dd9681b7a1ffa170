package policy

// The consent actions (policy/consent.cedar). Reading a case's terms is
// case.read; the forbids of base.cedar apply as to every case action.
const (
	// CaseTermsSet: edit a case's terms; see who accepted them.
	CaseTermsSet Action = "case.terms_set"
	// CaseTermsAccept: accept a case's terms (signed by one's device).
	CaseTermsAccept Action = "case.terms_accept"
)

// ConsentActions lists the consent actions.
func ConsentActions() []Action { return []Action{CaseTermsSet, CaseTermsAccept} }
