package policy

import (
	"slices"
	"testing"
)

// An administrator's account list holds staff accounts, never a
// participant's: its name and email, with the audit log's invite
// redemptions, would tell who takes part in which mediation.
func TestAccountListHoldsNoParticipants(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	admin := User{ID: "a1", Role: RoleAdmin, ProvenanceKnown: true}
	for _, role := range []Role{RoleAdmin, RoleMediator, RoleRecords} {
		if d := e.DecideAccount(admin, AccountList, AccountEntry{ID: "u1", Role: role}); !d.Allowed {
			t.Errorf("admin listing a %s account: refused (%v)", role, d.Policies)
		}
	}
	d := e.DecideAccount(admin, AccountList, AccountEntry{ID: "u2", Role: RoleParticipant})
	if d.Allowed || !slices.Contains(d.Policies, "account-list-holds-no-participants") {
		t.Errorf("admin listing a participant account: %+v", d)
	}
	for _, role := range []Role{RoleMediator, RoleRecords, RoleParticipant} {
		if d := e.DecideAccount(User{ID: "x", Role: role}, AccountList, AccountEntry{ID: "u1", Role: RoleMediator}); d.Allowed {
			t.Errorf("%s listing accounts: allowed", role)
		}
	}
	if d := e.DecideAccount(User{ID: "a2", Role: RoleAdmin, Disabled: true}, AccountList, AccountEntry{ID: "u1", Role: RoleMediator}); d.Allowed {
		t.Error("a disabled admin listing accounts: allowed")
	}
}
