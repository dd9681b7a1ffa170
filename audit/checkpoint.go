package audit

import (
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/parley-mediation/parley/tlogverify"
)

// Checkpoint, Event and their parsers live in package tlogverify, which
// clients import to check proofs without any of the server; these names
// keep the log's own code and callers unchanged.
type (
	Checkpoint = tlogverify.Checkpoint
	Event      = tlogverify.Event
)

// Limits on an Event (see tlogverify).
const (
	MaxEventSize = tlogverify.MaxEventSize
	MaxAttrValue = tlogverify.MaxAttrValue
)

// ParseCheckpoint parses a checkpoint body (tlogverify.ParseCheckpoint).
func ParseCheckpoint(text string) (Checkpoint, error) { return tlogverify.ParseCheckpoint(text) }

// OpenCheckpoint verifies a signed checkpoint against the verifier key vkey
// (from [Signer.VerifierKey]) and returns its contents.
func OpenCheckpoint(signed []byte, vkey string) (Checkpoint, error) {
	return tlogverify.OpenCheckpoint(signed, vkey)
}

// ParseEvent decodes a stored entry, insisting on its canonical form
// (tlogverify.ParseEvent).
func ParseEvent(data []byte) (Event, error) { return tlogverify.ParseEvent(data) }

func openCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	return tlogverify.OpenCheckpointWith(signed, v)
}

// signCheckpoint returns c as a signed note.
func signCheckpoint(c Checkpoint, s *Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: c.Text()}, s)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return msg, nil
}
