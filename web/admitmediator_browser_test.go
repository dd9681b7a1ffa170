package web_test

import (
	"context"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserAdmitMediator drives web/client/test/admitmediator.mjs in
// Chromium: a co-mediator added to the case record ("ask comediator")
// reads nothing of party A's caucus while the mediator's page only shows
// a notice naming them (and their case desk offers no disclosure, nor any
// other change but stepping off, and their list of cases says they wait,
// claiming no outcome missing on a closed case); the mediator asks,
// cancels, asks again and confirms; then the co-mediator reads what A
// writes in the caucus. Asked before the co-mediator has opened the case on
// any device, the question offers no way to admit them (no safety number
// to compare), only "Check again"; axe-core runs on the question and the
// waiting page. The
// mediator's device never signs a new mediator in on the record's word
// (docs/protocol.md, Membership statements).
func TestBrowserAdmitMediator(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	samID := ""
	browserScript{
		name: "admitmediator.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			// The program adds Sam Lee (or the name asked for) to the case as a co-mediator.
			"comediator": func(name string) (string, error) {
				if name == "" {
					name = "Sam Lee"
				}
				email := "co-" + ids.New("x")[2:10] + "@browser.test"
				co, err := n.Accounts.Create(ctx, account.NewAccount{Email: email, Name: name, Role: policy.RoleMediator, Password: nodetest.Password})
				if err != nil {
					return "", err
				}
				samID = co.ID
				_, err = medC.CaseAction(ctx, k.ID, "mediators", map[string]string{"accountId": co.ID})
				return email, err
			},
			// A second case with Sam Lee on it, which the mediator then
			// closes and records the outcome of, before admitting Sam.
			"closed-case": func(string) (string, error) {
				k2, err := medC.CreateCase(ctx, "Okafor v. Lindqvist — repairs", "tenancy", "court", []string{"Tenant", "Landlord"})
				if err != nil {
					return "", err
				}
				if _, err := medC.CaseAction(ctx, k2.ID, "mediators", map[string]string{"accountId": samID}); err != nil {
					return "", err
				}
				if _, err := medC.CaseAction(ctx, k2.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
					return "", err
				}
				_, err = medC.RecordOutcome(ctx, k2.ID, "full-agreement", 2, 3)
				return k2.ID, err
			},
		},
		shots: []string{"admit-mediator.png", "admit-mediator-phone.png", "admit-mediator-no-device.png", "admit-mediator-waiting.png", "admit-mediator-waiting-phone.png",
			"admit-mediator-waiting-desk.png", "admit-mediator-waiting-desk-phone.png", "admit-mediator-waiting-list.png"},
	}.run(t, n.URL)
}
