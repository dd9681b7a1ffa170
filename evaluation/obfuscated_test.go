package evaluation

import (
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// TestScrubCatchesObfuscatedForms: names, emails and numbers written so as
// to slip past the patterns are scrubbed or the comment is dropped. Before
// (NFC, IsDigit, an @ needed): an email spelled out with "at" and "dot",
// a roster name broken by a zero-width space or a soft hyphen, fullwidth
// letters, a ligature, a fullwidth @, superscript and circled digits were
// all released; so were (normalize dropping Cf only) a name broken by a
// combining grapheme joiner or a variation selector, and (no skeleton, no
// script check) one with a combining overlay, an accent or a Cyrillic
// look-alike letter, and a name written without its accents.
func TestScrubCatchesObfuscatedForms(t *testing.T) {
	roster := rosterStrings([]string{"Ada Rivera", "Fiona Blake", "Zoë Nuñez"})
	for _, text := range []string{
		"write to jblake at blakelaw dot com",
		"write to sam.lee (at) example (dot) org",
		"write to samlee[at]example[dot]org",
		"Ri\u200bvera was late",
		"Ri\u00advera was late",
		"thanks to ａｄａ",
		"thanks to ﬁona",
		"write to jdoe＠example.com",
		"call ⁵⁵⁵ ¹²³⁴",
		"call ①②③",
		"Ri\u034fvera lied.",
		"Ri\ufe0fvera lied.",
		"thanks to ri\u180bvera",
		"thanks to r\u0336ivera",
		"thanks to rivéra",
		"thanks to riv\u0435ra",
		"thanks to zoe nunez",
	} {
		out, ok := scrubComment(text, roster)
		if !ok {
			continue // dropped
		}
		// Read as a person would: without the invisible characters, the
		// fullwidth letters and ligatures as plain ones.
		low := strings.ToLower(norm.NFKC.String(strings.Map(func(r rune) rune {
			if unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point, unicode.Mn) {
				return -1
			}
			return r
		}, norm.NFKD.String(out))))
		low = strings.ReplaceAll(low, "\u0435", "e") // Cyrillic е
		for _, leak := range []string{"rivera", "ada", "fiona", "blakelaw", "example", "jdoe", "555", "1234", "123", "zoe", "nunez"} {
			if strings.Contains(low, leak) {
				t.Errorf("%q released as %q: %q is in it", text, out, leak)
			}
		}
	}
	// Ordinary words around "at" stay.
	for _, text := range []string{"we met at the court and it went well", "we looked at it, dot by dot"} {
		if out, ok := scrubComment(text, roster); !ok || out != text {
			t.Errorf("scrubComment(%q) = %q, %v; want it released as is", text, out, ok)
		}
	}
}
