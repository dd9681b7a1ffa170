package evaluation

import (
	"regexp"
	"strings"
	"unicode"
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
// identifying remains (the caller then drops the comment).
func scrubComment(text string, roster []string) (string, bool) {
	out := text
	for _, name := range roster {
		if name == "" {
			continue
		}
		re := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(name) + `\b`)
		out = re.ReplaceAllString(out, removed)
	}
	for _, re := range piiPatterns {
		out = re.ReplaceAllString(out, removed)
	}
	return out, confident(out)
}

// confident refuses text that still holds what looks like a name (a
// capitalized word that does not start a sentence), an @, or digits.
func confident(text string) bool {
	if strings.ContainsAny(text, "@0123456789") {
		return false
	}
	words := strings.Fields(strings.ReplaceAll(text, removed, " "))
	sentenceStart := true
	for _, w := range words {
		trimmed := strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
		if trimmed != "" {
			first := []rune(trimmed)[0]
			if unicode.IsUpper(first) && !sentenceStart && !allowedCapitalized[trimmed] {
				return false
			}
		}
		sentenceStart = strings.HasSuffix(w, ".") || strings.HasSuffix(w, "!") || strings.HasSuffix(w, "?")
	}
	return true
}

// rosterStrings lists what must never appear in a case's export: every
// person's full name and each part of it, emails, side labels and the
// words of the title.
func rosterStrings(parts ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if len([]rune(s)) < 2 || seen[strings.ToLower(s)] {
			return
		}
		seen[strings.ToLower(s)] = true
		out = append(out, s)
	}
	for _, list := range parts {
		for _, s := range list {
			add(s)
			for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '-' }) {
				if len([]rune(w)) >= 3 {
					add(w)
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
	return out
}
