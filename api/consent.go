package api

import "time"

// Terms is a case's ground rules: the agreement to mediate, the
// confidentiality terms and the rules of conduct, as one text the people
// of the case read and accept. The program's default text is where every
// case starts; a mediator may edit it. An edit after anyone accepted
// makes a new version, which everyone must accept again.
type Terms struct {
	Version int       `json:"version"`
	Text    string    `json:"text"`
	SHA256  string    `json:"sha256"` // lower-case hex SHA-256 of Text
	Updated time.Time `json:"updated"`
	By      string    `json:"by"` // account id; "" for the program default
}

// Consent is one person's signed acceptance of a case's terms (or
// acknowledgement of a disclosure, Ack): what their device signed (see
// e2ee.Consent) and when the server recorded it.
type Consent struct {
	AccountID string `json:"accountId"`
	Name      string `json:"name,omitempty"`
	Item      string `json:"item"`   // the terms' version, or the disclosure's id
	SHA256    string `json:"sha256"` // of the text accepted
	Device    string `json:"device"`
	// DeviceTrust is how the signing device counts for the account when
	// the server checked it: "first" (the account's first device) or
	// "linked" (linked by a device that counts). A device a mediator
	// admitted cannot sign a consent.
	DeviceTrust string    `json:"deviceTrust,omitempty"`
	SignedAt    int64     `json:"signedAt"`  // the device's clock, unix milliseconds
	Signature   string    `json:"signature"` // base64 Ed25519 signature
	Recorded    time.Time `json:"recorded"`
}

// TermsPerson is one person who must accept the terms, and whether they
// have accepted the current version.
type TermsPerson struct {
	AccountID string          `json:"accountId"`
	Name      string          `json:"name"`
	Role      ParticipantRole `json:"role"`
	Side      string          `json:"side,omitempty"`
	Accepted  *Consent        `json:"accepted,omitempty"` // of the current version
}

// TermsView is GET …/terms: the current terms, and whether the caller has
// accepted them. Mediators also get People (everyone who must accept,
// with their role, side and acceptance or none) and Missing (those who
// have not, as words for programs and the command line: "Jordan Blake
// (Tenant's lawyer)", api.PersonWords; the browser names them the same
// way from People, web/client/src/names.ts); a party, counsel or
// observer sees only their own acceptance.
type TermsView struct {
	Terms    Terms         `json:"terms"`
	Mine     *Consent      `json:"mine,omitempty"`
	MustAcc  bool          `json:"mustAccept"`
	People   []TermsPerson `json:"people,omitempty"`
	Missing  []string      `json:"missing,omitempty"`
	Complete bool          `json:"complete"` // everyone who must accept has (mediators only)
}

func (TermsView) wire() {}

// TermsSetRequest replaces a case's terms (PUT …/terms, mediators).
type TermsSetRequest struct {
	Text string `json:"text"`
}

// SignedConsentRequest is a device-signed acceptance: POST …/terms/accept (Item
// is the terms' version, SHA256 the text's hash) and POST
// …/disclosures/{id}/ack (Item and SHA256 left empty or the disclosure's
// id and text hash; an empty body acknowledges without a signature, as
// older clients do).
type SignedConsentRequest struct {
	Item      string `json:"item,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Device    string `json:"device,omitempty"`
	SignedAt  int64  `json:"signedAt,omitempty"`
	Signature string `json:"signature,omitempty"`
}
