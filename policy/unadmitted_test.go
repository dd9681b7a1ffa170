package policy

import (
	"slices"
	"testing"
)

// TestUnadmittedMediatorAddsNobody: a mediator of the case record whom the
// signed membership does not seat (Case.Unadmitted) is refused an
// invitation and a link back in, by the rule unadmitted-mediators-add-nobody,
// and nothing else; a seated co-mediator keeps both. Without the fact
// (every other decision) nothing changes.
func TestUnadmittedMediatorAddsNobody(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	c := &Case{ID: "case1", Mediators: []string{"m1", "m2"}, Parties: []string{"pA"}, Unadmitted: []string{"m2"}}
	m1, m2 := User{ID: "m1", Role: RoleMediator}, User{ID: "m2", Role: RoleMediator}
	for _, a := range []Action{CaseInvite, CaseReentry} {
		d := e.Decide(m2, a, c)
		if d.Allowed || !slices.Contains(d.Policies, "unadmitted-mediators-add-nobody") {
			t.Errorf("%s by the unadmitted mediator: %+v", a, d)
		}
		if !e.Decide(m1, a, c).Allowed {
			t.Errorf("%s by the seated mediator refused", a)
		}
		without := *c
		without.Unadmitted = nil
		if !e.Decide(m2, a, &without).Allowed {
			t.Errorf("%s refused without the fact", a)
		}
	}
	for _, a := range []Action{CaseRead, CaseUpdate, CaseDisclose, CaseAddMediator, CaseRecuse, CaseRemoveParticipant} {
		if !e.Decide(m2, a, c).Allowed {
			t.Errorf("%s refused to the unadmitted mediator", a)
		}
	}
}
