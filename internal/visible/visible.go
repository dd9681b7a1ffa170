// Package visible says whether a piece of text a person typed shows
// anything on screen. Names made only of zero-width spaces (U+200B), word
// joiners (U+2060), byte-order marks (U+FEFF), other format or space
// characters, lone combining marks or blank-looking letters render as
// nothing: a document or a person with such a name cannot be told apart
// from an empty one, or from another such name.
package visible

import "unicode"

// Has reports whether s holds at least one character that draws something:
// a letter, digit, punctuation mark or symbol, other than the few that are
// drawn blank (the Hangul fillers and the blank Braille pattern).
func Has(s string) bool {
	for _, r := range s {
		if blank(r) {
			continue
		}
		if unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) {
			return true
		}
	}
	return false
}

func blank(r rune) bool {
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0', // Hangul fillers
		'\u2800': // Braille pattern blank
		return true
	}
	return false
}
