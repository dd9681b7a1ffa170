package account

import (
	"errors"
	"testing"

	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/policy"
)

// TestCreatorsPasswordFromOldReleaseOpensNothing: a mediator's account an
// administrator created through the API before first passwords were
// approved (stored as that release did: the creator's password, no
// PasswordChangeRequired) opens no session with that password, and a
// session opened with it before the upgrade ends; a reset requested by one
// administrator and approved by a second makes it usable, and the holder's
// own password then opens it. An operator-made mediator, and one whose
// password the operator set, are unaffected.
func TestCreatorsPasswordFromOldReleaseOpensNothing(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	creator, err := svc.Create(ctx, NewAccount{Email: "creator-a@example.org", Name: "Ada Admin", Role: policy.RoleAdmin, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	approver, err := svc.Create(ctx, NewAccount{Email: "approver-b@example.org", Name: "Bo Admin", Role: policy.RoleAdmin, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	old := func(email string, role policy.Role) Account {
		t.Helper()
		a := Account{ID: ids.New("u"), Email: email, Name: "Old " + string(role), Role: role, Created: svc.now().UTC(),
			SessionGeneration: newGeneration(0), CreatedBy: creator.ID, Lineage: []string{creator.ID}, Origin: OriginStaff,
			PasswordHash: hashPassword(testPassword)}
		if _, err := svc.meta.Create(ctx, svc.emailKey(email), emailIndex{AccountID: a.ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.meta.Create(ctx, accountKey(a.ID), a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	med := old("old-mediator@example.org", policy.RoleMediator)
	rec := old("old-records@example.org", policy.RoleRecords)
	// A session its creator (or anyone) opened with it before the upgrade.
	token, _, err := svc.newSession(ctx, med, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Account{med, rec} {
		if _, tok, _, err := svc.Login(ctx, a.Email, testPassword, "127.0.0.1"); !errors.Is(err, ErrCreatorsPassword) || tok != "" {
			t.Fatalf("signing in as the old %s with its creator's password: %q %v", a.Role, tok, err)
		}
	}
	if _, _, err := svc.Authenticate(ctx, token); !errors.Is(err, ErrCreatorsPassword) {
		t.Fatalf("a session opened with the creator's password: %v", err)
	}
	// One administrator requests, a second approves: a temporary password,
	// then the holder's own.
	if _, err := svc.RequestReset(ctx, med.ID, creator.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, pw, err := svc.ApproveReset(ctx, med.ID, creator.ID, approver.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.Login(ctx, med.Email, pw, "127.0.0.1"); err != nil {
		t.Fatalf("the approved temporary password: %v", err)
	}
	if _, _, _, err := svc.ChangePassword(ctx, med.ID, pw, otherPassword, "127.0.0.1", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.Login(ctx, med.Email, otherPassword, "127.0.0.1"); err != nil {
		t.Fatalf("the holder's own password: %v", err)
	}
	// The operator setting it (on the store) opens it too.
	if err := svc.SetPassword(ctx, rec.ID, otherPassword); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.Login(ctx, rec.Email, otherPassword, "127.0.0.1"); err != nil {
		t.Fatalf("a password the operator set: %v", err)
	}
	// An operator-made mediator, and an administrator an administrator
	// made, sign in with the password given at creation.
	if _, err := svc.Create(ctx, NewAccount{Email: "operator-made@example.org", Name: "Op Mediator", Role: policy.RoleMediator, Password: testPassword}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.Login(ctx, "operator-made@example.org", testPassword, "127.0.0.1"); err != nil {
		t.Fatalf("an operator-made mediator: %v", err)
	}
	if _, err := svc.Create(ctx, NewAccount{Email: "admin-made@example.org", Name: "Made Admin", Role: policy.RoleAdmin, Password: testPassword, Creator: &creator}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.Login(ctx, "admin-made@example.org", testPassword, "127.0.0.1"); err != nil {
		t.Fatalf("an administrator an administrator made: %v", err)
	}
}
