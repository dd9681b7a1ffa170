package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/policy"
)

func addMediator(t *testing.T, c *client.Client, caseID, accountID string) error {
	t.Helper()
	return c.Do(t.Context(), http.MethodPost, "/api/v1/cases/"+caseID+"/mediators", map[string]string{"accountId": accountID}, nil)
}

// TestComediatorMustBeIndependentOfTheAdder: one person holds
// administrator A and a mediator account A made for them ("mine"). An
// independent mediator, Morgan, who runs the case, takes "mine" on as a
// co-mediator. Signed in as "mine", the person then tries to add mediator
// accounts they also hold: one A made ("puppet"), and one an
// administrator B made before A reset B's password in one step (A holds B,
// so B's account too: control is transitive over resetter links). Both
// are refused, and audited, so when Morgan recuses "mine" the person
// reads nothing of the case through any of them — not the case record,
// not its rooms, not one server-encrypted document. A mediator account
// independent of "mine" (made by the operator) is still added.
func TestComediatorMustBeIndependentOfTheAdder(t *testing.T) {
	k := newAdminCase(t)
	ctx := t.Context()
	_, adminA := k.n.Staff(t, policy.RoleAdmin, "a@example.org")
	mine, mineC := viaAPI(t, k.n, adminA, policy.RoleMediator, "mine@example.org")
	puppet, puppetC := viaAPI(t, k.n, adminA, policy.RoleMediator, "puppet@example.org")
	b, adminB := k.n.Staff(t, policy.RoleAdmin, "b@example.org")
	bMed, bMedC := viaAPI(t, k.n, adminB, policy.RoleMediator, "b-med@example.org")
	if res, err := adminA.ResetPassword(ctx, b.ID); err != nil || res.TemporaryPassword == "" {
		t.Fatalf("A resets B: %+v %v", res, err)
	}
	other, otherC := k.n.Staff(t, policy.RoleMediator, "other@example.org")

	// Morgan (independent of "mine") takes "mine" on.
	if err := addMediator(t, k.medC, k.id, mine.ID); err != nil {
		t.Fatalf("the case's mediator adding an independent colleague: %v", err)
	}
	k.admit(t, mine.ID)
	k.readsAll(t, "the co-mediator", mineC)

	for who, id := range map[string]string{"a mediator account A made": puppet.ID, "a mediator account of an admin A reset": bMed.ID} {
		err := addMediator(t, mineC, k.id, id)
		if err == nil {
			t.Errorf("%s was added by a co-mediator the same person holds", who)
			continue
		}
		ce := apiErr(t, err)
		if ce.Status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403 (%v)", who, ce.Status, err)
		}
		if d := ce.Problem.Detail; strings.Contains(d, "case.") || strings.Contains(d, "u_") {
			t.Errorf("%s: the refusal names an action or an id: %q", who, d)
		}
	}
	if entries := auditEntries(t, adminA); !strings.Contains(entries, `"case.add_mediator"`) || !strings.Contains(entries, puppet.ID) {
		t.Errorf("the refused additions are not in the audit log")
	}

	// Recusal of "mine" leaves the person nothing.
	if _, err := k.medC.CaseAction(ctx, k.id, "recusals", map[string]string{"mediatorId": mine.ID, "reason": "tied to the program's administrator"}); err != nil {
		t.Fatal(err)
	}
	k.readsNothing(t, "the recused co-mediator", mineC)
	k.readsNothing(t, "the puppet", puppetC)
	k.readsNothing(t, "B's mediator", bMedC)

	// Independent accounts are unaffected: Morgan still adds one.
	if err := addMediator(t, k.medC, k.id, other.ID); err != nil {
		t.Fatalf("adding an independent co-mediator: %v", err)
	}
	k.admit(t, other.ID)
	k.readsAll(t, "the independent co-mediator", otherC)
}

// TestComediatorOfUnknownLineageRefused: a mediator account whose lineage
// is not known (made before lineages were recorded) could be held by
// anyone, the adder included, so no mediator adds it to a case, as the
// program never nominates it.
func TestComediatorOfUnknownLineageRefused(t *testing.T) {
	k := newAdminCase(t)
	_, adminA := k.n.Staff(t, policy.RoleAdmin, "a@example.org")
	old, oldC := viaAPI(t, k.n, adminA, policy.RoleMediator, "old@example.org")
	asBeforeLineage(t, k.n, old.ID)
	err := addMediator(t, k.medC, k.id, old.ID)
	if err == nil || apiErr(t, err).Status != http.StatusForbidden {
		t.Fatalf("a mediator account of unknown lineage was added: %v", err)
	}
	k.readsNothing(t, "the account of unknown lineage", oldC)
}

// TestComediatorAddedByUnknownLineageRefused: administrator A made
// mediator "old" before lineages were recorded (so nothing says who
// could hold it) and, later, mediator "puppet". Once "old" is a
// co-mediator, it adds no one: whoever holds it could hold "puppet" too,
// and would keep the case through it after "old" is recused.
func TestComediatorAddedByUnknownLineageRefused(t *testing.T) {
	k := newAdminCase(t)
	_, adminA := k.n.Staff(t, policy.RoleAdmin, "a@example.org")
	old, oldC := viaAPI(t, k.n, adminA, policy.RoleMediator, "old@example.org")
	puppet, puppetC := viaAPI(t, k.n, adminA, policy.RoleMediator, "puppet@example.org")
	if err := addMediator(t, k.medC, k.id, old.ID); err != nil {
		t.Fatalf("the case's mediator adding an independent colleague: %v", err)
	}
	asBeforeLineage(t, k.n, old.ID)
	k.admit(t, old.ID)
	k.readsAll(t, "the co-mediator", oldC)
	err := addMediator(t, oldC, k.id, puppet.ID)
	if err == nil || apiErr(t, err).Status != http.StatusForbidden {
		t.Fatalf("a co-mediator of unknown lineage added a mediator account: %v", err)
	}
	k.readsNothing(t, "the account it tried to add", puppetC)
}

// admit has the case's mediator confirm co-mediator account: their device
// opens the case's conversation (its first statement, if none yet) and
// signs a statement seating them, without which the server keeps a
// co-mediator off the case's documents, rooms and sessions
// (docs/security.md, "A co-mediator nobody admitted reading the case").
func (k *adminCase) admit(t *testing.T, account string) {
	t.Helper()
	ctx := t.Context()
	if k.medX == nil {
		k.medX = newRegisteredDevice(t, k.medC, k.med.ID)
	}
	sc, err := k.medX.OpenSecureChat(ctx, k.id, client.SecureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.AdmitMediator(ctx, account); err != nil {
		t.Fatalf("admitting the co-mediator: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		seated, _, err := k.n.KeyDir.SeatedMediators(ctx, k.id)
		if err == nil && slices.Contains(seated, account) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the co-mediator is not seated within 20s (%v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
