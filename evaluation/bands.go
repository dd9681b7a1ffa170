package evaluation

import "fmt"

// Durations and counts leave the export in bands, never exactly. Records
// staff see every case's stage dates and roster size (its summary), and a
// participant knows their own case's dates: an exact "days to resolution"
// or "participants" value would let either find their case's row — and
// with it the case's survey means and comments — inside a k-anonymous
// group. A band holds many cases, so the row stays one of its group.

// band is a half-open range [lo, hi) with its label; hi 0 means no bound.
type band struct {
	lo, hi float64
	label  string
}

var (
	dayBands = []band{{0, 1, "0"}, {1, 7, "1-6"}, {7, 14, "7-13"}, {14, 30, "14-29"}, {30, 60, "30-59"},
		{60, 90, "60-89"}, {90, 180, "90-179"}, {180, 365, "180-364"}, {365, 0, "365+"}}
	hourBands        = []band{{0, 2, "0-1.5"}, {2, 4, "2-3.5"}, {4, 8, "4-7.5"}, {8, 16, "8-15.5"}, {16, 0, "16+"}}
	sessionBands     = []band{{0, 1, "0"}, {1, 2, "1"}, {2, 3, "2"}, {3, 5, "3-4"}, {5, 0, "5+"}}
	participantBands = []band{{0, 3, "0-2"}, {3, 5, "3-4"}, {5, 9, "5-8"}, {9, 0, "9+"}}
	// responseBands keep MinSurveyResponses as a boundary, so a band says
	// whether the case's survey means were released.
	responseBands = []band{{0, 1, "0"}, {1, MinSurveyResponses, fmt.Sprintf("1-%d", MinSurveyResponses-1)},
		{MinSurveyResponses, 5, fmt.Sprintf("%d-4", MinSurveyResponses)}, {5, 10, "5-9"}, {10, 0, "10+"}}
	countBands = []band{{0, 1, "0"}, {1, 2, "1"}, {2, 3, "2"}, {3, 5, "3-4"}, {5, 0, "5+"}}
)

// inBand returns the label of the band that holds v.
func inBand(v float64, bands []band) string {
	for _, b := range bands {
		if v >= b.lo && (b.hi == 0 || v < b.hi) {
			return b.label
		}
	}
	return bands[0].label // negative: a clock step; the lowest band
}

// bandLabels lists the labels of bands, for the data dictionary.
func bandLabels(bands []band) string {
	out := ""
	for i, b := range bands {
		if i > 0 {
			out += ", "
		}
		out += b.label
	}
	return out
}

func itoaBand(n int, bands []band) string { return inBand(float64(n), bands) }

// releasedOrNot is the coarsest survey_responses value: whether the case
// had enough responses for its means to be released.
func releasedOrNot(n int) string {
	if n >= MinSurveyResponses {
		return fmt.Sprintf("%d+", MinSurveyResponses)
	}
	return fmt.Sprintf("0-%d", MinSurveyResponses-1)
}
