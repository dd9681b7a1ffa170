package policy

import (
	"strings"
	"testing"
)

// A document a side's party or lawyer added to its caucus leaves the side
// only with the side's approval of exactly that target; a mediator's own
// caucus document needs none.
func TestShareOfSideMaterialNeedsTheSidesApproval(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	med := e.Documents(docUsers["mediator"], docCase)
	sideDoc := Document{Case: docCase, Audience: AudienceCaucus, Side: "A", Class: "evidence", SideMaterial: true}
	mediatorsDoc := sideDoc
	mediatorsDoc.SideMaterial = false
	joint := ShareTarget{Audience: AudienceJoint}
	with := func(t ShareTarget, by ...string) ShareTarget { t.ApprovedBy = by; return t }
	cases := []struct {
		name string
		doc  Document
		to   ShareTarget
		want bool
	}{
		{"joint, no approval", sideDoc, joint, false},
		{"joint, approved by the side's party", sideDoc, with(joint, "pA"), true},
		{"joint, approved by the side's lawyer", sideDoc, with(joint, "cA"), true},
		{"joint, approved by the other side's party", sideDoc, with(joint, "pB"), false},
		{"joint, approved by the other side's lawyer", sideDoc, with(joint, "cB"), false},
		{"joint, approved by the observer", sideDoc, with(joint, "o1"), false},
		{"joint, approved by the mediator", sideDoc, with(joint, "m1"), false},
		{"joint, approved by someone no longer in the case", sideDoc, with(joint, "gone"), false},
		{"other caucus, no approval", sideDoc, ShareTarget{Audience: AudienceCaucus, Side: "B"}, false},
		{"other caucus, approved", sideDoc, ShareTarget{Audience: AudienceCaucus, Side: "B", ApprovedBy: []string{"pA"}}, true},
		{"the same caucus", sideDoc, ShareTarget{Audience: AudienceCaucus, Side: "A"}, true},
		{"mediators only", sideDoc, ShareTarget{Audience: AudienceMediators}, true},
		{"named people of the side", sideDoc, ShareTarget{Audience: AudienceUsers, Users: []string{"pA", "cA"}}, true},
		{"named people beyond the side", sideDoc, ShareTarget{Audience: AudienceUsers, Users: []string{"pA", "pB"}}, false},
		{"the observer by name", sideDoc, ShareTarget{Audience: AudienceUsers, Users: []string{"o1"}}, false},
		{"the observer by name, approved", sideDoc, ShareTarget{Audience: AudienceUsers, Users: []string{"o1"}, ApprovedBy: []string{"cA"}}, true},
		{"a mediator's own caucus document to joint", mediatorsDoc, joint, true},
	}
	for _, c := range cases {
		got := med.DecideShare(c.doc, c.to)
		if got.Allowed != c.want {
			t.Errorf("%s: allowed %v, want %v (%v)", c.name, got.Allowed, c.want, got.Policies)
		}
		if !got.Allowed && c.doc.SideMaterial && !strings.Contains(strings.Join(got.Policies, " "), "side-documents-leave-caucus-only-with-side-approval") {
			t.Errorf("%s: refused by %v, want the side-approval rule", c.name, got.Policies)
		}
	}
	// An approval does not let anyone else share: the rule adds a
	// condition, never a permit.
	for _, who := range []string{"partyA", "counselA", "partyB", "observer", "recused", "other-mediator", "records", "admin"} {
		if e.Documents(docUsers[who], docCase).DecideShare(sideDoc, with(joint, "pA")).Allowed {
			t.Errorf("%s may share a caucus document with approval", who)
		}
	}
	// Without a target (may this person share the document at all), the
	// mediator still may: that is the question an upgrade and a menu ask.
	if !med.Decide(DocShare, sideDoc).Allowed {
		t.Error("the mediator may not share the side's document at all")
	}
}

// Only the side's parties and counsel answer a request to share one of
// its caucus documents.
func TestApproveShareIsTheSides(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	doc := Document{Case: docCase, Audience: AudienceCaucus, Side: "A", Class: "evidence", SideMaterial: true}
	want := map[string]bool{"partyA": true, "counselA": true}
	for who, u := range docUsers {
		if got := e.Documents(u, docCase).DecideApproveShare(doc).Allowed; got != want[who] {
			t.Errorf("%s approves a share of a side A document: %v, want %v", who, got, want[who])
		}
	}
	joint := Document{Case: docCase, Audience: AudienceJoint, Class: "evidence"}
	if e.Documents(docUsers["partyA"], docCase).DecideApproveShare(joint).Allowed {
		t.Error("a party answers for a joint document")
	}
}
