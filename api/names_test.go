package api

import "testing"

// TestPersonWords pins the one way people are named: a party by their
// side's label alone, a lawyer as that side's lawyer, an observer and a
// mediator by what they are; never "counsel" or a side's id.
func TestPersonWords(t *testing.T) {
	for _, c := range []struct {
		name  string
		role  ParticipantRole
		label string
		want  string
	}{
		{"Ada Okafor", RoleParty, "Tenant", "Ada Okafor (Tenant)"},
		{"Jordan Blake", RoleCounsel, "Tenant", "Jordan Blake (Tenant's lawyer)"},
		{"Jordan Blake", "lawyer", "Parent A", "Jordan Blake (Parent A's lawyer)"},
		{"Kit Moss", RoleCounsel, "Employees", "Kit Moss (Employees' lawyer)"},
		{"Sam Lee", RoleObserver, "", "Sam Lee (observer)"},
		{"Sam Lee", RoleObserver, "Tenant", "Sam Lee (observer)"},
		{"Morgan Reyes", "mediator", "", "Morgan Reyes (mediator)"},
		{"Pat Doe", RoleParty, "", "Pat Doe (party)"},
		{"Pat Doe", RoleCounsel, "", "Pat Doe (lawyer)"},
	} {
		if got := PersonWords(c.name, c.role, c.label); got != c.want {
			t.Errorf("PersonWords(%q, %q, %q) = %q, want %q", c.name, c.role, c.label, got, c.want)
		}
	}
}
