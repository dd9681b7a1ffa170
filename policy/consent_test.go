package policy

import "testing"

// TestConsentRules: mediators of the case set terms; parties, counsel and
// observers accept them; no one else does either, and a recused mediator
// does neither.
func TestConsentRules(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	c := &Case{ID: "c1", Mediators: []string{"m1", "m2"}, Recused: []string{"m2"},
		Parties: []string{"pA", "pB"}, Counsel: []string{"cA"}, Observers: []string{"o1"},
		SideMembers: map[string][]string{"A": {"pA", "cA"}, "B": {"pB"}}}
	for _, tc := range []struct {
		id   string
		role Role
		a    Action
		want bool
	}{
		{"m1", RoleMediator, CaseTermsSet, true},
		{"m2", RoleMediator, CaseTermsSet, false},
		{"m9", RoleMediator, CaseTermsSet, false},
		{"pA", RoleParticipant, CaseTermsSet, false},
		{"adm", RoleAdmin, CaseTermsSet, false},
		{"pA", RoleParticipant, CaseTermsAccept, true},
		{"cA", RoleParticipant, CaseTermsAccept, true},
		{"o1", RoleParticipant, CaseTermsAccept, true},
		{"px", RoleParticipant, CaseTermsAccept, false},
		{"m1", RoleMediator, CaseTermsAccept, false},
		{"rec", RoleRecords, CaseTermsAccept, false},
	} {
		if got := e.Decide(User{ID: tc.id, Role: tc.role}, tc.a, c).Allowed; got != tc.want {
			t.Errorf("%s (%s) %s: got %v want %v", tc.id, tc.role, tc.a, got, tc.want)
		}
	}
}
