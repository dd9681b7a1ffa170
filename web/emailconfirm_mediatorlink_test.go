package web_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestEmailConfirmationRefusedInMediatorLinkSession: a session opened by
// a re-entry link a mediator made cannot ask for, nor use, a confirmation
// of the participant's address. The address on file is what the mediator
// typed: confirmed there (a mailbox of the mediator's), it would give
// the mediator emailed sign-in links, whose sessions are unmarked and may
// register the account's first device — the one that signs consents in
// the party's name. Before, both were accepted.
func TestEmailConfirmationRefusedInMediatorLinkSession(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	ctx := t.Context()
	link, err := k.as["mediator"].Reentry(ctx, k.caseID, k.id["partyA"], time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	asA := client.New(n.URL, "")
	if _, err := asA.Join(ctx, link.Link); err != nil {
		t.Fatal(err)
	}
	for path, body := range map[string]any{
		"/api/v1/me/email-confirmation":     api.EmailConfirmationRequest{CaseID: k.caseID},
		"/api/v1/me/email-confirmation/use": api.ConfirmEmailRequest{Token: strings.Repeat("A", 43)},
	} {
		err := asA.Do(ctx, "POST", path, body, nil)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 403 || !strings.Contains(ce.Problem.Detail, "a link your mediator made") {
			t.Errorf("POST %s in a mediator-link session: %v, want 403 saying why", path, err)
		}
	}
	// The party's own session (their invitation's) still may ask.
	if err := k.as["partyA"].Do(ctx, "POST", "/api/v1/me/email-confirmation", api.EmailConfirmationRequest{CaseID: k.caseID}, nil); status(err) == 403 {
		t.Fatalf("party A's own session asking for a confirmation: %v", err)
	}
}
