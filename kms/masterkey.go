package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

const (
	keyFilePrefix = "parley-master-key-v1:"
	wrapVersion   = 1
)

// ErrUnwrap means a wrapped key could not be opened: wrong master key,
// wrong label, or tampered bytes. Callers must treat it as fatal for that key.
var ErrUnwrap = errors.New("kms: cannot unwrap key (wrong master key, wrong label, or tampered)")

// MasterKey is the root of the server's key hierarchy.
type MasterKey struct {
	aead cipher.AEAD
	id   [8]byte // first bytes of SHA-256(key): names the key in wrapped blobs
}

// LoadMasterKey reads a master key file. If the file does not exist and create
// is true, a new random key is written with mode 0600 (embedded mode); in
// scale mode create is false, because nodes must share one key provisioned by
// the operator. A key file readable by group or others is refused, as ssh
// refuses a private key with loose permissions.
func LoadMasterKey(path string, create bool) (*MasterKey, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		return createMasterKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key %s: permissions %v are too open (want 0600)", path, st.Mode().Perm())
	}
	text := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(text, keyFilePrefix) {
		return nil, fmt.Errorf("master key %s: not a Parley master key file", path)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(text, keyFilePrefix))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("master key %s: malformed key", path)
	}
	return newMasterKey(key)
}

func createMasterKey(path string) (*MasterKey, error) {
	key := make([]byte, 32)
	rand.Read(key)
	text := keyFilePrefix + base64.StdEncoding.EncodeToString(key) + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return newMasterKey(key)
}

// GenerateMasterKeyFile writes a fresh key file (for operators provisioning
// scale mode, and for tests). It refuses to overwrite an existing file.
func GenerateMasterKeyFile(path string) error {
	_, err := createMasterKey(path)
	return err
}

func newMasterKey(key []byte) (*MasterKey, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m := &MasterKey{aead: aead}
	sum := sha256.Sum256(append([]byte("parley master key id\x00"), key...))
	copy(m.id[:], sum[:8])
	return m, nil
}

// ID names the master key without revealing it (hex of a hash prefix). Wrapped
// blobs carry it, so a rotation can tell which key wrapped what.
func (m *MasterKey) ID() string { return hex.EncodeToString(m.id[:]) }

// Wrap encrypts a key under the master key. label says what the key is for
// (for example "parley/records-key/v1") and is bound as associated data, so a
// wrapped key cannot be substituted for one of another purpose.
func (m *MasterKey) Wrap(plaintext []byte, label string) []byte {
	nonce := make([]byte, m.aead.NonceSize())
	rand.Read(nonce)
	out := make([]byte, 0, 1+len(m.id)+len(nonce)+len(plaintext)+m.aead.Overhead())
	out = append(out, wrapVersion)
	out = append(out, m.id[:]...)
	out = append(out, nonce...)
	return m.aead.Seal(out, nonce, plaintext, m.aad(label))
}

// Unwrap opens a blob made by Wrap with the same label.
func (m *MasterKey) Unwrap(wrapped []byte, label string) ([]byte, error) {
	head := 1 + len(m.id) + m.aead.NonceSize()
	if len(wrapped) < head+m.aead.Overhead() || wrapped[0] != wrapVersion {
		return nil, ErrUnwrap
	}
	if string(wrapped[1:1+len(m.id)]) != string(m.id[:]) {
		return nil, fmt.Errorf("%w: wrapped by master key %x, this is %s", ErrUnwrap, wrapped[1:1+len(m.id)], m.ID())
	}
	nonce := wrapped[1+len(m.id) : head]
	pt, err := m.aead.Open(nil, nonce, wrapped[head:], m.aad(label))
	if err != nil {
		return nil, ErrUnwrap
	}
	return pt, nil
}

func (m *MasterKey) aad(label string) []byte {
	return []byte("parley/kms/wrap/v1\x00" + label)
}
