package api

import "time"

// Disposal actions besides destroy (MoReq2010's set), chosen per record
// of a disposition plan before a second person approves it.
const (
	// ActionDestroy: the default; choosing it again drops another choice.
	ActionDestroy = "destroy"
	// ActionReview: keep the record until Until, for Reason.
	ActionReview = "review"
	// ActionKeep: keep the record permanently, on Authority.
	ActionKeep = "keep"
	// ActionTransfer: the record's whole case goes to an archive or a
	// court as an age-encrypted bundle to Recipient, then is destroyed.
	ActionTransfer = "transfer"
)

// DisposalAction is what records staff chose for one record (review,
// keep) or one case (transfer) of a plan.
type DisposalAction struct {
	Kind string `json:"kind"`
	// Reason (review): why the record is kept longer.
	Reason string `json:"reason,omitempty"`
	// Until (review): the record's new due date.
	Until *time.Time `json:"until,omitempty"`
	// Authority (keep): the court order, statute or program rule.
	Authority string `json:"authority,omitempty"`
	// Recipient (transfer): the age public key (age1…) the bundle is
	// encrypted to; RecipientName: who holds it (an archive, a court).
	Recipient     string `json:"recipient,omitempty"`
	RecipientName string `json:"recipientName,omitempty"`
	// By and At: who chose it, when.
	By string    `json:"by,omitempty"`
	At time.Time `json:"at"`
}

func (DisposalAction) wire() {}

// ChooseAction is a request to choose the action for one record of a
// plan (POST /api/v1/retention/plans/{id}/actions): the record as the
// plan lists it (Case, and Doc and Version or Class), or for a transfer
// the case alone.
type ChooseAction struct {
	Case    string `json:"case"`
	Doc     string `json:"doc,omitempty"`
	Version int    `json:"version,omitempty"`
	Class   string `json:"class,omitempty"`
	// Kind and the fields it needs, as in DisposalAction.
	Kind          string     `json:"kind"`
	Reason        string     `json:"reason,omitempty"`
	Until         *time.Time `json:"until,omitempty"`
	Authority     string     `json:"authority,omitempty"`
	Recipient     string     `json:"recipient,omitempty"`
	RecipientName string     `json:"recipientName,omitempty"`
}

func (ChooseAction) wire() {}

// PlanActions are the actions chosen for a plan's records, by record key
// ("<case>/<doc>@<version>" or "<case>/<class>"; a transfer by "<case>").
type PlanActions struct {
	Plan    string                    `json:"plan"`
	State   string                    `json:"state"`
	Actions map[string]DisposalAction `json:"actions"`
	// Transfers: the bundles made so far (once the plan is applied).
	Transfers []Transfer `json:"transfers"`
	// ActionsDigest ("sha256:…") covers every field of every action
	// listed, under the plan's id. Approving the plan carries it back
	// (ApprovePlanRequest): if the actions changed since, the approval is
	// refused (409, ProblemChoicesChanged).
	ActionsDigest string `json:"actionsDigest,omitempty"`
}

func (PlanActions) wire() {}

// ApprovePlanRequest approves a plan (POST
// /api/v1/retention/plans/{id}/approve) as its actions were shown to the
// approver: ActionsDigest is PlanActions.ActionsDigest of the listing
// they saw. Required (400 without it): an approval covers exactly the
// choices its approver looked at.
type ApprovePlanRequest struct {
	ActionsDigest string `json:"actionsDigest,omitempty"`
}

func (ApprovePlanRequest) wire() {}

// Transfer is one case's transfer bundle, as the certificate records it
// (GET /api/v1/retention/plans/{id}/transfers/{case} downloads it).
type Transfer struct {
	Case          string `json:"case"`
	Reference     string `json:"reference,omitempty"`
	Recipient     string `json:"recipient"`
	RecipientName string `json:"recipientName"`
	// Held: the case was under hold when the plan was applied; nothing
	// was transferred and nothing destroyed.
	Held bool `json:"held,omitempty"`
	// Documents in the bundle; Withheld: the case's documents it does not
	// carry (caucus, named people, mediators only, mediator notes).
	Documents []TransferDocument `json:"documents"`
	Withheld  int                `json:"withheld"`
	// AuditEntries: how many audit entries the excerpt holds, with
	// inclusion proofs against the signed checkpoint of size Checkpoint.
	AuditEntries int   `json:"auditEntries"`
	Checkpoint   int64 `json:"checkpoint"`
	// Audit: the "retention.transfer" entry.
	Audit *int64 `json:"audit,omitempty"`
	// Object, SHA256 and Size: the stored bundle, once made.
	Object string `json:"object,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

func (Transfer) wire() {}

// TransferDocument is one document version in a transfer bundle, named by
// ids and its keyed content hash.
type TransferDocument struct {
	Doc     string `json:"doc"`
	Version int    `json:"version"`
	Commit  string `json:"commit"`
	Size    int64  `json:"size"`
}

func (TransferDocument) wire() {}
