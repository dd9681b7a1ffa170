package account

import (
	"slices"
	"testing"

	"github.com/parley-mediation/parley/internal/hashcost"
	"github.com/parley-mediation/parley/policy"
)

func createAdmin(t *testing.T, svc *Service, email string, creator *Account) Account {
	t.Helper()
	a, err := svc.Create(t.Context(), NewAccount{Email: email, Name: "Ada Admin", Role: policy.RoleAdmin, Password: testPassword, Creator: creator})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func sameSet(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// Control is transitive over creator and resetter links: B (made by A)
// resets C, so C is held by B and A; D, made by C before, is held by C, B
// and A though its own record names only C; a later reset of A by Z
// reaches C and D as well.
func TestControlIsTransitive(t *testing.T) {
	hashcost.UseTestCost()
	svc, _ := newService(t)
	ctx := t.Context()
	a := createAdmin(t, svc, "a@example.org", nil)
	b := createAdmin(t, svc, "b@example.org", &a)
	c := createAdmin(t, svc, "c@example.org", nil)
	d := createAdmin(t, svc, "d@example.org", &c)
	z := createAdmin(t, svc, "z@example.org", nil)

	got, _, err := svc.ResetPassword(ctx, c.ID, b.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The stored lineage gains the resetter and its whole lineage.
	if !sameSet(got.Lineage, b.ID, a.ID) {
		t.Fatalf("C's lineage after B's reset: %v, want B %s and A %s", got.Lineage, b.ID, a.ID)
	}
	ctl, err := svc.ControlOf(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(ctl.Lineage, c.ID, b.ID, a.ID) || !ctl.ProvenanceKnown() {
		t.Fatalf("control of D: %v (known %v)", ctl.Lineage, ctl.ProvenanceKnown())
	}
	if _, _, err := svc.ResetPassword(ctx, a.ID, z.ID, nil); err != nil {
		t.Fatal(err)
	}
	for _, acct := range []Account{c, d} {
		ctl, err := svc.ControlOf(ctx, acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ctl.Lineage, z.ID) {
			t.Fatalf("a reset of A by Z does not reach %s: %v", acct.Email, ctl.Lineage)
		}
	}
	// Z itself is held by none of them.
	if ctl, err := svc.ControlOf(ctx, z.ID); err != nil || len(ctl.Lineage) != 0 {
		t.Fatalf("control of Z: %v %v", ctl.Lineage, err)
	}
}

// An account reset by one whose lineage is unknown has an unknown
// provenance from then on, as one created by it does.
func TestControlUnknownProvenanceSpreads(t *testing.T) {
	hashcost.UseTestCost()
	svc, _ := newService(t)
	ctx := t.Context()
	legacy := createAdmin(t, svc, "legacy@example.org", nil)
	legacy.Origin = "" // as made before origins were recorded
	child := createAdmin(t, svc, "child@example.org", &legacy)
	c := createAdmin(t, svc, "c@example.org", nil)
	if _, _, err := svc.ResetPassword(ctx, c.ID, child.ID, nil); err != nil {
		t.Fatal(err)
	}
	ctl, err := svc.ControlOf(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ctl.ProvenanceKnown() || ctl.Principal().ProvenanceKnown {
		t.Fatalf("C, reset by an account of unknown lineage, counts as known: %+v", ctl)
	}
	// Its stored record keeps how it came to be.
	if got, _ := svc.Get(ctx, c.ID); !got.ProvenanceKnown() {
		t.Fatalf("the stored origin changed: %+v", got)
	}
}

// TestStaffCreatedMediatorHasNoPasswordUntilApproved: a mediator's or
// records clerk's account that an administrator creates takes no password
// (one given is refused on "password"); it is stored with none, so no
// sign-in opens it, and with its creator's reset request waiting. The
// approval makes its first password, a temporary one to replace. The
// operator's accounts and an administrator's take the password given.
func TestStaffCreatedMediatorHasNoPasswordUntilApproved(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	creator, err := svc.Create(ctx, NewAccount{Email: "creator@example.org", Name: "Ada Admin", Role: policy.RoleAdmin, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	approver, err := svc.Create(ctx, NewAccount{Email: "approver@example.org", Name: "Bo Admin", Role: policy.RoleAdmin, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []policy.Role{policy.RoleMediator, policy.RoleRecords} {
		email := string(role) + "@example.org"
		_, err := svc.Create(ctx, NewAccount{Email: email, Name: "New " + string(role), Role: role, Password: testPassword, Creator: &creator})
		wantInvalid(t, err, "password")
		a, err := svc.Create(ctx, NewAccount{Email: email, Name: "New " + string(role), Role: role, Creator: &creator})
		if err != nil {
			t.Fatal(err)
		}
		if a.PasswordHash != "" || a.PendingReset == nil || a.PendingReset.RequestedBy != creator.ID || a.PasswordChangeRequired || !a.View().NoPassword {
			t.Fatalf("a new %s: %+v", role, a)
		}
		if _, _, _, err := svc.Login(ctx, email, testPassword, "127.0.0.1"); err == nil {
			t.Fatalf("signed in as a new %s with its creator's password", role)
		}
		if _, _, _, err := svc.Login(ctx, email, "", "127.0.0.1"); err == nil {
			t.Fatalf("signed in as a new %s with no password", role)
		}
		got, pw, err := svc.ApproveReset(ctx, a.ID, creator.ID, approver.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !got.PasswordChangeRequired || got.PendingReset != nil || got.View().NoPassword {
			t.Fatalf("the approved %s: %+v", role, got)
		}
		if in, _, _, err := svc.Login(ctx, email, pw, "127.0.0.1"); err != nil || !in.PasswordChangeRequired {
			t.Fatalf("signing in with the first password: %+v %v", in, err)
		}
	}
	// An administrator's account, and the operator's mediator, take one.
	if _, err := svc.Create(ctx, NewAccount{Email: "admin2@example.org", Name: "Cy Admin", Role: policy.RoleAdmin, Creator: &creator}); err == nil {
		t.Fatal("an administrator's account made with no password")
	}
	op, err := svc.Create(ctx, NewAccount{Email: "op-med@example.org", Name: "Op Mediator", Role: policy.RoleMediator, Password: testPassword})
	if err != nil || op.PendingReset != nil || op.PasswordHash == "" {
		t.Fatalf("the operator's mediator: %+v %v", op, err)
	}
}
