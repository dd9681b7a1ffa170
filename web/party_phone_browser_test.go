package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestBrowserPartyPhone drives web/client/test/party-phone.mjs in Chromium:
// the tenant, on a phone, is offered her caucus as the welcome's main
// action; the message box says who reads it, in its room's colour; a
// reload keeps her in her caucus (and never restores a room she cannot
// open); and a comment on the agreement sent while her caucus is on the
// screen asks first, its focus on the question, since it goes to the joint
// room; removed from the case, she reads plain words, not an error, and
// a way back to the start page (UX review 367 H1, H2, M1, M2, M9).
func TestBrowserPartyPhone(t *testing.T) {
	needBrowser(t)
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "party-phone.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID, "PARLEY_INVITE=" + inv.Link},
		ask: map[string]func(string) (string, error){
			"agreement": func(string) (string, error) {
				_, err := medC.StartAgreement(ctx, k.ID, api.AgreementStartRequest{})
				return "", err
			},
			// The mediator removes the tenant from the case.
			"remove": func(string) (string, error) {
				kc, err := medC.Case(ctx, k.ID)
				if err != nil {
					return "", err
				}
				for _, p := range kc.Participants {
					if p.Name == "Ada Okafor" {
						_, err := medC.RemoveParticipant(ctx, k.ID, p.AccountID)
						return "", err
					}
				}
				return "", fmt.Errorf("no Ada Okafor in the case")
			},
		},
		shots: []string{"welcome-party-caucus-first.png", "welcome-party-caucus-first-phone.png", "party-caucus-composer.png", "party-caucus-composer-phone.png",
			"agreement-comment-ask.png", "agreement-comment-ask-phone.png",
			"access-ended-party.png", "access-ended-party-phone.png"},
	}.run(t, n.URL)
}
