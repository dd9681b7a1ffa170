package policy

import (
	"strings"
	"testing"
)

func TestPasswordResetActionsAppearInPolicies(t *testing.T) {
	src := Source()
	for _, a := range PasswordResetActions() {
		if !strings.Contains(src, `Action::"`+string(a)+`"`) {
			t.Errorf("action %s appears in no policy", a)
		}
	}
}

// No single administrator makes a password for an account that reaches
// case content or names: a one-step reset is for administrator accounts
// only; a mediator's or records clerk's takes a request and an approval by
// another, independent administrator.
func TestResetOfContentAccountsTakesTwoAdmins(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	a1 := User{ID: "a1", Role: RoleAdmin, ProvenanceKnown: true}
	a2 := User{ID: "a2", Role: RoleAdmin, ProvenanceKnown: true}
	for _, role := range []Role{RoleMediator, RoleRecords} {
		mine := PasswordReset{Target: "m1", TargetRole: role, Requester: "a1"}
		if d := e.DecideReset(a1, AccountReset, mine); d.Allowed {
			t.Errorf("one admin resets a %s's password in one step: %v", role, d.Policies)
		}
		if d := e.DecideReset(a1, AccountResetRequest, mine); !d.Allowed {
			t.Errorf("an admin cannot request a %s's reset", role)
		}
		if d := e.DecideReset(a1, AccountResetApprove, mine); d.Allowed {
			t.Errorf("the requester approves their own %s reset: %v", role, d.Policies)
		}
		if d := e.DecideReset(a2, AccountResetApprove, mine); !d.Allowed {
			t.Errorf("a second admin cannot approve a %s's reset: %v", role, d.Policies)
		}
		// Accounts one person could hold together with the requester's.
		created := User{ID: "a3", Role: RoleAdmin, Lineage: []string{"a1"}, ProvenanceKnown: true}
		creator := PasswordReset{Target: "m1", TargetRole: role, Requester: "a1", RequesterLineage: []string{"a2"}}
		unknown := User{ID: "a4", Role: RoleAdmin}
		if d := e.DecideReset(created, AccountResetApprove, mine); d.Allowed {
			t.Errorf("an admin the requester created approves: %v", d.Policies)
		}
		if d := e.DecideReset(a2, AccountResetApprove, creator); d.Allowed {
			t.Errorf("the requester's creator approves: %v", d.Policies)
		}
		if d := e.DecideReset(unknown, AccountResetApprove, mine); d.Allowed {
			t.Errorf("an admin of unknown provenance approves: %v", d.Policies)
		}
		for _, other := range []Role{RoleMediator, RoleRecords, RoleParticipant} {
			u := User{ID: "x", Role: other, ProvenanceKnown: true}
			for _, a := range PasswordResetActions() {
				if d := e.DecideReset(u, a, mine); d.Allowed {
					t.Errorf("%s may %s: %v", other, a, d.Policies)
				}
			}
		}
	}
	adminTarget := PasswordReset{Target: "a2", TargetRole: RoleAdmin, Requester: "a1"}
	if d := e.DecideReset(a1, AccountReset, adminTarget); !d.Allowed {
		t.Error("an admin cannot reset another admin's password")
	}
	self := PasswordReset{Target: "a1", TargetRole: RoleAdmin, Requester: "a1"}
	if d := e.DecideReset(a1, AccountReset, self); d.Allowed {
		t.Error("an admin resets their own password")
	}
	for _, role := range []Role{RoleParticipant, RoleAdmin} {
		r := PasswordReset{Target: "p", TargetRole: role, Requester: "a1"}
		if d := e.DecideReset(a1, AccountResetRequest, r); d.Allowed {
			t.Errorf("a reset request for a %s: %v", role, d.Policies)
		}
	}
	disabled := a2
	disabled.Disabled = true
	if d := e.DecideReset(disabled, AccountResetApprove, PasswordReset{Target: "m1", TargetRole: RoleMediator, Requester: "a1"}); d.Allowed {
		t.Error("a disabled admin approves")
	}
}

// Whoever assigned a mediator to a case (proposed or approved the
// assignment), and any account one person could hold together with
// theirs, never approves a reset of that mediator's password, whoever
// requested it: they would sign in as the mediator they chose.
func TestAssignerCannotApproveResetOfAssignee(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	// a1 proposed, a2 approved; a5 created a2 (in a2's control); c requests.
	r := PasswordReset{Target: "m1", TargetRole: RoleMediator, Requester: "c",
		AssignerControl: []string{"a1", "a2", "a5"}}
	for _, tc := range []struct {
		name    string
		u       User
		allowed bool
	}{
		{"the proposer", User{ID: "a1", Role: RoleAdmin, ProvenanceKnown: true}, false},
		{"the approver", User{ID: "a2", Role: RoleAdmin, ProvenanceKnown: true}, false},
		{"the approver's creator", User{ID: "a5", Role: RoleAdmin, ProvenanceKnown: true}, false},
		{"an admin the proposer created", User{ID: "a3", Role: RoleAdmin, Lineage: []string{"a1"}, ProvenanceKnown: true}, false},
		{"an independent admin", User{ID: "d", Role: RoleAdmin, ProvenanceKnown: true}, true},
	} {
		d := e.DecideReset(tc.u, AccountResetApprove, r)
		if d.Allowed != tc.allowed {
			t.Errorf("%s approves a reset of the mediator they assigned: allowed %v, want %v (%v)", tc.name, d.Allowed, tc.allowed, d.Policies)
		}
		if !tc.allowed {
			// Declining stays open to them: it gives no password.
			if d := e.DecideReset(tc.u, AccountResetDecline, r); !d.Allowed {
				t.Errorf("%s cannot decline: %v", tc.name, d.Policies)
			}
		}
	}
	// Without assigners, the proposer is an ordinary second administrator.
	plain := r
	plain.AssignerControl = nil
	if d := e.DecideReset(User{ID: "a1", Role: RoleAdmin, ProvenanceKnown: true}, AccountResetApprove, plain); !d.Allowed {
		t.Errorf("an admin who assigned nothing cannot approve: %v", d.Policies)
	}
}
