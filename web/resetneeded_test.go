package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// asCreatorsPassword rewrites an operator-made staff account's record as
// a release before first passwords were approved stored an account an
// administrator made through the API: created by creator, its password
// the one given at creation (account.CreatorsPassword).
func asCreatorsPassword(t *testing.T, n *nodetest.Node, id string, creator account.Account) {
	t.Helper()
	a, err := metastore.Update(t.Context(), n.Meta, account.RecordKey(id), func(a *account.Account) error {
		a.CreatedBy, a.Lineage, a.Origin, a.OwnPassword = creator.ID, []string{creator.ID}, account.OriginStaff, false
		return nil
	})
	if err != nil || !a.CreatorsPassword() {
		t.Fatalf("storing %s as an old release's: %+v %v", id, a.View(), err)
	}
}

// TestAccountListSaysWhichNeedAReset: an administrator's account list
// marks passwordResetNeeded on exactly the accounts whose password sign-in
// refuses as their creator's (an old mediator's and records clerk's
// account), not on an operator-made mediator, an administrator an
// administrator made, or a new account waiting for its first password;
// once a second administrator approved a reset of it, the mark is gone.
// The raw ownPassword flag is never on the wire.
func TestAccountListSaysWhichNeedAReset(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := t.Context()
	adminA, adminAC := n.Staff(t, policy.RoleAdmin, "admin-a@example.org")
	_, adminBC := n.Staff(t, policy.RoleAdmin, "admin-b@example.org")
	oldMed, _ := n.Staff(t, policy.RoleMediator, "old-med@example.org")
	oldRec, _ := n.Staff(t, policy.RoleRecords, "old-rec@example.org")
	n.Staff(t, policy.RoleMediator, "operator-med@example.org")
	asCreatorsPassword(t, n, oldMed.ID, adminA)
	asCreatorsPassword(t, n, oldRec.ID, adminA)
	viaAPI(t, n, adminAC, policy.RoleAdmin, "made-admin@example.org")
	if err := adminAC.Do(ctx, http.MethodPost, "/api/v1/accounts", map[string]string{"email": "new-med@example.org", "name": "Nia New", "role": "mediator"}, nil); err != nil {
		t.Fatal(err)
	}
	// marked lists the emails the list marks, and fails on a raw
	// ownPassword field.
	marked := func() map[string]bool {
		t.Helper()
		var raw json.RawMessage
		if err := adminBC.Do(ctx, http.MethodGet, "/api/v1/accounts", nil, &raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "ownPassword") {
			t.Errorf("the account list carries the raw ownPassword flag: %s", raw)
		}
		var list []map[string]any
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, a := range list {
			if v, ok := a["passwordResetNeeded"]; ok {
				if v != true {
					t.Errorf("passwordResetNeeded of %v is %v, want true or absent", a["email"], v)
				}
				out[a["email"].(string)] = true
			}
		}
		return out
	}
	got := marked()
	if len(got) != 2 || !got["old-med@example.org"] || !got["old-rec@example.org"] {
		t.Fatalf("the list marks %v as needing a reset; want the old mediator's and records clerk's accounts only", got)
	}
	// One administrator asks, a second approves: a temporary password,
	// no longer the creator's.
	if _, err := adminAC.ResetPassword(ctx, oldMed.ID); err != nil {
		t.Fatal(err)
	}
	if got := marked(); !got["old-med@example.org"] {
		t.Errorf("a reset only asked for leaves the creator's password: the mark should stay, got %v", got)
	}
	if _, err := adminBC.ApproveReset(ctx, oldMed.ID); err != nil {
		t.Fatal(err)
	}
	if got := marked(); len(got) != 1 || !got["old-rec@example.org"] {
		t.Errorf("after the approved reset the list marks %v; want the records clerk's account only", got)
	}
	// The mark and sign-in use the one rule: the operator setting the
	// clerk's password clears both.
	if err := n.Accounts.SetPassword(ctx, oldRec.ID, "the operator's new password"); err != nil {
		t.Fatal(err)
	}
	if got := marked(); len(got) != 0 {
		t.Errorf("after the operator set the password the list marks %v", got)
	}
}
