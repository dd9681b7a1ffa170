package api

import "time"

// Document is a document's metadata as one caller may see it (never its
// keys or storage names). Name and MediaType are empty when the caller may
// not download it.
type Document struct {
	ID        string    `json:"id"`
	Case      string    `json:"case"`
	Name      string    `json:"name,omitempty"`
	MediaType string    `json:"mediaType,omitempty"`
	Class     string    `json:"class"`
	Audience  string    `json:"audience"` // joint, caucus:<side>, mediators, user:<id>[,…]
	Version   int       `json:"version"`  // the latest version
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256,omitempty"`
	Uploader  string    `json:"uploader"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Held      bool      `json:"held"`
	// CanDownload: the caller may read the content (and so sees names).
	CanDownload bool `json:"canDownload"`
	// Versions, newest first; only in single-document answers.
	Versions []VersionInfo `json:"versions,omitempty"`
	// E2EE: the latest version was encrypted on a device (api/docs_e2ee.go).
	E2EE bool `json:"e2ee,omitempty"`
	// Erased: every version of the document was erased (crypto-erased
	// under retention): nothing of its name or content is left, and
	// nothing can be downloaded. ErasedAt is when the last of them was,
	// by the erasing node's clock; absent if every version was erased by
	// a release that did not record when.
	Erased   bool       `json:"erased,omitempty"`
	ErasedAt *time.Time `json:"erasedAt,omitempty"`
}

func (Document) wire() {}

// VersionInfo is one version of a document.
type VersionInfo struct {
	Version   int       `json:"version"`
	Name      string    `json:"name,omitempty"`
	MediaType string    `json:"mediaType,omitempty"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256,omitempty"` // hex, of the plaintext (E2EE: of the client's ciphertext)
	Uploader  string    `json:"uploader"`         // account id
	Created   time.Time `json:"created"`
	// Erased: the version's data key was destroyed (crypto-erase).
	// ErasedAt: when, by the erasing node's clock; absent for a version
	// erased by a release that did not record it.
	Erased   bool       `json:"erased,omitempty"`
	ErasedAt *time.Time `json:"erasedAt,omitempty"`
	// E2EE: the version was encrypted on the uploader's device (api/docs_e2ee.go).
	E2EE bool `json:"e2ee,omitempty"`
	// PlainSHA256: for a version upgraded to end-to-end encryption, the
	// hex SHA-256 of its plaintext as recorded at its original upload;
	// devices check it after decrypting.
	PlainSHA256 string `json:"plainSha256,omitempty"`
}

// Person is a case member named in a share's result.
type Person struct {
	AccountID string `json:"accountId"`
	Name      string `json:"name"`
	Role      string `json:"role"` // mediator, party, counsel, observer
	Side      string `json:"side,omitempty"`
}

// ShareRequest changes a document's audience (POST …/documents/{id}/share).
type ShareRequest struct {
	Audience string `json:"audience"`
	DryRun   bool   `json:"dryRun"`
	// Wraps: for an end-to-end encrypted document, a wrap of every stored
	// version's content key for the new audience, made on the sharing
	// device (api/docs_e2ee.go). The server cannot share such a document
	// without them: it holds no key.
	Wraps []VersionWrap `json:"wraps,omitempty"`
}

// ShareResult says what a share did, or (dry run) would do.
type ShareResult struct {
	Document Document `json:"document"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	// Gaining may download the document after the share and could not
	// before; Losing the reverse.
	Gaining []Person `json:"gaining"`
	Losing  []Person `json:"losing"`
	// Invited (dry runs, for the case's mediators): invited people who
	// have not joined yet and will be able to open the document once they
	// join, and could not with its present audience.
	Invited []InvitedPerson `json:"invited,omitempty"`
	DryRun  bool            `json:"dryRun"`
	Changed bool            `json:"changed"`
	// NeedsApproval (dry runs): the document is a side's own material (a
	// party or lawyer of the side added it to the side's caucus, wherever
	// it was moved since), the share reaches beyond that side, and no
	// party or lawyer of that side has approved this share of its current
	// version; the share itself is refused until one does. ApprovalSide
	// is that side's id ("A"; the first, if several sides must approve). The mediator asks through
	// POST …/documents/{id}/share-requests (DocShareAsk).
	NeedsApproval bool   `json:"needsApproval,omitempty"`
	ApprovalSide  string `json:"approvalSide,omitempty"`
}

func (ShareResult) wire() {}

// DocShareAsk is a mediator's request that a document's side allow sharing
// it with Audience (POST …/documents/{id}/share-requests). It names the
// document's current version; asking again for the same version and
// audience answers the request already made.
type DocShareAsk struct {
	Audience string `json:"audience"` // joint, caucus:<side>, user:<id>[,…]
}

// DocShareAnswer is a side's answer to a share request
// (POST …/documents/{id}/share-requests/{request}): Allow true allows the
// share, false declines it. The answer is final. Either answer is signed
// by one of the person's own devices (first registered, or linked from
// one of theirs; not one a mediator admitted) as a consent of kind
// "share": item the request's id, text e2ee.ShareConsentText of the
// document, request, version, target audience and answer.
type DocShareAnswer struct {
	Allow     *bool  `json:"allow"`
	Device    string `json:"device,omitempty"`
	SignedAt  int64  `json:"signedAt,omitempty"` // the device's clock, unix milliseconds
	Signature string `json:"signature,omitempty"`
}

// The states of a share request.
type DocShareStatus string

const (
	DocSharePending  DocShareStatus = "pending"
	DocShareApproved DocShareStatus = "approved"
	DocShareDeclined DocShareStatus = "declined"
	// DocShareExpired: nobody of the side answered within a week.
	DocShareExpired DocShareStatus = "expired"
)

// DocShareRequest is a mediator's request that a side allow its own
// material to be shared wider, and the side's answer
// (GET …/share-requests lists them: a mediator every one of the case, a
// party or lawyer those of their side). It names the document by id: the
// caller's document list has its name, if they may read it.
type DocShareRequest struct {
	ID      string `json:"id"`
	Doc     string `json:"doc"`
	Version int    `json:"version"` // the latest version when asked: an approval is for the document as it stood then
	// From is the document's audience when asked: its side's caucus, or
	// where a share within the side put it ("mediators", "user:…").
	From string `json:"from"`
	// Side is the side asked ("A"): one whose material the document holds.
	// Its parties and lawyers answer. A document with both sides'
	// material needs a request to each.
	Side        string         `json:"side"`
	To          string         `json:"to"`
	RequestedBy string         `json:"requestedBy"`
	Requested   time.Time      `json:"requested"`
	Expires     time.Time      `json:"expires"`
	Status      DocShareStatus `json:"status"`
	DecidedBy   string         `json:"decidedBy,omitempty"`
	Decided     *time.Time     `json:"decided,omitempty"`
	// DecidedDevice: the device of DecidedBy's own that signed the answer.
	DecidedDevice string `json:"decidedDevice,omitempty"`
	// Gaining: who could open the document after such a share and cannot
	// now, as the case stands (people who join later are not named).
	Gaining []Person `json:"gaining"`
	// Shows: every version the share shows, newest first — Version and
	// each earlier version not erased (a share moves the whole document;
	// the side is told each before it answers).
	Shows []VersionInfo `json:"shows"`
}

func (DocShareRequest) wire() {}

// HoldRequest places (true) or releases (false) a document hold
// (POST …/documents/{id}/hold).
//
// A document hold is the same legal hold as `POST …/holds` with a doc:
// placing one needs Reason and Authority, releasing one a Reason (it
// releases every active hold on the document), and both are listed with
// the case's holds.
type HoldRequest struct {
	On        *bool  `json:"on"`
	Reason    string `json:"reason,omitempty"`
	Authority string `json:"authority,omitempty"`
}
