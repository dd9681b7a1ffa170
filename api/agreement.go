package api

import "time"

// Agreement states.
const (
	// AgreementNone: the case has no agreement yet (GET …/agreement
	// answers this state, with no versions, rather than an error).
	AgreementNone = "none"
	// AgreementDrafting: the mediator is still editing; nobody has signed
	// the current version yet.
	AgreementDrafting = "drafting"
	// AgreementSigning: someone has signed the current version, not
	// everyone yet.
	AgreementSigning = "signing"
	// AgreementSigned: every party and lawyer has signed the current
	// version.
	AgreementSigned = "signed"
)

// AgreementTemplate is one of the program's templates (GET
// /api/v1/agreement-templates). Its text has placeholders
// ({{case}}, {{parties}}, {{objectives}}, {{date}}) the server fills in
// from the case when a mediator starts an agreement from it.
type AgreementTemplate struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// AgreementTemplates lists the templates.
type AgreementTemplates struct {
	Templates []AgreementTemplate `json:"templates"`
}

func (AgreementTemplates) wire() {}

// AgreementStartRequest starts a case's agreement (POST …/agreement,
// mediators): from a template, with the case's parties and objectives
// filled in.
type AgreementStartRequest struct {
	Template string `json:"template"`
	// Outcome is what the agreement settles: "full-agreement" (the
	// default) or "partial-agreement". It becomes the case's outcome when
	// the signed agreement is filed.
	Outcome OutcomeResult `json:"outcome,omitempty"`
}

// AgreementSaveRequest saves a new version (POST …/agreement/versions,
// mediators). Base is the version the mediator edited: if another version
// was saved since, the save is refused so nothing is silently overwritten.
type AgreementSaveRequest struct {
	Base int    `json:"base"`
	Text string `json:"text"`
}

// AgreementSignRequest is a device's signature on one version (POST
// …/agreement/sign, parties and counsel): the fields of
// e2ee.AgreementSignature the server cannot fill in itself, and the
// signature over its statement.
type AgreementSignRequest struct {
	Version   int    `json:"version"`
	SHA256    string `json:"sha256"`
	Device    string `json:"device"`
	SignedAt  int64  `json:"signedAt"`  // the device's clock, unix milliseconds
	Signature string `json:"signature"` // base64 Ed25519
}

// AgreementFileRequest files the signed agreement (POST …/agreement/file,
// mediators): the signed PDF becomes a document of record class agreement
// in the joint room, and the case's outcome is recorded from it when the
// case is at closure (Sessions and Hours as for POST …/outcome).
type AgreementFileRequest struct {
	Sessions int     `json:"sessions"`
	Hours    float64 `json:"hours"`
}

// AgreementVersion is one saved version.
type AgreementVersion struct {
	Version int       `json:"version"`
	SHA256  string    `json:"sha256"` // lower-case hex SHA-256 of the text's UTF-8 bytes
	Size    int       `json:"size"`
	Saved   time.Time `json:"saved"`
	By      string    `json:"by"`             // the mediator's name
	Text    string    `json:"text,omitempty"` // in GET …/agreement/versions/{n} and for the current version
}

func (AgreementVersion) wire() {}

// AgreementSignature is one recorded signature.
type AgreementSignature struct {
	AccountID string          `json:"accountId"`
	Name      string          `json:"name"`
	Role      ParticipantRole `json:"role"`
	Side      string          `json:"side,omitempty"` // the side's label
	Version   int             `json:"version"`
	SHA256    string          `json:"sha256"`
	Device    string          `json:"device"`
	DeviceKey string          `json:"deviceKey"` // base64 Ed25519 public key
	// Fingerprint is the signing device's key fingerprint (hex of the first
	// 16 bytes of SHA-256 of the key, in groups of four), as the PDF shows it.
	Fingerprint string    `json:"fingerprint"`
	SignedAt    int64     `json:"signedAt"`
	Signature   string    `json:"signature"`
	Recorded    time.Time `json:"recorded"`
	// LogIndex is the signature's entry in the key directory's
	// transparency log.
	LogIndex int64 `json:"logIndex"`
}

// AgreementSigner is someone who must sign, and whether they signed the
// current version.
type AgreementSigner struct {
	AccountID string              `json:"accountId"`
	Name      string              `json:"name"`
	Role      ParticipantRole     `json:"role"`
	Side      string              `json:"side,omitempty"`
	Signed    *AgreementSignature `json:"signed,omitempty"`
}

// Agreement is a case's agreement as the caller sees it (GET …/agreement).
type Agreement struct {
	Case     string             `json:"case"`
	Title    string             `json:"title"`
	Template string             `json:"template"`
	Outcome  OutcomeResult      `json:"outcome"`
	State    string             `json:"state"` // none, drafting, signing, signed
	Current  AgreementVersion   `json:"current"`
	Versions []AgreementVersion `json:"versions"` // every version, oldest first, without text
	Signers  []AgreementSigner  `json:"signers"`
	// Superseded are signatures on earlier versions: kept, shown, but they
	// sign nothing now.
	Superseded []AgreementSignature `json:"superseded,omitempty"`
	// Document is the vault document holding the versions' texts.
	Document string `json:"document"`
	// Filed is the vault document of the signed PDF, once filed.
	Filed    string     `json:"filed,omitempty"`
	FiledAt  *time.Time `json:"filedAt,omitempty"`
	MaySign  bool       `json:"maySign"`  // the caller is a party or lawyer of the case
	MayDraft bool       `json:"mayDraft"` // the caller is a mediator of the case
	Started  time.Time  `json:"started"`
}

func (Agreement) wire() {}

// AgreementCheck is what verifying a signed agreement's PDF found (POST
// /api/v1/agreement-verify, or `parley agreement verify` offline).
type AgreementCheck struct {
	OK      bool                 `json:"ok"`
	Case    string               `json:"case"`
	Version int                  `json:"version"`
	SHA256  string               `json:"sha256"`
	Signed  []AgreementSignature `json:"signed"`
	Error   string               `json:"error,omitempty"`
}

func (AgreementCheck) wire() {}

// AgreementFiled answers POST …/agreement/file: the agreement, and the
// case's outcome when filing recorded it (the case was at closure).
type AgreementFiled struct {
	Agreement Agreement        `json:"agreement"`
	Outcome   *OutcomeResponse `json:"outcome,omitempty"`
}

func (AgreementFiled) wire() {}
