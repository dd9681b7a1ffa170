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
	sideDoc := Document{Case: docCase, Audience: AudienceCaucus, Side: "A", Class: "evidence", MaterialSides: []string{"A"}}
	mediatorsDoc := sideDoc
	mediatorsDoc.MaterialSides = nil
	joint := ShareTarget{Audience: AudienceJoint}
	with := withApprovals
	cases := []struct {
		name string
		doc  Document
		to   ShareTarget
		want bool
	}{
		{"joint, no approval", sideDoc, joint, false},
		{"joint, approved by the side's party", sideDoc, with(joint, "A/pA"), true},
		{"joint, approved by the side's lawyer", sideDoc, with(joint, "A/cA"), true},
		{"joint, approved by the other side's party", sideDoc, with(joint, "A/pB"), false},
		{"joint, approved by the other side's lawyer", sideDoc, with(joint, "A/cB"), false},
		{"joint, approved by the observer", sideDoc, with(joint, "A/o1"), false},
		{"joint, approved by the mediator", sideDoc, with(joint, "A/m1"), false},
		{"joint, approved by someone no longer in the case", sideDoc, with(joint, "A/gone"), false},
		{"other caucus, no approval", sideDoc, ShareTarget{Audience: AudienceCaucus, Side: "B"}, false},
		{"other caucus, approved", sideDoc, with(ShareTarget{Audience: AudienceCaucus, Side: "B"}, "A/pA"), true},
		{"the same caucus", sideDoc, ShareTarget{Audience: AudienceCaucus, Side: "A"}, true},
		{"mediators only", sideDoc, ShareTarget{Audience: AudienceMediators}, true},
		{"named people of the side", sideDoc, ShareTarget{Audience: AudienceUsers, Users: []string{"pA", "cA"}}, true},
		{"named people beyond the side", sideDoc, ShareTarget{Audience: AudienceUsers, Users: []string{"pA", "pB"}}, false},
		{"the observer by name", sideDoc, ShareTarget{Audience: AudienceUsers, Users: []string{"o1"}}, false},
		{"the observer by name, approved", sideDoc, with(ShareTarget{Audience: AudienceUsers, Users: []string{"o1"}}, "A/cA"), true},
		{"a mediator's own caucus document to joint", mediatorsDoc, joint, true},
	}
	for _, c := range cases {
		got := med.DecideShare(c.doc, c.to)
		if got.Allowed != c.want {
			t.Errorf("%s: allowed %v, want %v (%v)", c.name, got.Allowed, c.want, got.Policies)
		}
		if !got.Allowed && len(c.doc.MaterialSides) > 0 && !strings.Contains(strings.Join(got.Policies, " "), "side-documents-leave-caucus-only-with-side-approval") {
			t.Errorf("%s: refused by %v, want the side-approval rule", c.name, got.Policies)
		}
	}
	// An approval does not let anyone else share: the rule adds a
	// condition, never a permit.
	for _, who := range []string{"partyA", "counselA", "partyB", "observer", "recused", "other-mediator", "records", "admin"} {
		if e.Documents(docUsers[who], docCase).DecideShare(sideDoc, with(joint, "A/pA")).Allowed {
			t.Errorf("%s may share a caucus document with approval", who)
		}
	}
	// Without a target (may this person share the document at all), the
	// mediator still may: that is the question an upgrade and a menu ask.
	if !med.Decide(DocShare, sideDoc).Allowed {
		t.Error("the mediator may not share the side's document at all")
	}
}

// Side A's material stays side A's wherever it is moved: once a share
// within the side (the mediators only, named people of the side) put it
// outside A's caucus, the next share out of the side needs A's approval
// exactly as a share straight out of the caucus does. A document with
// both sides' material needs both sides' approvals for a share beyond
// either side.
func TestSideMaterialStaysTheSidesWhereverItIsMoved(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	med := e.Documents(docUsers["mediator"], docCase)
	joint := ShareTarget{Audience: AudienceJoint}
	caucusA := ShareTarget{Audience: AudienceCaucus, Side: "A"}
	caucusB := ShareTarget{Audience: AudienceCaucus, Side: "B"}
	with := withApprovals
	moved := map[string]Document{
		"the mediators only":  {Case: docCase, Audience: AudienceMediators, Class: "evidence", MaterialSides: []string{"A"}},
		"side A's party only": {Case: docCase, Audience: AudienceUsers, Users: []string{"pA"}, Class: "evidence", MaterialSides: []string{"A"}},
		"the joint room":      {Case: docCase, Audience: AudienceJoint, Class: "evidence", MaterialSides: []string{"A"}},
		"caucus B":            {Case: docCase, Audience: AudienceCaucus, Side: "B", Class: "evidence", MaterialSides: []string{"A"}},
	}
	for where, doc := range moved {
		cases := []struct {
			name string
			to   ShareTarget
			want bool
		}{
			{"joint, no approval", joint, false},
			{"joint, approved by side A's lawyer", with(joint, "A/cA"), true},
			{"joint, approved by side B's party", with(joint, "A/pB"), false},
			{"caucus B, no approval", caucusB, false},
			{"caucus B, approved by side A's party", with(caucusB, "A/pA"), true},
			{"side B's party by name", ShareTarget{Audience: AudienceUsers, Users: []string{"pB"}}, false},
			{"the observer by name", ShareTarget{Audience: AudienceUsers, Users: []string{"o1"}}, false},
			{"back to caucus A", caucusA, true},
			{"side A's people by name", ShareTarget{Audience: AudienceUsers, Users: []string{"pA", "cA"}}, true},
			{"the mediators only", ShareTarget{Audience: AudienceMediators}, true},
		}
		for _, c := range cases {
			got := med.DecideShare(doc, c.to)
			if got.Allowed != c.want {
				t.Errorf("moved to %s, then %s: allowed %v, want %v (%v)", where, c.name, got.Allowed, c.want, got.Policies)
			}
			if !got.Allowed && !strings.Contains(strings.Join(got.Policies, " "), "side-documents-leave-caucus-only-with-side-approval") {
				t.Errorf("moved to %s, then %s: refused by %v, want the side-approval rule", where, c.name, got.Policies)
			}
			if miss := med.SidesToApprove(doc, c.to); (len(miss) == 0) != c.want || (!c.want && miss[0] != "A") {
				t.Errorf("moved to %s, then %s: sides to approve %v", where, c.name, miss)
			}
		}
		// Side A answers requests about it; nobody else does.
		for who, u := range docUsers {
			want := who == "partyA" || who == "counselA"
			if got := e.Documents(u, docCase).DecideApproveShare(doc, "A").Allowed; got != want {
				t.Errorf("moved to %s: %s answers for side A: %v, want %v", where, who, got, want)
			}
			if e.Documents(u, docCase).DecideApproveShare(doc, "B").Allowed {
				t.Errorf("moved to %s: %s answers for side B, whose material it is not", where, who)
			}
		}
	}

	// Both sides' material: every share beyond one side needs the other's
	// approval, and a share beyond both needs both.
	both := Document{Case: docCase, Audience: AudienceMediators, Class: "evidence", MaterialSides: []string{"A", "B"}}
	bothCases := []struct {
		name string
		to   ShareTarget
		want bool
		miss string
	}{
		{"joint, no approval", joint, false, "A B"},
		{"joint, approved by side A only", with(joint, "A/pA"), false, "B"},
		{"joint, approved by side B only", with(joint, "B/cB"), false, "A"},
		{"joint, approved by both", with(joint, "A/cA", "B/pB"), true, ""},
		{"caucus A, no approval", caucusA, false, "B"},
		{"caucus A, approved by side B", with(caucusA, "B/pB"), true, ""},
		{"caucus B, approved by side B only", with(caucusB, "B/pB"), false, "A"},
		{"the mediators only", ShareTarget{Audience: AudienceMediators}, true, ""},
	}
	for _, c := range bothCases {
		if got := med.DecideShare(both, c.to); got.Allowed != c.want {
			t.Errorf("both sides' material, %s: allowed %v, want %v (%v)", c.name, got.Allowed, c.want, got.Policies)
		}
		if miss := strings.Join(med.SidesToApprove(both, c.to), " "); miss != c.miss {
			t.Errorf("both sides' material, %s: sides to approve %q, want %q", c.name, miss, c.miss)
		}
	}
	for _, side := range []string{"A", "B"} {
		if !e.Documents(docUsers["party"+side], docCase).DecideApproveShare(both, side).Allowed {
			t.Errorf("party %s cannot answer for their side on a document with both sides' material", side)
		}
	}
	if e.Documents(docUsers["partyA"], docCase).DecideApproveShare(both, "B").Allowed {
		t.Error("party A answers for side B")
	}
}

// Only the side's parties and counsel answer a request to share its own
// material.
func TestApproveShareIsTheSides(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	doc := Document{Case: docCase, Audience: AudienceCaucus, Side: "A", Class: "evidence", MaterialSides: []string{"A"}}
	want := map[string]bool{"partyA": true, "counselA": true}
	for who, u := range docUsers {
		if got := e.Documents(u, docCase).DecideApproveShare(doc, "A").Allowed; got != want[who] {
			t.Errorf("%s approves a share of a side A document: %v, want %v", who, got, want[who])
		}
	}
	joint := Document{Case: docCase, Audience: AudienceJoint, Class: "evidence"}
	if e.Documents(docUsers["partyA"], docCase).DecideApproveShare(joint, "A").Allowed {
		t.Error("a party answers for a joint document that holds no side's material")
	}
	// A mediator's own caucus document is no side's material: nobody answers.
	own := Document{Case: docCase, Audience: AudienceCaucus, Side: "A", Class: "evidence"}
	if e.Documents(docUsers["partyA"], docCase).DecideApproveShare(own, "A").Allowed {
		t.Error("a party answers for a mediator's own caucus document")
	}
}

// withApprovals is t with approvals, each "side/account": the account's
// approval given as that side's.
func withApprovals(t ShareTarget, by ...string) ShareTarget {
	t.ApprovedBy = map[string][]string{}
	for _, b := range by {
		side, who, _ := strings.Cut(b, "/")
		t.ApprovedBy[side] = append(t.ApprovedBy[side], who)
	}
	return t
}

// An approval counts only as the side it was given as: one given as
// side B's never stands for side A, even by a person of side A now (a
// record from when they were of side B). Before, the approvers of every
// side were pooled and each side's decision took any of them who was its
// member.
func TestApprovalCountsOnlyAsItsSides(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	med := e.Documents(docUsers["mediator"], docCase)
	joint := ShareTarget{Audience: AudienceJoint}
	sideA := Document{Case: docCase, Audience: AudienceCaucus, Side: "A", Class: "evidence", MaterialSides: []string{"A"}}
	both := Document{Case: docCase, Audience: AudienceMediators, Class: "evidence", MaterialSides: []string{"A", "B"}}
	cases := []struct {
		name string
		doc  Document
		to   ShareTarget
		miss string
	}{
		{"side A's material, side A's party's approval given as side B's", sideA, withApprovals(joint, "B/pA"), "A"},
		{"side A's material, given as side A's", sideA, withApprovals(joint, "A/pA"), ""},
		{"both sides', both approvals given as side B's", both, withApprovals(joint, "B/pA", "B/pB"), "A"},
		{"both sides', side B's party's approval given as side A's", both, withApprovals(joint, "A/pB", "B/pB"), "A"},
		{"both sides', each given as its own side's", both, withApprovals(joint, "A/pA", "B/pB"), ""},
	}
	for _, c := range cases {
		if miss := strings.Join(med.SidesToApprove(c.doc, c.to), " "); miss != c.miss {
			t.Errorf("%s: sides to approve %q, want %q", c.name, miss, c.miss)
		}
		if got := med.DecideShare(c.doc, c.to).Allowed; got != (c.miss == "") {
			t.Errorf("%s: allowed %v", c.name, got)
		}
	}
}
