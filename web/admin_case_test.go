package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// An administrator may recuse a mediator and then reassign the orphaned
// case, but the answers to those changes carry the case's summary only —
// never its title, roster, objectives or disclosures — and while a case has
// an active mediator the administrator cannot assign anyone to it (they
// could otherwise create a mediator account and read the case through it).
func TestAdminChangesCaseWithoutReadingIt(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	spare, _ := n.Staff(t, policy.RoleMediator, "spare@example.org")
	_, admin := n.Staff(t, policy.RoleAdmin, "admin@example.org")
	k, err := med.CreateCase(ctx, "Confidential-Title-Smith v Jones", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/cases/" + k.ID

	err = admin.Do(ctx, http.MethodPost, path+"/mediators", map[string]string{"accountId": spare.ID}, nil)
	if e := apiErr(t, err); e.Status != http.StatusForbidden {
		t.Fatalf("admin assigned a mediator to a case with an active one: %+v", e)
	}

	var raw json.RawMessage
	if err := admin.Do(ctx, http.MethodPost, path+"/recusals", map[string]string{"mediatorId": medAcct.ID, "reason": "conflict found by the program"}, &raw); err != nil {
		t.Fatal(err)
	}
	assertSummaryOnly(t, "recusal", raw)

	raw = nil
	if err := admin.Do(ctx, http.MethodPost, path+"/mediators", map[string]string{"accountId": spare.ID}, &raw); err != nil {
		t.Fatalf("admin reassigning the orphaned case: %v", err)
	}
	assertSummaryOnly(t, "reassignment", raw)
	if _, err := admin.Case(ctx, k.ID); apiErr(t, err).Status != http.StatusForbidden {
		t.Fatalf("admin read the case: %v", err)
	}
}

func assertSummaryOnly(t *testing.T, what string, raw json.RawMessage) {
	t.Helper()
	var c api.Case
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s answer does not decode as a case: %v: %s", what, err, raw)
	}
	if c.ID == "" || c.Stage == "" {
		t.Errorf("%s answer lacks the case's id or stage: %s", what, raw)
	}
	if c.Title != "" || len(c.Mediators)+len(c.Participants)+len(c.Objectives)+len(c.Disclosures)+len(c.Sides)+len(c.StageHistory) > 0 {
		t.Errorf("%s answer to an admin carries case content: %s", what, raw)
	}
	if strings.Contains(string(raw), "Confidential-Title") {
		t.Errorf("%s answer carries the case title: %s", what, raw)
	}
}
