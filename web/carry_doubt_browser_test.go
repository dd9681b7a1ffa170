package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserCarryInDoubt drives web/client/test/carry-doubt.mjs in
// Chromium: the mediator proposes carrying one of party A's caucus
// messages; a co-mediator (Sam Lee, admitted by the mediator's page, on a
// Go device) then posts in the caucus a different proposal with the same
// carry id, naming A's other message by its real payload hash ("ask
// forge-proposal"). Neither proposal is taken: A's page and the
// mediator's say, in plain words, that the carry is in doubt, and A has
// no Approve or Decline on either.
func TestBrowserCarryInDoubt(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	var samC *client.Client
	var sam *client.E2EE
	browserScript{
		name: "carry-doubt.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			// The program adds Sam Lee to the case as a co-mediator; Sam
			// registers a Go device.
			"comediator": func(string) (string, error) {
				var err error
				samC, sam, err = addCoMediator(t, n, medC, k.ID)
				return "ok", err
			},
			// "CARRY-ID EPOCH:OFFSET": Sam posts in A's caucus a proposal
			// with that carry id naming the message at that position.
			"forge-proposal": func(arg string) (string, error) {
				id, at, _ := strings.Cut(arg, " ")
				var pos api.Position
				if _, err := fmt.Sscanf(at, "%d:%d", &pos.Epoch, &pos.Offset); err != nil {
					return "", err
				}
				var page api.HistoryPage
				if err := samC.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/cases/%s/rooms/%s/messages?epoch=%d&offset=%d&limit=1",
					k.ID, url.PathEscape("caucus:A"), pos.Epoch, pos.Offset-1), nil, &page); err != nil {
					return "", err
				}
				if len(page.Messages) != 1 || page.Messages[0].Pos() != pos {
					return "", fmt.Errorf("no message at %s", at)
				}
				_, _, err := postEncrypted(ctx, sam, samC, k.ID, "caucus:A", &e2ee.Plaintext{Kind: e2ee.KindCarryProposal, CarryID: id, Room: "joint",
					Ref: e2ee.Position{Epoch: pos.Epoch, Offset: pos.Offset}, RefHash: e2ee.PayloadHash(page.Messages[0].Body)})
				return "ok", err
			},
		},
	}.run(t, n.URL)
}

// addCoMediator adds Sam Lee to the case as a co-mediator (through the
// program's mediator change) with a registered Go device, as the carry
// browser tests' "comediator" step does.
func addCoMediator(t *testing.T, n *nodetest.Node, medC *client.Client, caseID string) (*client.Client, *client.E2EE, error) {
	ctx := context.Background()
	email := "sam-" + ids.New("x")[2:10] + "@browser.test"
	co, err := n.Accounts.Create(ctx, account.NewAccount{Email: email, Name: "Sam Lee", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		return nil, nil, err
	}
	if _, err := medC.CaseAction(ctx, caseID, "mediators", map[string]string{"accountId": co.ID}); err != nil {
		return nil, nil, err
	}
	samC := client.New(n.URL, "")
	if _, err := samC.Login(ctx, email, nodetest.Password); err != nil {
		return nil, nil, err
	}
	dir := t.TempDir()
	if _, err := client.InitDevice(dir, co.ID, e2ee.KEMXWing); err != nil {
		return nil, nil, err
	}
	sam, err := samC.E2EE(dir)
	if err != nil {
		return nil, nil, err
	}
	return samC, sam, sam.Register(ctx)
}
