package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestBrowserPlainWords drives web/client/test/words.mjs in Chromium: what
// a party reads when something goes wrong is plain words that say what
// happened and what to do. An invitation whose redeeming failed (the
// connection dropped) still works after a reload; one for someone who has
// already joined says to ask for a link back in, not a new invitation. A
// refused acceptance, signature or upload says what to do, never the
// server's field descriptions; a success after a refusal is not shown as
// an error; a refusal to sign an agreement says why it was refused (a
// filed agreement, a closed case), not always "a new version"; a comment
// on the agreement reads as one in the joint room; the mediator's browser
// says who can read each room, not "membership statement 2"; and a
// server that changed what this browser checked before stops the case
// with advice that is not "reload".
func TestBrowserPlainWords(t *testing.T) {
	needBrowser(t)
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	var links []string
	for range 2 {
		inv, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, inv.Link)
	}
	browserScript{
		name: "words.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID,
			"PARLEY_INVITE=" + links[0], "PARLEY_INVITE_AGAIN=" + links[1]},
		ask: map[string]func(string) (string, error){
			// The mediator drafts the agreement (version 1).
			"agreement": func(string) (string, error) {
				_, err := medC.StartAgreement(ctx, k.ID, api.AgreementStartRequest{})
				return "", err
			},
		},
		shots: []string{"invite-retry-phone.png", "invite-already-joined-phone.png", "words-pinned-phone.png", "composer-touch-phone.png", "send-unconfirmed-phone.png"},
	}.run(t, n.URL)
}
