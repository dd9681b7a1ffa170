package policy

import "testing"

// TestTransferCarriesJointDocumentsOnly: of every audience and class, only
// joint documents that are not mediator notes go in a transfer bundle,
// and only records staff may put them there.
func TestTransferCarriesJointDocumentsOnly(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	records := User{ID: "u_records", Role: RoleRecords}
	for _, tc := range []struct {
		d    Document
		want bool
	}{
		{Document{Audience: AudienceJoint, Class: "agreement"}, true},
		{Document{Audience: AudienceJoint, Class: "evidence"}, true},
		{Document{Audience: AudienceJoint, Class: ClassMediatorNotes}, false},
		{Document{Audience: AudienceCaucus, Side: "A", Class: "agreement"}, false},
		{Document{Audience: AudienceCaucus, Side: "B", Class: "evidence"}, false},
		{Document{Audience: AudienceMediators, Class: "admin"}, false},
		{Document{Audience: AudienceUsers, Users: []string{"u_a"}, Class: "correspondence"}, false},
	} {
		if got := e.DecideTransferDocument(records, tc.d); got.Allowed != tc.want {
			t.Errorf("%s %s: allowed %v, want %v (%v)", tc.d.Audience, tc.d.Class, got.Allowed, tc.want, got.Policies)
		}
	}
	for _, role := range []Role{RoleAdmin, RoleMediator, RoleParticipant} {
		if e.DecideTransferDocument(User{ID: "u_x", Role: role}, Document{Audience: AudienceJoint, Class: "agreement"}).Allowed {
			t.Errorf("%s may transfer a document", role)
		}
	}
}

// TestChooserCannotApprove: whoever chose an action for a plan's record
// does not approve the plan.
func TestChooserCannotApprove(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	a, b := User{ID: "u_a", Role: RoleRecords, ProvenanceKnown: true}, User{ID: "u_b", Role: RoleRecords, ProvenanceKnown: true}
	p := Plan{Planner: "u_p", Choosers: []string{"u_a"}}
	if e.DecidePlan(a, RetentionApprove, p).Allowed {
		t.Fatal("the chooser approved")
	}
	if !e.DecidePlan(b, RetentionApprove, p).Allowed {
		t.Fatal("a second person could not approve")
	}
	for _, act := range []Action{RetentionReview, RetentionKeep, RetentionTransfer} {
		if !e.Decide(a, act, nil).Allowed || e.Decide(User{ID: "u_x", Role: RoleAdmin}, act, nil).Allowed {
			t.Errorf("%s: records may, admin may not", act)
		}
	}
}
