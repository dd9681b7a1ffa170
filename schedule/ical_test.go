package schedule

import (
	"bytes"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
)

// TestInvitationLinesEndWithCRLF: RFC 5545 §3.1 ends every content line
// of an iCalendar object with CRLF, folded lines included, and keeps each
// line to 75 octets. Before, Invitation serialized with golang-ical's
// default line ending, which on Unix is a bare LF, so every line of the
// .ics attachment ended with \n alone.
func TestInvitationLinesEndWithCRLF(t *testing.T) {
	// A join link long enough that URL and DESCRIPTION are folded.
	join := "https://parley.example.test/app#case=" + strings.Repeat("x", 120) + "&join=session"
	start := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	for _, status := range []Status{Scheduled, Cancelled} {
		s := &Session{ID: "s_1", Start: start, Minutes: 90, Status: status, Sequence: 2}
		raw := Invitation(s, "uid-1@parley", "mediation@parley.example.test", "ana@example.test", join, start.Add(-24*time.Hour))
		if !bytes.HasSuffix(raw, []byte("\r\n")) {
			t.Fatalf("%s: the .ics does not end with CRLF: %q", status, raw[max(0, len(raw)-20):])
		}
		lines := strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n")
		folded := 0
		for i, l := range lines {
			if strings.ContainsAny(l, "\r\n") {
				t.Errorf("%s: line %d has a bare CR or LF: %q", status, i+1, l)
			}
			if len(l) > 75 {
				t.Errorf("%s: line %d is %d octets, more than 75: %q", status, i+1, len(l), l)
			}
			if strings.HasPrefix(l, " ") {
				folded++
			}
		}
		if folded == 0 {
			t.Fatalf("%s: no line was folded, so folding was not checked:\n%s", status, raw)
		}
		// Unfolded, it is still the same calendar.
		cal, err := ics.ParseCalendar(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", status, err)
		}
		if got := prop(t, cal, ics.ComponentPropertyUrl); got != join {
			t.Errorf("%s: URL %q, want %q", status, got, join)
		}
	}
}
