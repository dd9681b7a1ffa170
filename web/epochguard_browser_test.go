package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserEpochGuard drives web/client/test/epochguard.mjs in Chromium.
// First, in a room the mediator opened for A and A's lawyer (sealed: the
// statements name only its slot), A's lawyer is removed from the case and
// A's socket hears nothing of the room's new epoch; once A's page holds
// the statement signed for it, A's next message there is encrypted for
// that epoch, not for the one that still held the lawyer ("ask remove
// NAME" takes a participant out of the case). Then
// party A's page encrypts a message for the joint room's epoch just after
// a seal ended it (its WebSocket hears of the seal late); the server
// stores none of it and answers "moved" with the new epoch; the page
// encrypts it again for that epoch, the message is shown, and the party
// sees no error. "ask seal" adds a co-mediator (the rooms start a new
// epoch); "ask stored ROOM" checks every payload stored in the room names
// the epoch it is stored in.
func TestBrowserEpochGuard(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	invCounsel, err := medC.Invite(ctx, k.ID, "counsel", "A", "Jordan Blake", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "epochguard.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_INVITE_COUNSEL_A=" + invCounsel.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"seal": func(string) (string, error) {
				co, err := n.Accounts.Create(ctx, account.NewAccount{Email: "co-" + ids.New("x")[2:10] + "@browser.test", Name: "Casey Cole", Role: policy.RoleMediator, Password: nodetest.Password})
				if err != nil {
					return "", err
				}
				_, err = medC.CaseAction(ctx, k.ID, "mediators", map[string]string{"accountId": co.ID})
				return "", err
			},
			"remove": func(name string) (string, error) {
				c, err := medC.Case(ctx, k.ID)
				if err != nil {
					return "", err
				}
				for _, p := range c.Participants {
					if p.Name == name {
						_, err := medC.RemoveParticipant(ctx, k.ID, p.AccountID)
						return "", err
					}
				}
				return "", fmt.Errorf("no participant %q", name)
			},
			"stored": func(room string) (string, error) {
				msgs, _, err := n.Messages.Page(ctx, k.ID+"/"+strings.ReplaceAll(room, ":", "-"), messaging.Position{}, 1000)
				if err != nil {
					return "", err
				}
				count := 0
				for _, m := range msgs {
					if m.From == "" {
						continue
					}
					claimed, err := storedPayloadEpoch(m.Body)
					if err != nil {
						return "", fmt.Errorf("%v: %w", m.Pos(), err)
					}
					if claimed != m.Epoch {
						return "", fmt.Errorf("%s %v holds a payload encrypted for epoch %d", room, m.Pos(), claimed)
					}
					count++
				}
				return fmt.Sprint(count), nil
			},
		},
	}.run(t, n.URL)
}

// storedPayloadEpoch is the epoch a stored payload says it was encrypted for.
func storedPayloadEpoch(body []byte) (int64, error) {
	if len(body) >= 4 && body[3] == e2ee.TypeKeyDist {
		kd, err := e2ee.DecodeKeyDist(body)
		if err != nil {
			return 0, err
		}
		return kd.Ctx.Epoch, nil
	}
	msg, err := e2ee.DecodeMessage(body)
	if err != nil {
		return 0, err
	}
	return msg.Ctx.Epoch, nil
}
