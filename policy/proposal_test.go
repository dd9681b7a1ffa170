package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestProposalActionsAppearInPolicies(t *testing.T) {
	src := Source()
	for _, a := range ProposalActions() {
		if !strings.Contains(src, `Action::"`+string(a)+`"`) {
			t.Errorf("action %s appears in no policy", a)
		}
	}
}

// Nobody but a case's own mediators recuses or assigns a mediator
// directly; administrators and records staff can only propose.
func TestProgramNeverRecusesOrAssignsDirectly(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	orphan := &Case{ID: "c", Mediators: []string{"m1"}, Recused: []string{"m1"}}
	for _, u := range []User{{ID: "a1", Role: RoleAdmin}, {ID: "r1", Role: RoleRecords}} {
		for _, c := range []*Case{theCase, orphan} {
			for _, a := range []Action{CaseRecuse, CaseAddMediator, CaseRead, CaseUpdate} {
				if d := e.Decide(u, a, c); d.Allowed {
					t.Errorf("%s %s on %v: allowed by %v", u.Role, a, c.Mediators, d.Policies)
				}
			}
		}
	}
}

// An administrator proposes a mediator only for a case whose every
// mediator has recused; records staff never do.
func TestAssignProposalOnlyForOrphanedCases(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	admin := User{ID: "a1", Role: RoleAdmin}
	records := User{ID: "r1", Role: RoleRecords}
	for _, tc := range []struct {
		name     string
		med, rec []string
		want     bool
	}{
		{"one active mediator", []string{"m1"}, nil, false},
		{"one active of two", []string{"m1", "m2"}, []string{"m2"}, false},
		{"every mediator recused", []string{"m1", "m2"}, []string{"m1", "m2"}, true},
		{"no mediator at all", nil, nil, true},
	} {
		p := Proposal{Case: &Case{ID: "c", Mediators: tc.med, Recused: tc.rec}, Proposer: admin.ID, Subject: "n1", SubjectProvenanceKnown: true}
		if got := e.DecideProposal(admin, AssignPropose, p); got.Allowed != tc.want {
			t.Errorf("%s: admin propose allowed=%v, want %v", tc.name, got.Allowed, tc.want)
		}
		p.Proposer = records.ID
		if got := e.DecideProposal(records, AssignPropose, p); got.Allowed {
			t.Errorf("%s: records proposed a mediator", tc.name)
		}
	}
}

// TestApprovalIndependence: the table is the specification of who may
// approve whose proposal. Accounts: a1, a2 and r1 were made by the operator
// (no lineage); a1 made a1x (admin) and r1x (records); a1x made a1xx; m1 is
// the mediator concerned / nominee, made by the operator; n1 is a nominee
// a2 made.
func TestApprovalIndependence(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	lineage := map[string][]string{"a1x": {"a1"}, "r1x": {"a1"}, "a1xx": {"a1x", "a1"}, "n1": {"a2"}}
	user := func(id string, r Role) User {
		return User{ID: id, Role: r, Lineage: lineage[id], ProvenanceKnown: true}
	}
	a1, a2, r1 := user("a1", RoleAdmin), user("a2", RoleAdmin), user("r1", RoleRecords)
	a1x, r1x, a1xx := user("a1x", RoleAdmin), user("r1x", RoleRecords), user("a1xx", RoleAdmin)
	m1 := user("m1", RoleMediator)
	n1 := user("n1", RoleMediator)
	orphan := &Case{ID: "c", Mediators: []string{"m0"}, Recused: []string{"m0"}}
	prop := func(proposer User, subject string) Proposal {
		return Proposal{Case: orphan, Proposer: proposer.ID, ProposerLineage: proposer.Lineage, Subject: subject, SubjectLineage: lineage[subject], SubjectProvenanceKnown: true}
	}
	// took: the subject's control once `by` has approved a reset of its
	// password (by joins its lineage).
	took := func(p Proposal, by string) Proposal {
		p.SubjectLineage = append(slices.Clone(p.SubjectLineage), by)
		return p
	}
	for _, tc := range []struct {
		name     string
		who      User
		a        Action
		p        Proposal
		want     bool
		policyID string
	}{
		{"independent admin approves a recusal", a2, RecusalApprove, prop(a1, "m1"), true, ""},
		{"independent records approves a recusal", r1, RecusalApprove, prop(a1, "m1"), true, ""},
		{"proposer approves own recusal proposal", a1, RecusalApprove, prop(a1, "m1"), false, "proposer-cannot-approve-own-proposal"},
		{"admin the proposer created approves", a1x, RecusalApprove, prop(a1, "m1"), false, "approver-independent-of-proposer"},
		{"records the proposer created approves", r1x, AssignApprove, prop(a1, "m1"), false, "approver-independent-of-proposer"},
		{"admin made by the proposer's admin approves", a1xx, AssignApprove, prop(a1, "m1"), false, "approver-independent-of-proposer"},
		{"creator approves what its creation proposed", a1, AssignApprove, prop(a1xx, "m1"), false, "approver-independent-of-proposer"},
		{"sibling approves (same creator)", r1x, RecusalApprove, prop(a1x, "m1"), false, "approver-independent-of-proposer"},
		{"mediator concerned approves own recusal", m1, RecusalApprove, prop(a1, "m1"), false, ""},
		{"nominee approves own assignment", m1, AssignApprove, prop(a1, "m1"), false, ""},
		{"independent admin approves an assignment", a2, AssignApprove, prop(a1, "m1"), true, ""},
		{"nominee's creator approves its assignment", a2, AssignApprove, prop(a1, "n1"), false, "nominee-independent-of-program"},
		{"nominee's creator proposes it", a2, AssignPropose, prop(a2, "n1"), false, "nominee-independent-of-program"},
		{"admin proposes a nominee it did not make", a1, AssignPropose, prop(a1, "n1"), true, ""},
		{"independent records approves that", r1, AssignApprove, prop(a1, "n1"), true, ""},
		{"nominee itself proposes", n1, AssignPropose, prop(n1, "n1"), false, ""},
		{"mediator proposes a recusal", m1, RecusalPropose, prop(m1, "m1"), false, ""},
		{"records proposes a recusal", r1, RecusalPropose, prop(r1, "m1"), true, ""},
		{"proposer withdraws", a1, ProposalDecline, prop(a1, "m1"), true, ""},
		{"participant declines", user("p1", RoleParticipant), ProposalDecline, prop(a1, "m1"), false, ""},
		{"disabled independent admin approves", User{ID: "a2", Role: RoleAdmin, Disabled: true}, RecusalApprove, prop(a1, "m1"), false, "disabled-accounts-do-nothing"},
		{"admin of unknown lineage approves", User{ID: "a2", Role: RoleAdmin}, RecusalApprove, prop(a1, "m1"), false, "unknown-provenance-not-independent"},
		{"admin of unknown lineage approves an assignment", User{ID: "a2", Role: RoleAdmin}, AssignApprove, prop(a1, "n1"), false, "unknown-provenance-not-independent"},
		{"nominee of unknown lineage", a1, AssignPropose, func() Proposal { p := prop(a1, "n1"); p.SubjectProvenanceKnown = false; return p }(), false, "nominee-of-unknown-provenance"},
		// The proposer took the nominee after proposing it (approved a
		// reset of its password: the nominee's control now holds a1).
		{"approval of a nominee the proposer took since", a2, AssignApprove, took(prop(a1, "m1"), "a1"), false, "nominee-independent-of-proposer"},
		{"approval of a nominee sharing a controller with the proposer", r1, AssignApprove, took(prop(a1x, "m1"), "a1"), false, "nominee-independent-of-proposer"},
		{"approval of a nominee that controls the proposer", a2, AssignApprove, prop(a1xx, "a1x"), false, "nominee-independent-of-proposer"},
		{"activation, everyone still independent", a2, AssignActivate, prop(a1, "m1"), true, ""},
		{"activation whatever the approver's role is now", User{ID: "a2", Role: RoleMediator, ProvenanceKnown: true}, AssignActivate, prop(a1, "m1"), true, ""},
		{"activation of a nominee the proposer took since", a2, AssignActivate, took(prop(a1, "m1"), "a1"), false, "nominee-independent-of-proposer"},
		{"activation of a nominee the approver took since", a2, AssignActivate, took(prop(a1, "m1"), "a2"), false, "nominee-independent-of-program"},
		{"activation of a nominee of unknown lineage", a2, AssignActivate, func() Proposal { p := prop(a1, "m1"); p.SubjectProvenanceKnown = false; return p }(), false, "nominee-of-unknown-provenance"},
		{"proposal of a nominee the proposer took", a1, AssignPropose, took(prop(a1, "m1"), "a1"), false, "nominee-independent-of-program"},
	} {
		d := e.DecideProposal(tc.who, tc.a, tc.p)
		if d.Allowed != tc.want {
			t.Errorf("%s: allowed=%v, want %v (%v)", tc.name, d.Allowed, tc.want, d.Policies)
		}
		if tc.policyID != "" && !slices.Contains(d.Policies, tc.policyID) {
			t.Errorf("%s: decided by %v, want %s", tc.name, d.Policies, tc.policyID)
		}
	}
}

func TestProposalListIsStaffOnly(t *testing.T) {
	e, _ := New()
	for _, tc := range []struct {
		u    User
		want bool
	}{
		{User{ID: "a1", Role: RoleAdmin}, true}, {User{ID: "r1", Role: RoleRecords}, true},
		{User{ID: "m1", Role: RoleMediator}, false}, {User{ID: "pA", Role: RoleParticipant}, false},
	} {
		if got := e.Decide(tc.u, ProposalRead, theCase).Allowed; got != tc.want {
			t.Errorf("%s proposal.read: %v", tc.u.Role, got)
		}
	}
}

// TestCoMediatorIndependence: a case's mediator adds a colleague only if
// no one person could hold both accounts. a1 (operator) made m1 and m2;
// b1 (operator) made mb, and a1 reset b1's password (so a1 is in mb's
// control); mo was made by the operator.
func TestCoMediatorIndependence(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	lineage := map[string][]string{"m1": {"a1"}, "m2": {"a1"}, "mb": {"b1", "a1"}}
	user := func(id string) User {
		return User{ID: id, Role: RoleMediator, Lineage: lineage[id], ProvenanceKnown: true}
	}
	c := &Case{ID: "c", Mediators: []string{"m1", "mo", "mr"}, Recused: []string{"mr"}}
	add := func(adder User, subject string) Proposal {
		return Proposal{Case: c, Proposer: adder.ID, ProposerLineage: adder.Lineage, Subject: subject, SubjectLineage: lineage[subject], SubjectProvenanceKnown: true}
	}
	for _, tc := range []struct {
		name     string
		who      User
		p        Proposal
		want     bool
		policyID string
	}{
		{"independent colleague", user("mo"), add(user("mo"), "m2"), true, "mediators-add-colleagues"},
		{"a colleague made by the adder's creator", user("m1"), add(user("m1"), "m2"), false, "co-mediator-independent-of-adder"},
		{"a colleague whose creator the adder's creator reset", user("m1"), add(user("m1"), "mb"), false, "co-mediator-independent-of-adder"},
		{"the adder's own creator", User{ID: "m1", Role: RoleMediator, Lineage: []string{"x9"}, ProvenanceKnown: true}, add(User{ID: "m1", Lineage: []string{"x9"}}, "x9"), false, "co-mediator-independent-of-adder"},
		{"a colleague the adder made", user("mo"), Proposal{Case: c, Proposer: "mo", Subject: "mz", SubjectLineage: []string{"mo"}, SubjectProvenanceKnown: true}, false, "co-mediator-independent-of-adder"},
		{"a colleague of unknown lineage", user("mo"), func() Proposal { p := add(user("mo"), "m2"); p.SubjectProvenanceKnown = false; return p }(), false, "co-mediator-independent-of-adder"},
		{"an adder of unknown lineage", User{ID: "mo", Role: RoleMediator}, add(user("mo"), "m2"), false, "co-mediator-independent-of-adder"},
		{"a recused mediator", user("mr"), add(user("mr"), "m2"), false, "recused-mediators-add-no-one"},
		{"a mediator of another case", user("mx"), add(user("mx"), "m2"), false, ""},
		{"an administrator", User{ID: "a2", Role: RoleAdmin, ProvenanceKnown: true}, add(User{ID: "a2"}, "m2"), false, ""},
		{"a disabled mediator", User{ID: "mo", Role: RoleMediator, Disabled: true, ProvenanceKnown: true}, add(user("mo"), "m2"), false, "disabled-accounts-do-nothing"},
	} {
		d := e.DecideProposal(tc.who, CaseAddMediator, tc.p)
		if d.Allowed != tc.want {
			t.Errorf("%s: allowed=%v, want %v (%v)", tc.name, d.Allowed, tc.want, d.Policies)
		}
		if tc.policyID != "" && !slices.Contains(d.Policies, tc.policyID) {
			t.Errorf("%s: decided by %v, want %s", tc.name, d.Policies, tc.policyID)
		}
	}
}
