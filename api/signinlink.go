package api

// SignInLinkRequest asks for a link to sign in by email (POST
// /api/v1/session/link, no session needed): "Email me a link to sign in".
type SignInLinkRequest struct {
	Email string `json:"email"`
}

func (SignInLinkRequest) wire() {}

// SignInLinkResponse is the answer to every accepted request (202),
// whether or not an account has the address: Message is always
// SignInLinkSent.
type SignInLinkResponse struct {
	Message string `json:"message"`
}

func (SignInLinkResponse) wire() {}

// SignInLinkSent is the one answer to a request for a sign-in link.
const SignInLinkSent = "If this address belongs to someone taking part in a mediation, we have sent a link to it. The link works once, for 15 minutes."

// EmailConfirmationRequest asks, signed in as a participant, for a link
// confirming the address on file for sign-in links (POST
// /api/v1/me/email-confirmation). CaseID is the case the participant has
// open.
type EmailConfirmationRequest struct {
	CaseID string `json:"caseId"`
}

func (EmailConfirmationRequest) wire() {}

// EmailConfirmationResponse is the answer (202): the link was mailed to
// Email, the address on file.
type EmailConfirmationResponse struct {
	Email   string `json:"email"`
	Message string `json:"message"`
}

func (EmailConfirmationResponse) wire() {}

// ConfirmEmailRequest uses a confirmation link (POST
// /api/v1/me/email-confirmation/use), signed in as the account that asked
// for it.
type ConfirmEmailRequest struct {
	Token string `json:"token"`
}

func (ConfirmEmailRequest) wire() {}
