package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
)

// A local time the clocks pass twice (they go back) is refused in plain
// words, as one they skip is: which of the two instants was meant cannot
// be known. The hours around it are taken.
func TestParseStartRefusesAmbiguousTimes(t *testing.T) {
	now := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ start, zone string }{
		{"2026-11-01T01:30", "America/New_York"},
		{"2026-11-01T01:00", "America/New_York"},
		{"2026-10-25T02:30", "Europe/Berlin"},
		{"2027-04-04T02:30", "Australia/Sydney"},
		{"2027-04-04T01:45", "Australia/Lord_Howe"}, // half an hour back
	} {
		_, err := ParseStart(c.start, c.zone, now)
		ie, ok := fault.AsInvalid(err)
		if !ok || ie.Field != "start" {
			t.Fatalf("%s %s: %v, want a refusal of start", c.start, c.zone, err)
		}
		if want := "that time happens twice in " + c.zone + " on that day (the clocks go back): choose another time"; !strings.Contains(err.Error(), want) {
			t.Fatalf("%s %s: %q, want %q", c.start, c.zone, err, want)
		}
	}
	for _, c := range []struct{ start, zone string }{
		{"2026-11-01T00:59", "America/New_York"},
		{"2026-11-01T02:00", "America/New_York"},
		{"2026-10-31T01:30", "America/New_York"},
		{"2026-10-25T03:00", "Europe/Berlin"},
		{"2026-10-25T10:00", "UTC"},
	} {
		if _, err := ParseStart(c.start, c.zone, now); err != nil {
			t.Fatalf("%s %s: %v", c.start, c.zone, err)
		}
	}
}
