package evaluation

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The PII patterns removed from free text.
var piiPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}`),  // email
	regexp.MustCompile(`(?i)\b(?:https?://|www\.)\S+`),                 // URL
	regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`),                  // IPv4
	regexp.MustCompile(`(?i)\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b`), // IPv6
	regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`),                        // SSN-style ids
	regexp.MustCompile(`\+?\(?\d[\d\s().\-]{6,}\d`),                    // phone numbers and long digit runs
	regexp.MustCompile(`(?i)\b\d{1,6}\s+(?:[a-z]+\s+){0,3}(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|close)\b\.?`), // street address
	regexp.MustCompile(`\b\d{5}(?:-\d{4})?\b`),                      // ZIP codes
	regexp.MustCompile(`(?i)\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b`), // UK postcodes
}

const removed = "[removed]"

// allowedCapitalized are capitalized words a comment may keep (not names).
var allowedCapitalized = map[string]bool{"I": true, "I'm": true, "I've": true, "I'd": true, "OK": true,
	"Mediator": true, "Mediation": true, "The": true, "It": true, "We": true, "My": true, "A": true}

// scrubComment removes roster strings and PII patterns from a comment and
// returns the result, or ok=false when it cannot be confident that nothing
// identifying remains (the caller then drops the comment). The comment is
// put in the form the roster is in (normalize) first, so the result is in
// that form too.
func scrubComment(text string, roster scrubRoster) (string, bool) {
	out := normalize(text)
	if spelledEmail.MatchString(out) {
		return "", false
	}
	if mixedScript(out) {
		return "", false
	}
	for _, name := range roster {
		out = removeName(out, name)
	}
	// A roster name still found once accents and other combining marks
	// are taken off ("Rivéra", "r\u0336ivera" for "Rivera") was written
	// past the roster: the comment is dropped.
	sk := skeleton(out)
	for _, name := range roster {
		if removeName(sk, name) != sk {
			return "", false
		}
	}
	for _, re := range piiPatterns {
		out = re.ReplaceAllString(out, removed)
	}
	return out, confident(out)
}

// skeleton is text in NFKD with its combining marks (Unicode Mn) removed:
// "Rivéra" is "Rivera", "r\u0336ivera" is "rivera".
func skeleton(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, norm.NFKD.String(s))
}

// lookAlikeScripts are the alphabetic scripts whose letters pass for one
// another ("rivеra" with a Cyrillic е looks like "rivera").
var lookAlikeScripts = []*unicode.RangeTable{unicode.Latin, unicode.Cyrillic, unicode.Greek, unicode.Armenian, unicode.Cherokee}

// mixedScript reports whether a word of text holds letters of two of the
// lookAlikeScripts: a name written with look-alike letters to pass the
// roster.
func mixedScript(text string) bool {
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !wordRune(r) }) {
		var seen *unicode.RangeTable
		for _, r := range w {
			for _, sc := range lookAlikeScripts {
				if unicode.Is(sc, r) {
					if seen != nil && seen != sc {
						return true
					}
					seen = sc
				}
			}
		}
	}
	return false
}

// normalize removes default-ignorable characters (format characters,
// Unicode Cf: zero-width spaces and joiners, soft hyphens, direction
// marks; variation selectors; the other default-ignorable code points,
// such as the combining grapheme joiner U+034F and Hangul fillers: all
// drawn as nothing), puts text in Unicode NFKC and
// folds typographic apostrophes to ', so "Zoe\u0308" matches "Zoë",
// "O’Brien" matches "O'Brien", "Ri\u200bvera" and "Ri\u00advera" match
// "Rivera", fullwidth "ａｄａ" matches "Ada", the ligature "ﬁona" "Fiona",
// fullwidth "＠" is an @ and "⁵" or "①" are digits.
func normalize(s string) string {
	s = strings.Map(func(r rune) rune {
		if ignorable(r) {
			return -1
		}
		return r
	}, s)
	return apostrophes.Replace(norm.NFKC.String(apostrophes.Replace(s)))
}

// ignorable is a default-ignorable code point (Unicode's
// Default_Ignorable_Code_Point, taken wide): a format character, a
// variation selector or another code point drawn as nothing.
func ignorable(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// spelledEmail is an email address written out to pass a filter:
// "jblake at blakelaw dot com", "sam.lee (at) example (dot) org",
// "samlee[at]example[dot]org". A comment holding one is dropped whole
// (what is around it may be part of the address).
var spelledEmail = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+` + spelledSep("at") + `[a-z0-9\-]+(?:(?:` + spelledSep("dot") + `|\.)[a-z0-9\-]+)+`)

// spelledSep is word written as an email's separator: between spaces,
// or in brackets with or without spaces around.
func spelledSep(word string) string {
	return `(?:\s*[(\[{<]\s*` + word + `\s*[)\]}>]\s*|\s+` + word + `\s+)`
}

var apostrophes = strings.NewReplacer("\u2019", "'", "\u2018", "'", "\u02bc", "'")

// A scrubRoster is what rosterStrings returns: the case-insensitive
// pattern (Unicode simple folding, and the Turkish i's as one letter:
// namePattern) of each roster string, longest first, compiled once per
// case.
type scrubRoster []*regexp.Regexp

// removeName replaces every occurrence of the name in text that is not part of
// a longer word: the letters, marks, digits or _ on either side of it end
// a match only where the name itself starts or ends with one. This is
// `\b` for any script (Go's `\b` is ASCII-only, so it never matched next
// to the "ë" of "Zoë"). After a rejected match the search resumes one rune
// later, so an overlapping occurrence is still found.
func removeName(text string, name *regexp.Regexp) string {
	var b strings.Builder
	last, pos := 0, 0
	for pos < len(text) {
		loc := name.FindStringIndex(text[pos:])
		if loc == nil || loc[0] == loc[1] {
			break
		}
		start, end := pos+loc[0], pos+loc[1]
		if boundary(text, start) && boundary(text, end) {
			b.WriteString(text[last:start])
			b.WriteString(removed)
			last, pos = end, end
			continue
		}
		_, size := utf8.DecodeRuneInString(text[start:])
		pos = start + size
	}
	if b.Len() == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// boundary reports whether text can be cut at i without splitting a word:
// the runes on both sides of i are not both word runes.
func boundary(text string, i int) bool {
	if i == 0 || i == len(text) {
		return true
	}
	before, _ := utf8.DecodeLastRuneInString(text[:i])
	after, _ := utf8.DecodeRuneInString(text[i:])
	return !wordRune(before) || !wordRune(after)
}

// wordRune is a rune that continues a word: a letter, a combining mark, a
// digit or _ (Go's `\w`, for every script).
func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r) || r == '_'
}

// confident refuses text that still holds what looks like a name (a
// capitalized word that does not start a sentence), an @, or digits or
// other numbers of any script (superscripts, circled, Roman numerals); and text holding a letter of a script without capital
// letters (Arabic, Hebrew, Devanagari, Chinese, Japanese, Korean, Thai…):
// there an unknown name cannot be told by its capital, and in the scripts
// written without spaces between words not even a roster name's part can
// be found as a word.
func confident(text string) bool {
	if strings.Contains(text, "@") {
		return false
	}
	for _, r := range text {
		if unicode.IsNumber(r) || caseless(r) {
			return false
		}
	}
	words := strings.Fields(strings.ReplaceAll(text, removed, " "))
	sentenceStart := true
	for _, w := range words {
		// Quotes around a word are not part of it ('Smith', ‘Smith’ once
		// normalized); an apostrophe inside one is (O'Brien).
		trimmed := strings.Trim(strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' }), "'")
		if trimmed != "" {
			first := []rune(trimmed)[0]
			if unicode.IsUpper(first) && !sentenceStart && !allowedCapitalized[trimmed] {
				return false
			}
		}
		sentenceStart = strings.HasSuffix(w, "!") || strings.HasSuffix(w, "?") ||
			strings.HasSuffix(w, ".") && !abbreviation(w)
	}
	return true
}

// abbreviation reports whether a word ending in "." is an initial ("J.")
// or a short abbreviation ("Mr.", "Dr.", "vs.", "e.g."), after which the
// next word does not start a sentence: "Mr. Smith never listened" names
// someone.
func abbreviation(w string) bool {
	core := strings.TrimRight(strings.TrimLeftFunc(w, func(r rune) bool { return !unicode.IsLetter(r) }), ".")
	return utf8.RuneCountInString(core) == 1 || abbreviations[strings.ToLower(core)]
}

var abbreviations = map[string]bool{"mr": true, "mrs": true, "ms": true, "mx": true, "dr": true, "prof": true, "st": true,
	"jr": true, "sr": true, "vs": true, "e.g": true, "i.e": true, "etc": true}

// capitalizedWords are the words of texts that start with a capital
// letter and are not allowedCapitalized, wherever they stand (a name
// starts a sentence as often as not): the names a case's free text may
// give. A common word that starts a sentence there is taken too, and so
// scrubbed from the case's comments in any letter case; that costs a
// word, never a name.
func capitalizedWords(texts []string) []string {
	var out []string
	for _, t := range texts {
		for _, w := range strings.FieldsFunc(normalize(t), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '-' }) {
			w = strings.Trim(w, "'-")
			if r, _ := utf8.DecodeRuneInString(w); unicode.IsUpper(r) && !allowedCapitalized[w] {
				out = append(out, w)
			}
		}
	}
	return out
}

// caseless is a letter with no upper or lower case (of a script without
// capitals).
func caseless(r rune) bool {
	return unicode.IsLetter(r) && !unicode.IsUpper(r) && !unicode.IsLower(r) && !unicode.IsTitle(r)
}

// rosterStrings lists what must never appear in a case's export: every
// person's full name and each part of it, emails, side labels and the
// words of the title, normalized (NFKC, no format characters, plain
// apostrophes) and each with
// its pattern.
func rosterStrings(parts ...[]string) scrubRoster {
	seen := map[string]bool{}
	var out []string
	addOne := func(s string) {
		s = strings.TrimSpace(s)
		if len([]rune(s)) < 2 || seen[strings.ToLower(s)] {
			return
		}
		seen[strings.ToLower(s)] = true
		out = append(out, s)
	}
	// Each string and its skeleton: "Zoë" gives "Zoe" too, so the name
	// written without its accents is found.
	add := func(s string) {
		addOne(s)
		addOne(norm.NFC.String(skeleton(s)))
	}
	for i, list := range parts {
		// People's names (the first list) give every part of two letters
		// or more, the halves of a hyphenated name too ("Li", "Marie" of
		// "Anne-Marie"); the other lists (labels, the title's words) only
		// words of three or more, so common short words stay.
		minPart := 3
		seps := []func(rune) bool{func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '-' }}
		if i == 0 {
			minPart = 2
			seps = append(seps, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' },
				func(r rune) bool { return !unicode.IsLetter(r) && r != '-' }) // "Angelo" of "D'Angelo"
		}
		for _, s := range list {
			s = normalize(s)
			add(s)
			for _, sep := range seps {
				for _, w := range strings.FieldsFunc(s, sep) {
					if len([]rune(w)) >= minPart {
						add(w)
					}
				}
			}
		}
	}
	// Longest first, so a full name is removed before its parts.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	roster := make(scrubRoster, len(out))
	for i, s := range out {
		roster[i] = regexp.MustCompile(namePattern(s))
	}
	return roster
}

// namePattern is the case-insensitive pattern of a roster string. Go's
// (?i) folds by Unicode simple folding, which does not pair the Turkish
// dotted and dotless letters with the Latin ones (İ is not I, ı is not i),
// so "İlker" would miss "ilker" and "Yıldız" "YILDIZ": each of i, I, İ
// and ı is written as all four, with the combining dot above that
// lower-casing İ may leave (i̇) allowed after it.
func namePattern(s string) string {
	var b strings.Builder
	b.WriteString(`(?i)`)
	for _, r := range s {
		switch r {
		case 'i', 'I', 'İ', 'ı':
			b.WriteString(`[iIİı]\x{307}?`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return b.String()
}
