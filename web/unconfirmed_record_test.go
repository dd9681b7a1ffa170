package web_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestUnconfirmedMediatorRecordOverHTTP: over the API, a co-mediator
// nobody has confirmed yet (here before the case's first statement: the
// creator opens the conversation) reads the case list's row and the case
// summary without the outcome (GET /cases, GET /cases/{id}/summary), and
// a disclosure of theirs is refused, 403 mediator-not-confirmed, in words
// that say what they wait for (POST /cases/{id}/disclosures); the case's
// creator reads the outcome's sessions and hours in both.
func TestUnconfirmedMediatorRecordOverHTTP(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := t.Context()
	_, m1C := n.Staff(t, policy.RoleMediator, "m1@example.org")
	m2, m2C := n.Staff(t, policy.RoleMediator, "m2@example.org")
	c, err := m1C.CreateCase(ctx, "Flat 13", "neighbour", "", []string{"Lee", "Park"})
	if err != nil {
		t.Fatal(err)
	}
	if err := addMediator(t, m1C, c.ID, m2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m1C.CaseAction(ctx, c.ID, "stage", api.StageRequest{Stage: "closure"}); err != nil {
		t.Fatal(err)
	}
	if err := m1C.Do(ctx, http.MethodPost, "/api/v1/cases/"+c.ID+"/outcome", api.OutcomeRequest{Result: api.NoAgreement, Sessions: 4, Hours: 6}, nil); err != nil {
		t.Fatal(err)
	}
	read := func(who string, mc *client.Client) (api.Listed, api.Summary) {
		t.Helper()
		list, err := mc.Cases(ctx)
		if err != nil || len(list) != 1 || list[0].Title != "Flat 13" || list[0].Relation != "mediator" {
			t.Fatalf("%s's list: %+v, %v", who, list, err)
		}
		var s api.Summary
		if err := mc.Do(ctx, http.MethodGet, "/api/v1/cases/"+c.ID+"/summary", nil, &s); err != nil || s.ID != c.ID || s.Stage != "closure" || s.Closed == nil {
			t.Fatalf("%s's summary: %+v, %v", who, s, err)
		}
		return list[0], s
	}
	if row, s := read("the creator", m1C); row.Outcome == nil || row.Outcome.Sessions != 4 || s.Outcome == nil || s.Outcome.Hours != 6 {
		t.Fatalf("the creator's row %+v and summary %+v lack the outcome", row.Outcome, s.Outcome)
	}
	if row, s := read("the co-mediator", m2C); row.Outcome != nil || s.Outcome != nil {
		t.Fatalf("the co-mediator nobody confirmed reads the outcome: row %+v, summary %+v", row.Outcome, s.Outcome)
	}
	_, err = m2C.CaseAction(ctx, c.ID, "disclosures", api.TextRequest{Text: "Call me before the session"})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusForbidden || ce.Problem.Type != "urn:parley:problem:mediator-not-confirmed" {
		t.Fatalf("the co-mediator's disclosure: %v; want 403 mediator-not-confirmed", err)
	}
	if d := ce.Problem.Detail; !strings.Contains(d, "make a disclosure in this case once") || strings.Contains(d, "case.") || strings.Contains(d, "u_") || strings.Contains(d, "unconfirmed-") {
		t.Fatalf("the refusal says %q", d)
	}
	if got, err := m1C.CaseAction(ctx, c.ID, "disclosures", api.TextRequest{Text: "I know Lee's landlord"}); err != nil || len(got.Disclosures) != 1 {
		t.Fatalf("the creator's disclosure: %+v, %v", got.Disclosures, err)
	}
}
