package agreement_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestUnconfirmedMediatorSeesNoAgreement: a co-mediator on the record whom
// no seated mediator has confirmed (here before the case's first
// membership statement, whose opener is the mediator who created it)
// neither reads the agreement, its versions or its PDF, nor starts,
// saves or files one: 403 mediator-not-confirmed in words that name no
// rule, each refusal audited as access.denied naming the rule. Once they
// are the case's only active mediator (the creator withdrew), they do.
func TestUnconfirmedMediatorSeesNoAgreement(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	coAcct, co := n.Staff(t, policy.RoleMediator, "co@example.org")
	k, err := med.CreateCase(ctx, "Rivera v. Chen", "landlord-tenant", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	join(t, n, med, k.ID, "party", "A", "Avery Tran")
	if _, err := med.CaseAction(ctx, k.ID, "mediators", map[string]string{"accountId": coAcct.ID}); err != nil {
		t.Fatal(err)
	}
	a, err := med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{Outcome: api.FullAgreement})
	if err != nil {
		t.Fatalf("the opener starts the agreement: %v", err)
	}
	refused := func(what string, err error, action policy.Action) {
		t.Helper()
		p := problemOf(err)
		if status(err) != http.StatusForbidden || !strings.HasSuffix(p.Type, string(api.ProblemMediatorNotConfirmed)) || strings.Contains(p.Detail, "unconfirmed-mediators") {
			t.Fatalf("%s: %v (%+v); want 403 mediator-not-confirmed in words", what, err, p)
		}
		ev, err := n.Audit.Entry(ctx, n.Audit.Size()-1)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != "access.denied" || ev.Actor != coAcct.ID || ev.Case != k.ID || ev.Attrs["action"] != string(action) || ev.Attrs["rule"] != cases.RuleUnconfirmedAgreement {
			t.Fatalf("%s audited as %+v", what, ev)
		}
	}
	_, err = co.Agreement(ctx, k.ID)
	refused("reading", err, policy.AgreementRead)
	_, err = co.AgreementVersion(ctx, k.ID, 1)
	refused("a version", err, policy.AgreementRead)
	_, err = co.AgreementPDF(ctx, k.ID)
	refused("the PDF", err, policy.AgreementRead)
	_, err = co.StartAgreement(ctx, k.ID, api.AgreementStartRequest{})
	refused("starting", err, policy.AgreementDraft)
	_, err = co.SaveAgreement(ctx, k.ID, 1, a.Current.Text+"\n9. Added by the unconfirmed co-mediator.\n")
	refused("saving", err, policy.AgreementDraft)
	_, err = co.FileAgreement(ctx, k.ID, api.AgreementFileRequest{})
	refused("filing", err, policy.AgreementDraft)

	if _, err := med.CaseAction(ctx, k.ID, "recusals", map[string]string{"reason": "conflict found"}); err != nil {
		t.Fatal(err)
	}
	got, err := co.Agreement(ctx, k.ID)
	if err != nil || got.Current.Version != 1 || !got.MayDraft {
		t.Fatalf("the only active mediator reads the agreement: %+v, %v", got, err)
	}
}
