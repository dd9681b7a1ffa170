package evaluation

import "testing"

// TestUnknownNameInQuotesOrAfterAbbreviationDropped: a capitalized word
// that does not start a sentence is taken for a name the roster does not
// know, and the comment is dropped. Before: quotes kept it from being
// seen ('Smith' and ‘Smith’ were trimmed to "'Smith"), and any word
// ending in "." was taken for a sentence's end, so the name after "Mr.",
// "Dr." or "vs." passed as a sentence's first word.
func TestUnknownNameInQuotesOrAfterAbbreviationDropped(t *testing.T) {
	roster := rosterStrings([]string{"Pat Doe"})
	for _, text := range []string{"we spoke to 'Smith' about it", "we spoke to ‘Smith’ about it",
		"Mr. Smith never listened to us.", "Dr. Patel was helpful.", "we spoke with the clerk vs. Smith",
		"the letter from J. Smith came late", "the clerk (e.g. Smith) was rude"} {
		if out, ok := scrubComment(text, roster); ok {
			t.Errorf("%q released as %q; want it dropped", text, out)
		}
	}
	for _, text := range []string{"It was fine. Then we agreed.", "the clerk's 'help' was fine", "We talked a lot! It helped.",
		"'It was fine,' I said.", "[removed] was late. The rest was good.", "o'brien's office was cold"} {
		if out, ok := scrubComment(text, roster); !ok || out != text {
			t.Errorf("scrubComment(%q) = %q, %v; want it released as is", text, out, ok)
		}
	}
}
