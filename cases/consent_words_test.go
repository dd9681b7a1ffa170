package cases

import "testing"

// The names in "still to accept: …" (an opening refused, the terms'
// missing list) are read by mediators in the browser and on the command
// line: a party by their side's label, a lawyer as that side's lawyer
// (api.PersonWords), never "counsel" or a side id.
func TestDescribeInPlainWords(t *testing.T) {
	c := &Case{Sides: []Side{{ID: "A", Label: "Tenant"}, {ID: "B", Label: "Landlord"}}}
	for _, tc := range []struct {
		p    Participant
		want string
	}{
		{Participant{Name: "Jordan Blake", Role: RoleCounsel, Side: "A"}, "Jordan Blake (Tenant's lawyer)"},
		{Participant{Name: "Lars Lindqvist", Role: RoleParty, Side: "B"}, "Lars Lindqvist (Landlord)"},
		{Participant{Name: "Sam Lee", Role: RoleObserver}, "Sam Lee (observer)"},
		{Participant{Name: "Kim Park", Role: RoleParty, Side: "Z"}, "Kim Park (party)"},
	} {
		if got := describe(c, tc.p); got != tc.want {
			t.Errorf("describe(%s) = %q, want %q", tc.p.Name, got, tc.want)
		}
	}
}
