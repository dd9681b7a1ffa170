package tlogverify

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is the signed statement "the log called Origin has Size
// entries and its Merkle tree root is Hash". It is the body of a C2SP
// tlog-checkpoint:
//
//	<origin>
//	<size, decimal>
//	<root hash, base64>
//
// Holding one checkpoint pins the whole prefix of the log up to Size: any
// later change to those entries changes the root.
type Checkpoint struct {
	Origin string
	Size   int64
	Hash   tlog.Hash
}

// Text returns the checkpoint body, the text that is signed.
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// ParseCheckpoint parses a checkpoint body (the text of a signed note, not
// the signed note itself). Extension lines after the root hash, which the
// C2SP format allows, are accepted and ignored; this log writes none.
func ParseCheckpoint(text string) (Checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, errors.New("audit: malformed checkpoint: missing final newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, errors.New("audit: malformed checkpoint: want origin, size and root hash lines")
	}
	origin := lines[0]
	if origin == "" {
		return Checkpoint{}, errors.New("audit: malformed checkpoint: empty origin")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("audit: malformed checkpoint: bad size %q", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("audit: malformed checkpoint: bad root hash %q", lines[2])
	}
	for _, ext := range lines[3:] {
		if ext == "" {
			return Checkpoint{}, errors.New("audit: malformed checkpoint: empty extension line")
		}
	}
	var h tlog.Hash
	copy(h[:], raw)
	return Checkpoint{Origin: origin, Size: size, Hash: h}, nil
}

// OpenCheckpointWith verifies a signed checkpoint with v and parses it. Besides
// the signature it checks that the origin line names the key's log, so a
// checkpoint of another log signed with the same key is rejected.
func OpenCheckpointWith(signed []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint origin %q is not the log %q", c.Origin, v.Name())
	}
	return c, nil
}

// OpenCheckpoint verifies a signed checkpoint against the verifier key vkey
// (from [Signer.VerifierKey]) and returns its contents. Clients use it before
// trusting the size and root they check proofs against.
func OpenCheckpoint(signed []byte, vkey string) (Checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: verifier key: %w", err)
	}
	return OpenCheckpointWith(signed, v)
}
