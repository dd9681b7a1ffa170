package main

import "testing"

// TestExportTakesMonths: `parley export` takes months (YYYY-MM, or a
// month's first day) and sends the route the first day it takes; a day
// within a month is refused in words before anything is asked of the
// server, which covers whole months only.
func TestExportTakesMonths(t *testing.T) {
	for in, want := range map[string]string{"2026-03": "2026-03-01", "2026-12-01": "2026-12-01"} {
		if got, err := monthStart("--from", in); err != nil || got != want {
			t.Errorf("monthStart(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// --to is included, as the browser's "through": the route gets the
	// first day of the month after. Before: "--to 2026-03" sent
	// 2026-03-01 and left March out.
	for in, want := range map[string]string{"2026-03": "2026-04-01", "2026-12": "2027-01-01", "2026-12-01": "2027-01-01"} {
		if got, err := monthAfter("--to", in); err != nil || got != want {
			t.Errorf("monthAfter(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"2026-03-15", "March", "", "2026-13"} {
		if got, err := monthAfter("--to", in); err == nil {
			t.Errorf("monthAfter(%q) = %q; want it refused", in, got)
		}
		if got, err := monthStart("--to", in); err == nil {
			t.Errorf("monthStart(%q) = %q; want it refused", in, got)
		}
	}
}
