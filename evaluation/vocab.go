package evaluation

import "strings"

// CaseTypes and ReferralSources are the fixed vocabularies of the export.
var (
	CaseTypes = []string{"family", "divorce", "custody", "landlord-tenant", "workplace", "employment", "commercial",
		"consumer", "neighbour", "community", "civil", "small-claims", "estate", "other"}
	ReferralSources = []string{"court", "self", "attorney", "agency", "community", "employer", "other"}
)

// vocab maps a typed value onto a vocabulary: an exact (case- and
// space-insensitive) match, or "other".
func vocab(v string, words []string) string {
	v = strings.ToLower(strings.Join(strings.Fields(v), "-"))
	v = strings.ReplaceAll(v, "neighbor", "neighbour")
	for _, w := range words {
		if v == w {
			return w
		}
	}
	if v == "" {
		return "unknown"
	}
	return "other"
}
