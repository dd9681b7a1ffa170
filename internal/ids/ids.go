// Package ids makes random identifiers and secret tokens.
//
// Ids are 128 random bits in lowercase base32 behind a short type prefix
// ("c_" for a case), so object keys built from them reveal nothing but the
// kind of thing stored. Tokens (sessions, invites) are 256 random bits in
// base64url; the server stores only a keyed hash of them.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"strings"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// New returns prefix + "_" + 26 random base32 characters.
func New(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + "_" + strings.ToLower(b32.EncodeToString(b))
}

// Valid reports whether s looks like an id made by New with prefix, so that
// a path parameter can be rejected before it becomes part of an object key.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 26 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// Token returns a fresh 256-bit secret, base64url without padding.
func Token() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
