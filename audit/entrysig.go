package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Entry signatures.
//
// A checkpoint proves that the entries it covers are the ones the log
// signed, but a node signs a checkpoint over whatever it finds in the store
// at the next index: someone who can write to the bucket without the master
// key (a storage administrator, whoever restores a backup) could put an
// entry there, and the next append would sign it. So every entry this
// package writes carries its own signature, by the log's key, over the log's
// name, the entry's index and its canonical bytes, and a Log refuses to take
// in (and so to sign over) an entry whose signature is missing or wrong.
//
// The signature is stored after the event, on a line of its own, in the
// entry's object:
//
//	<canonical event JSON>\n
//	— <log name> <base64 of key hash (4 bytes, big-endian) and Ed25519 signature>\n
//
// A canonical event never holds a newline, so the first one ends the
// event. The Merkle leaf is the event's bytes alone — exactly what it was
// before entries were signed — so checkpoints signed before keep verifying,
// and inclusion proofs are checked against the event as before.
//
// Entries written before this release carry no signature. The first node
// of this release to open the log appends a signed entry at its end
// (EventEntrySignatures, at index N) and signs a checkpoint over it and
// everything before, with an extension line saying from which index
// entries are signed ("entries signed from N"); every later checkpoint
// repeats it. (Not a checkpoint of the old size: the older one stays
// stored under that size, and could be made the latest again.) Entries
// before N are vouched for by the checkpoints alone; an entry at N or
// beyond without a valid signature was not written by a node (forged, or
// damaged), and is refused by [Open], by a Log catching up with the store,
// and by [Verify] — the tail beyond the latest checkpoint included. Where
// no checkpoint states N (a bucket writer may delete them all), the first
// signed entry must say that signatures start there (see entryAuth), so
// entries before it cannot be rewritten or stripped unnoticed while any
// signed entry remains.

// ErrForgedEntry is wrapped by the error that refuses an entry without a
// valid entry signature where one is required.
var ErrForgedEntry = errors.New("not written by a node holding the audit key (no valid entry signature): forged or damaged")

// entrySigPrefix starts every signed message. It holds spaces, which a log
// name (a checkpoint's first line) cannot, so an entry signature can never
// pass for a checkpoint's, nor the reverse.
const entrySigPrefix = "parley audit entry v1\n"

// signedFromExt is the checkpoint extension line's start: "entries signed
// from N".
const signedFromExt = "entries signed from "

// noSignedFrom is an entryAuth's signedFrom before any index is known from
// which entries must be signed.
const noSignedFrom = math.MaxInt64

// entryMessage is what an entry's signature signs.
func entryMessage(origin string, index int64, event []byte) []byte {
	msg := make([]byte, 0, len(entrySigPrefix)+len(origin)+24+len(event))
	msg = append(msg, entrySigPrefix...)
	msg = append(msg, origin...)
	msg = append(msg, '\n')
	msg = strconv.AppendInt(msg, index, 10)
	msg = append(msg, '\n')
	return append(msg, event...)
}

// signRecord returns the object stored as entry index: event and its
// signature line.
func signRecord(s *Signer, index int64, event []byte) []byte {
	sig := ed25519.Sign(s.key, entryMessage(s.name, index, event))
	blob := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(sig)), s.hash)
	blob = append(blob, sig...)
	rec := make([]byte, 0, len(event)+len(s.name)+100)
	rec = append(rec, event...)
	rec = append(rec, "\n— "...)
	rec = append(rec, s.name...)
	rec = append(rec, ' ')
	rec = base64.StdEncoding.AppendEncode(rec, blob)
	return append(rec, '\n')
}

// parseRecord splits a stored entry into its event and its signature line
// (without the final newline; nil for an entry stored without one).
func parseRecord(raw []byte) (event, sigLine []byte, err error) {
	i := bytes.IndexByte(raw, '\n')
	if i < 0 {
		return raw, nil, nil
	}
	event, rest := raw[:i], raw[i+1:]
	line, ok := bytes.CutSuffix(rest, []byte("\n"))
	if !ok || len(line) == 0 || bytes.IndexByte(line, '\n') >= 0 {
		return nil, nil, errors.New("malformed entry: want an event and one signature line")
	}
	return event, line, nil
}

// checkEntrySig checks a signature line of entry index against v.
func checkEntrySig(v note.Verifier, index int64, event, sigLine []byte) error {
	rest, ok := strings.CutPrefix(string(sigLine), "— ")
	name, b64, ok2 := strings.Cut(rest, " ")
	if !ok || !ok2 {
		return errors.New("malformed signature line")
	}
	if name != v.Name() {
		return fmt.Errorf("signed for log %q, not %q", name, v.Name())
	}
	blob, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(blob) != 4+ed25519.SignatureSize {
		return errors.New("malformed signature")
	}
	if binary.BigEndian.Uint32(blob) != v.KeyHash() {
		return errors.New("signed with another key")
	}
	if !v.Verify(entryMessage(name, index, event), blob[4:]) {
		return errors.New("signature does not verify")
	}
	return nil
}

// fetched is a stored entry read and checked: its event's bytes (the Merkle
// leaf), whether it carries a valid signature, and whether it is an
// EventEntrySignatures entry (starts) and the index its "from" names.
type fetched struct {
	event  []byte
	signed bool
	starts bool
	from   string
}

// readEntry checks raw, the stored entry index: a canonical event, and a
// valid signature if it carries one (whether it must is entryAuth's to
// say). A signature that does not verify wraps ErrForgedEntry.
func readEntry(v note.Verifier, key string, index int64, raw []byte) (fetched, error) {
	event, sigLine, err := parseRecord(raw)
	if err != nil {
		return fetched{}, fmt.Errorf("audit: entry %d (%s): %w: %w", index, key, err, ErrForgedEntry)
	}
	ev, err := ParseEvent(event)
	if err != nil {
		return fetched{}, fmt.Errorf("audit: entry %d: %w", index, err)
	}
	f := fetched{event: event, starts: ev.Type == EventEntrySignatures, from: ev.Attrs["from"]}
	if sigLine == nil {
		return f, nil
	}
	if err := checkEntrySig(v, index, event, sigLine); err != nil {
		return fetched{}, fmt.Errorf("audit: entry %d (%s): %s: %w", index, key, err, ErrForgedEntry)
	}
	f.signed = true
	return f, nil
}

// entryAuth decides which entries must be signed, taking entries in index
// order: every entry at or beyond signedFrom must be. signedFrom comes
// down to the first signed entry seen, and to what a checkpoint of this
// release states (requireFrom); entries before it are from before entries
// were signed.
//
// Unsigned entries before the first signed one are taken as from before
// entries were signed only if something signed says signatures start
// there: the first signed entry is entry 0 (nothing comes before it), or
// the EventEntrySignatures entry whose "from" is its own index (a node
// appended it at the end of the log it found), or the index a signed
// checkpoint states (signedFrom, known before any signed entry is seen).
// Otherwise the unsigned entry just before it is a forgery or a signed
// entry with its signature stripped: a bucket writer who deleted the
// checkpoints saying where signatures start, and rewrote entries before
// the first signed one, would have them taken in. An unsigned
// EventEntrySignatures entry is refused too: a node only writes it
// signed.
type entryAuth struct {
	signedFrom   int64 // noSignedFrom until known
	lastUnsigned int64 // the last unsigned entry admitted, or -1
	anySigned    bool  // a signed entry was admitted
}

func newEntryAuth() entryAuth { return entryAuth{signedFrom: noSignedFrom, lastUnsigned: -1} }

// errBadStart is wrapped (with ErrForgedEntry) by admit's error for a
// first signed entry that does not say signatures start there: the error
// names the entry before it, which was already taken in, not the one read.
var errBadStart = errors.New("the first signed entry does not start signatures")

// admit checks entry index of the log laid out by lay (read with
// readEntry) against what is known of where signatures start.
func (a *entryAuth) admit(lay layout, index int64, f fetched) error {
	key := lay.entry(index)
	if f.starts && !f.signed {
		return fmt.Errorf("audit: entry %d (%s): the entry from which entries are signed, without its signature (stripped): %w", index, key, ErrForgedEntry)
	}
	if f.signed {
		if !a.anySigned && index > 0 && index != a.signedFrom && (!f.starts || f.from != strconv.FormatInt(index, 10)) {
			return fmt.Errorf("audit: entry %d (%s): no entry signature, yet entry %d is signed and is not the entry from which entries are signed (%w): %w",
				index-1, lay.entry(index-1), index, errBadStart, ErrForgedEntry)
		}
		a.signedFrom = min(a.signedFrom, index)
		a.anySigned = true
		return nil
	}
	if index >= a.signedFrom {
		return fmt.Errorf("audit: entry %d (%s): no entry signature, yet every entry from %d on is signed: %w", index, key, a.signedFrom, ErrForgedEntry)
	}
	a.lastUnsigned = index
	return nil
}

// requireFrom records that every entry from index from on must be signed
// (a checkpoint says so), failing if one already admitted is not. The
// unsigned entries admitted all come before the first signed one, so the
// first of them at or beyond from is from itself.
func (a *entryAuth) requireFrom(lay layout, from int64, why string) error {
	if a.lastUnsigned >= from {
		return fmt.Errorf("audit: entry %d (%s): no entry signature, yet %s says every entry from %d on is signed: %w", from, lay.entry(from), why, from, ErrForgedEntry)
	}
	a.signedFrom = min(a.signedFrom, from)
	return nil
}

// checkpointText is c's text with the extension line saying from which
// index entries are signed.
func checkpointText(c Checkpoint, signedFrom int64) string {
	return c.Text() + signedFromExt + strconv.FormatInt(signedFrom, 10) + "\n"
}

// signNote signs text as a note.
func signNote(text string, s *Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return msg, nil
}

// openCheckpointFrom opens a signed checkpoint with v and returns, besides
// its contents, the index from which its extension line says entries are
// signed, or -1 for a checkpoint signed before entries were.
func openCheckpointFrom(signed []byte, v note.Verifier) (Checkpoint, int64, error) {
	c, err := openCheckpoint(signed, v)
	if err != nil {
		return Checkpoint{}, 0, err
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil { // cannot happen: openCheckpoint opened it
		return Checkpoint{}, 0, fmt.Errorf("audit: checkpoint signature: %w", err)
	}
	from := int64(-1)
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	for _, ext := range lines[min(3, len(lines)):] {
		s, ok := strings.CutPrefix(ext, signedFromExt)
		if !ok {
			continue
		}
		f, err := strconv.ParseInt(s, 10, 64)
		if err != nil || f < 0 || f > c.Size || strconv.FormatInt(f, 10) != s || from >= 0 {
			return Checkpoint{}, 0, fmt.Errorf("audit: malformed checkpoint: bad extension line %q", ext)
		}
		from = f
	}
	return c, from, nil
}
