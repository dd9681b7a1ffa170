package policy

import (
	"strings"
	"testing"
)

func TestSessionActions(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	// theCase (policy_test.go): m1 mediates, m2 recused, m3 unconfirmed, pA/pB parties,
	// cA counsel, o1 observer.
	cases := []struct {
		user User
		a    Action
		want bool
	}{
		{User{ID: "m1", Role: RoleMediator}, SessionManage, true},
		{User{ID: "m1", Role: RoleMediator}, SessionRead, true},
		{User{ID: "m1", Role: RoleMediator}, MailRead, true},
		{User{ID: "m1", Role: RoleMediator, Disabled: true}, SessionManage, false},
		{User{ID: "m2", Role: RoleMediator}, SessionManage, false},
		{User{ID: "m2", Role: RoleMediator}, SessionRead, false},
		{User{ID: "m9", Role: RoleMediator}, SessionRead, false},
		{User{ID: "m3", Role: RoleMediator}, SessionRead, false}, // unconfirmed
		{User{ID: "m3", Role: RoleMediator}, SessionManage, false},
		{User{ID: "m3", Role: RoleMediator}, MailRead, false},
		{User{ID: "pA", Role: RoleParticipant}, SessionRead, true},
		{User{ID: "pA", Role: RoleParticipant}, SessionManage, false},
		{User{ID: "pA", Role: RoleParticipant}, MailRead, false},
		{User{ID: "o1", Role: RoleParticipant}, SessionRead, true},
		{User{ID: "r1", Role: RoleRecords}, SessionRead, false},
		{User{ID: "a1", Role: RoleAdmin}, SessionManage, false},
		{User{ID: "a1", Role: RoleAdmin}, MailRead, false},
	}
	for _, c := range cases {
		if got := e.Decide(c.user, c.a, theCase).Allowed; got != c.want {
			t.Errorf("%s %s: allowed=%v, want %v", c.user.ID, c.a, got, c.want)
		}
	}
	for role, want := range map[Role]bool{RoleMediator: true, RoleRecords: true, RoleAdmin: false, RoleParticipant: false} {
		if got := e.Decide(User{ID: "x", Role: role}, CaseloadView, nil).Allowed; got != want {
			t.Errorf("%s caseload: %v", role, got)
		}
	}
	src := Source()
	for _, a := range SessionActions() {
		if !strings.Contains(src, `Action::"`+string(a)+`"`) {
			t.Errorf("action %s appears in no policy", a)
		}
	}
}
