package audit

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// Signer signs the log's checkpoints with an Ed25519 key. It implements
// note.Signer, so checkpoints are ordinary C2SP signed notes that any
// note-aware tool (and [Verify]) can check with the text of
// [Signer.VerifierKey] alone.
//
// The name is the log's origin, e.g. "parley.example/audit". It appears both
// as the first line of every checkpoint and in the signature line, and binds
// signatures to this log: a checkpoint of another log signed with the same
// key has another origin and will not pass as one of ours.
type Signer struct {
	name string
	key  ed25519.PrivateKey
	hash uint32
	vkey string
}

var _ note.Signer = (*Signer)(nil)

// NewSigner returns a Signer for the log called name.
//
// The key hash is not computed here but taken from the verifier that
// note.NewVerifier builds from the public key. Computing it a second way
// would risk signatures whose key hash no verifier recognises; taking it from
// x/mod makes the signer and every verifier agree by construction.
func NewSigner(name string, key ed25519.PrivateKey) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("audit: private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("audit: private key has no Ed25519 public key")
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, fmt.Errorf("audit: signer %q: %w", name, err)
	}
	// NewVerifier also validates the name (non-empty, no '+' or spaces).
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("audit: signer %q: %w", name, err)
	}
	return &Signer{name: name, key: key, hash: v.KeyHash(), vkey: vkey}, nil
}

// Name returns the log's origin (part of note.Signer).
func (s *Signer) Name() string { return s.name }

// KeyHash returns the note key hash of the signer's key (part of
// note.Signer). It identifies the key in signature lines.
func (s *Signer) KeyHash() uint32 { return s.hash }

// Sign signs msg, the checkpoint text (part of note.Signer). Ed25519 is
// deterministic, so two nodes signing the same checkpoint produce the same
// bytes.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	return ed25519.Sign(s.key, msg), nil
}

// VerifierKey returns the log's public verifier key in note format
// ("<name>+<keyhash>+<base64 key>"). This is the server's public key: publish
// it, and anyone can check checkpoints with note.NewVerifier or [Verify].
func (s *Signer) VerifierKey() string { return s.vkey }
