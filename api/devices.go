package api

import "time"

// Linking a second device to an account (docs/protocol.md, "Adding a
// device"). The server relays between the two devices; what it stores is
// public (device records, endorsements) or sealed to the new device (the
// key share).

// PairingStart is what an existing device sends to start a pairing.
type PairingStart struct {
	// Device is the id of the device starting it (one of the caller's
	// active devices); it will sign the new device's endorsement.
	Device string `json:"device"`
}

// PairingClaim is what the new device sends: the code shown on the old
// device and its own device record.
type PairingClaim struct {
	Code   string `json:"code"`
	Record []byte `json:"record"`
}

// PairingComplete is the old device's answer after the person compared
// safety numbers: the endorsement of the new device and the room keys
// sealed to it.
type PairingComplete struct {
	Endorsement []byte `json:"endorsement"`
	Share       []byte `json:"share"`
}

// Pairing is one pairing as its account sees it. Code is set only in the
// answer that starts it; Share only in the one collect answer.
type Pairing struct {
	ID        string    `json:"id"`
	State     string    `json:"state"` // open, claimed, done, delivered, spent, cancelled
	Expires   time.Time `json:"expires"`
	OldDevice string    `json:"oldDevice"`
	Code      string    `json:"code,omitempty"`
	NewRecord []byte    `json:"newRecord,omitempty"`
	Share     []byte    `json:"share,omitempty"`
}

func (Pairing) wire() {}
