package objstore

import (
	"fmt"
	"strings"
)

// MaxKeyLen is the longest key a Store accepts, in bytes. S3 allows 1024;
// half that leaves room for the Dir store's "objects/" root and version file
// names on file systems that cap paths near 1 KiB, and no Parley key comes
// close.
const MaxKeyLen = 512

// MaxSegmentLen is the longest segment between slashes, in bytes. Both the
// Dir store and MinIO turn segments into directory names, and Linux file
// systems cap a name at 255 bytes (NAME_MAX).
const MaxSegmentLen = 255

// ValidateKey reports whether key is usable in every Store, returning an
// error wrapping ErrInvalidKey with the reason if not.
//
// The rules are deliberately stricter than S3's so that one key means the
// same thing everywhere:
//
//   - only [A-Za-z0-9._-/]: no spaces, no percent-encoding surprises, no
//     case-folding or Unicode-normalising file systems changing a key's
//     identity, and no '@', which the Dir store reserves for version files;
//   - "/" separates segments; no leading "/", no empty segment ("a//b" or a
//     trailing "/"), and no "." or ".." segment, so a key can never climb out
//     of the Dir store's root or alias another key;
//   - at most MaxKeyLen bytes, and MaxSegmentLen per segment.
//
// One rule cannot be checked on a key alone: a key must not also be a
// directory-style prefix of other keys ("cases/7" next to "cases/7/doc").
// MinIO stores both, and Get works for both, but while "cases/7" has any
// version (even a delete marker) listings skip everything under "cases/7/".
// Give such records a leaf name of their own ("cases/7/case").
func ValidateKey(key string) error {
	if key == "" {
		return invalidKey(key, "empty")
	}
	if err := checkPath(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(key, seg); err != nil {
			return err
		}
	}
	return nil
}

// validatePrefix is the loose form of ValidateKey used by List: the empty
// prefix (everything) is fine, and the last segment may be partial or empty
// ("cases/" or "cases/ab"), but the complete segments before it follow the
// key rules, so a prefix can only ever match keys that could exist. A last
// segment of "." or ".." is refused too, because MinIO refuses it (a prefix
// like "a/." could otherwise have matched "a/.hidden").
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := checkPath(prefix); err != nil {
		return err
	}
	segs := strings.Split(prefix, "/")
	for _, seg := range segs[:len(segs)-1] {
		if err := checkSegment(prefix, seg); err != nil {
			return err
		}
	}
	if last := segs[len(segs)-1]; last == "." || last == ".." {
		return invalidKey(prefix, fmt.Sprintf("%q segment", last))
	}
	return nil
}

// checkPath applies the whole-string rules: length, alphabet, leading "/".
func checkPath(s string) error {
	if len(s) > MaxKeyLen {
		return invalidKey(s, fmt.Sprintf("longer than %d bytes", MaxKeyLen))
	}
	if s[0] == '/' {
		return invalidKey(s, "leading /")
	}
	for i := 0; i < len(s); i++ {
		if !keyChar(s[i]) {
			return invalidKey(s, fmt.Sprintf("character %q at byte %d", s[i], i))
		}
	}
	return nil
}

func checkSegment(key, seg string) error {
	switch seg {
	case "":
		return invalidKey(key, "empty segment")
	case ".", "..":
		return invalidKey(key, fmt.Sprintf("%q segment", seg))
	}
	if len(seg) > MaxSegmentLen {
		return invalidKey(key, fmt.Sprintf("segment longer than %d bytes", MaxSegmentLen))
	}
	return nil
}

func keyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '/'
}

func invalidKey(key, reason string) error {
	// Quote only a bounded part: the key may be attacker-supplied and huge.
	if len(key) > 64 {
		key = key[:64] + "..."
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
}
