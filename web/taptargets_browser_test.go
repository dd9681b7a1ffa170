package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/web"
)

// TestBrowserTapTargets drives web/client/test/taptargets.mjs in Chromium
// at phone width (390 × 844): on the case's terms, the room (each of the
// party's rooms, with a session coming up and the agreement drafted), the
// agreement ready to sign, its signing question and signed, a document
// uploaded, the question an upload to a wider place asks (on the
// mediator's phone: a party meets it only in a room the mediator opened
// for some people), adding a device on both phones (the code, the numbers
// to compare, added), the forget-this-browser question, the sign-out
// question, the signed-out page and the survey (once the case is closed
// and its outcome recorded), every visible button, link, input, select,
// textarea and checkbox-with-its-label is at least 44 × 44 CSS px. Links
// inside a sentence are excepted, as WCAG 2.5.8 excepts them.
func TestBrowserTapTargets(t *testing.T) {
	needBrowser(t)
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	inv := inviteAda(t, medC, k)
	start := time.Now().Add(48 * time.Hour).UTC().Format("2006-01-02T15:04")
	if _, err := medC.AddSession(ctx, k.ID, api.NewSessionRequest{Start: start, TimeZone: "Europe/London", Minutes: 60}); err != nil {
		t.Fatal(err)
	}
	if _, err := medC.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); err != nil {
		t.Fatal(err)
	}
	browserScript{name: "taptargets.mjs", env: []string{"PARLEY_INVITE=" + inv.Link, "PARLEY_SESSION_COOKIE=" + web.SessionCookie,
		"PARLEY_CASE=" + k.ID, "PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password},
		ask: map[string]func(string) (string, error){
			// Ada signs in on a second phone (the test makes the session, as a re-entry link would).
			"session": func(string) (string, error) {
				kc, err := medC.Case(ctx, k.ID)
				if err != nil {
					return "", err
				}
				for _, p := range kc.Participants {
					if p.Name == "Ada Okafor" {
						acct, err := n.Accounts.Get(ctx, p.AccountID)
						if err != nil {
							return "", err
						}
						token, _, err := n.Accounts.NewSession(ctx, acct)
						return token, err
					}
				}
				return "", fmt.Errorf("Ada Okafor is not in the case")
			},
			// The mediator closes the case and records its outcome: Ada's survey link.
			"survey": func(string) (string, error) {
				for _, st := range []string{"opening", "closure"} {
					if _, err := medC.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": st}); err != nil {
						return "", err
					}
				}
				out, err := medC.RecordOutcome(ctx, k.ID, "full-agreement", 1, 1)
				if err != nil {
					return "", err
				}
				for _, s := range out.Surveys {
					if s.Name == "Ada Okafor" {
						return s.Link, nil
					}
				}
				return "", fmt.Errorf("no survey link for Ada Okafor among %d", len(out.Surveys))
			},
		}}.run(t, n.URL)
}
