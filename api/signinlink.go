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
