package policy

import "testing"

// TestAgreementRules: the case's mediators draft; everyone hearing the
// joint room reads; only parties and counsel sign; no one outside the
// case, no recused mediator and no administrator does any of it.
func TestAgreementRules(t *testing.T) {
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
		{"m1", RoleMediator, AgreementDraft, true},
		{"m2", RoleMediator, AgreementDraft, false},
		{"m9", RoleMediator, AgreementDraft, false},
		{"pA", RoleParticipant, AgreementDraft, false},
		{"adm", RoleAdmin, AgreementDraft, false},
		{"m1", RoleMediator, AgreementRead, true},
		{"m2", RoleMediator, AgreementRead, false},
		{"m9", RoleMediator, AgreementRead, false},
		{"pB", RoleParticipant, AgreementRead, true},
		{"cA", RoleParticipant, AgreementRead, true},
		{"o1", RoleParticipant, AgreementRead, true},
		{"px", RoleParticipant, AgreementRead, false},
		{"rec", RoleRecords, AgreementRead, false},
		{"adm", RoleAdmin, AgreementRead, false},
		{"pA", RoleParticipant, AgreementSign, true},
		{"cA", RoleParticipant, AgreementSign, true},
		{"o1", RoleParticipant, AgreementSign, false},
		{"m1", RoleMediator, AgreementSign, false},
		{"px", RoleParticipant, AgreementSign, false},
	} {
		if got := e.Decide(User{ID: tc.id, Role: tc.role}, tc.a, c).Allowed; got != tc.want {
			t.Errorf("%s (%s) %s: got %v want %v", tc.id, tc.role, tc.a, got, tc.want)
		}
	}
}
