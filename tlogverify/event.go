package tlogverify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Limits on an Event. They keep leaves small and, more importantly, make it
// awkward to smuggle content into the log: 256 bytes is room for an id, an
// enum or a count, not for a paragraph of a message.
const (
	// MaxEventSize bounds the canonical encoding of one event.
	MaxEventSize = 4 << 10
	// MaxAttrValue bounds each value in Event.Attrs.
	MaxAttrValue = 256
)

// Event is one audit record: who did what to which objects in which case.
//
// Every field must be free of confidential content (see the package
// documentation): ids and hashes identify things without revealing them,
// so the log never needs rewriting when those things are disposed of.
type Event struct {
	// Type names the action, e.g. "case.open", "doc.share", "retention.purge".
	// Required.
	Type string `json:"type,omitempty"`
	// Actor is the id of the account or service that acted (never a name or
	// an email address).
	Actor string `json:"actor,omitempty"`
	// Case is the id of the case the action belongs to, if any.
	Case string `json:"case,omitempty"`
	// Objects are ids of the documents, messages or records acted on.
	Objects []string `json:"objects,omitempty"`
	// Hashes are content hashes (e.g. "sha256:…") of those objects, so a
	// later reader can tell which version was acted on without the log
	// holding the content.
	Hashes []string `json:"hashes,omitempty"`
	// Attrs carries small extra facts: ids, enums and counts only, each
	// value at most MaxAttrValue bytes. Not free text.
	Attrs map[string]string `json:"attrs,omitempty"`
	// Time is when the action happened. Append fills in the current time
	// when it is zero and stores it in UTC.
	Time time.Time `json:"time,omitzero"`
}

// Validate checks the limits on an event: Type is required, every Attrs
// value is at most MaxAttrValue bytes and the canonical encoding is at most
// MaxEventSize bytes.
func (e Event) Validate() error {
	if e.Type == "" {
		return errors.New("audit: event has no type")
	}
	for k, v := range e.Attrs {
		if len(v) > MaxAttrValue {
			return fmt.Errorf("audit: event %q: attr %q is %d bytes, limit %d (attrs are for ids, enums and counts)", e.Type, k, len(v), MaxAttrValue)
		}
	}
	b, err := e.Canonical()
	if err != nil {
		return err
	}
	if len(b) > MaxEventSize {
		return fmt.Errorf("audit: event %q encodes to %d bytes, limit %d", e.Type, len(b), MaxEventSize)
	}
	return nil
}

// Encode returns the canonical encoding of e: the bytes stored as the entry
// and hashed (tlog.RecordHash) into the Merkle tree. A client checking an
// inclusion proof for an event hashes exactly these bytes.
//
// encoding/json is deterministic for this struct — fields in declaration
// order, map keys sorted, no insignificant whitespace — so the same event
// always encodes to the same bytes. Time is normalised to UTC so that the
// same instant does not encode differently in different zones.
func (e Event) Encode() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e.Canonical()
}

// Canonical is e's canonical encoding without checking its limits (Encode
// checks them): what ParseEvent compares a stored entry against.
func (e Event) Canonical() ([]byte, error) {
	if !e.Time.IsZero() {
		e.Time = e.Time.UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("audit: encode event: %w", err)
	}
	return b, nil
}

// ParseEvent decodes a stored entry and insists it is in canonical form:
// re-encoding the decoded event must give back exactly data. A non-canonical
// entry was not written by this package, so it is treated as tampering
// rather than silently accepted.
func ParseEvent(data []byte) (Event, error) {
	var e Event
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("unparseable entry: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("unparseable entry: trailing data")
	}
	re, err := e.Canonical()
	if err != nil {
		return Event{}, err
	}
	if !bytes.Equal(re, data) {
		return Event{}, errors.New("entry is not in canonical encoding")
	}
	return e, nil
}
