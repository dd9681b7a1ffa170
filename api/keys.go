package api

import "time"

// Proven is every key-directory answer: records, each with its log entry
// and inclusion proof, all against one signed checkpoint. A client checks
// it with package tlogverify.
type Proven struct {
	// Key is the log's verifier key; clients pin the first one they see.
	Key string `json:"key"`
	// Checkpoint is a signed note (C2SP tlog-checkpoint).
	Checkpoint string `json:"checkpoint"`
	// Consistency proves the checkpoint extends the one of the size the
	// client sent as ?since= (absent when it sent none).
	Consistency [][]byte `json:"consistency,omitempty"`
	Devices     []Logged `json:"devices,omitempty"`
	Revocations []Logged `json:"revocations,omitempty"`
	Statements  []Logged `json:"statements,omitempty"`
	// Endorsements authorise devices after an account's first: signed by
	// another device of the account (a link) or by a mediator's device
	// for one case (an admission).
	Endorsements []Logged `json:"endorsements,omitempty"`
}

func (Proven) wire() {}

// Logged is one record and the proof that it is in the log.
type Logged struct {
	Record []byte   `json:"record"` // the e2ee encoding
	Index  int64    `json:"index"`  // its entry in the log
	Entry  []byte   `json:"entry"`  // the entry's canonical bytes (an audit event)
	Proof  [][]byte `json:"proof"`  // RFC 6962 inclusion proof at the checkpoint's size
}

// RecordRequest carries one protocol object (base64 in JSON): a device
// record, a revocation or a membership statement.
type RecordRequest struct {
	Record []byte `json:"record"`
}

// ConsentRequest is an author's consent to a carry.
type ConsentRequest struct {
	Hash string `json:"hash"`
}

// CarryRequest is what a mediator's client sends to propose a carry.
type CarryRequest struct {
	ID     string `json:"id"`
	From   string `json:"from"`
	To     string `json:"to"`
	Epoch  int64  `json:"epoch"`
	Offset int64  `json:"offset"`
	Hash   string `json:"hash"`
}

// Carry is a mediator's proposal to carry a caucus message to the joint
// room, and its author's consent. It names the message by position and
// ciphertext hash only.
type Carry struct {
	ID       string    `json:"id"`
	Case     string    `json:"case"`
	From     string    `json:"from"` // the caucus, e.g. "caucus:A"
	To       string    `json:"to"`   // "joint"
	Ref      Position  `json:"ref"`  // the carried message in From
	Hash     string    `json:"hash"` // "sha256:<hex>" of its payload
	Author   string    `json:"author"`
	Proposer string    `json:"proposer"`
	Proposed time.Time `json:"proposed"`
	// Set on consent: CarriedHash is the hash of the re-encrypted payload.
	Consented   *time.Time `json:"consented,omitempty"`
	CarriedHash string     `json:"carriedHash,omitempty"`
	// Set when the author declines instead; a carry is consented or
	// declined, never both.
	Declined *time.Time `json:"declined,omitempty"`
}

func (Carry) wire() {}

// AuditEvent is one audit log entry (GET /api/v1/audit/entries).
type AuditEvent struct {
	Type    string            `json:"type,omitempty"`
	Actor   string            `json:"actor,omitempty"`
	Case    string            `json:"case,omitempty"`
	Objects []string          `json:"objects,omitempty"`
	Hashes  []string          `json:"hashes,omitempty"`
	Attrs   map[string]string `json:"attrs,omitempty"`
	Time    time.Time         `json:"time,omitzero"`
}

// AuditEntry is an event with its index in the log.
type AuditEntry struct {
	Index int64      `json:"index"`
	Event AuditEvent `json:"event"`
}

// AuditEntries is one page of the audit log.
type AuditEntries struct {
	Entries []AuditEntry `json:"entries"`
	Size    int64        `json:"size"`
}

func (AuditEntries) wire() {}
