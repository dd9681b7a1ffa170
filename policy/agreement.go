package policy

// The settlement agreement actions (policy/agreement.cedar). The forbids of
// base.cedar (recused mediators, disabled accounts) apply as to every case
// action.
const (
	// AgreementDraft: start a case's agreement, save versions, file it.
	AgreementDraft Action = "agreement.draft"
	// AgreementRead: read the agreement, its versions and signatures.
	AgreementRead Action = "agreement.read"
	// AgreementSign: sign a version with one's own device.
	AgreementSign Action = "agreement.sign"
)

// AgreementActions lists the agreement actions.
func AgreementActions() []Action { return []Action{AgreementDraft, AgreementRead, AgreementSign} }
