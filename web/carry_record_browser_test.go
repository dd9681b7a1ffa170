package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserCarryChecksServerRecord drives
// web/client/test/carry-record.mjs in Chromium: a co-mediator (Sam Lee,
// admitted by the mediator's page, on a Go device) registers with the
// server a carry of one of party A's caucus messages and posts in the
// caucus a proposal with that carry id naming A's other message ("ask
// forge E:O E:O"). It is the only proposal for the id, so A's page offers
// Approve; approving it, A's browser compares it with the server's record
// and refuses: A is told, in plain words, that the proposal does not match
// what the mediator registered and nothing was carried; the record stays
// unconsented and the joint room holds no carried copy ("ask state").
// Before, A's browser carried the message the proposal named under a
// consent the server recorded for the other one.
func TestBrowserCarryChecksServerRecord(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	var samC *client.Client
	var sam *client.E2EE
	var carryID string
	browserScript{
		name: "carry-record.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"comediator": func(string) (string, error) {
				var err error
				samC, sam, err = addCoMediator(t, n, medC, k.ID)
				return "ok", err
			},
			// "E:O E:O": Sam registers a carry of the first message and
			// posts a proposal with its id naming the second.
			"forge": func(arg string) (string, error) {
				reg, named, _ := strings.Cut(arg, " ")
				hashAt := func(at string) (api.Position, [32]byte, error) {
					var pos api.Position
					if _, err := fmt.Sscanf(at, "%d:%d", &pos.Epoch, &pos.Offset); err != nil {
						return pos, [32]byte{}, err
					}
					var page api.HistoryPage
					if err := samC.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/cases/%s/rooms/%s/messages?epoch=%d&offset=%d&limit=1",
						k.ID, url.PathEscape("caucus:A"), pos.Epoch, pos.Offset-1), nil, &page); err != nil {
						return pos, [32]byte{}, err
					}
					if len(page.Messages) != 1 || page.Messages[0].Pos() != pos {
						return pos, [32]byte{}, fmt.Errorf("no message at %s", at)
					}
					return pos, e2ee.PayloadHash(page.Messages[0].Body), nil
				}
				rpos, rhash, err := hashAt(reg)
				if err != nil {
					return "", err
				}
				npos, nhash, err := hashAt(named)
				if err != nil {
					return "", err
				}
				carryID = ids.New("cr")
				if err := samC.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/carries", api.CarryRequest{ID: carryID, From: "caucus:A", To: "joint",
					Epoch: rpos.Epoch, Offset: rpos.Offset, Hash: fmt.Sprintf("sha256:%x", rhash)}, nil); err != nil {
					return "", err
				}
				_, _, err = postEncrypted(ctx, sam, samC, k.ID, "caucus:A", &e2ee.Plaintext{Kind: e2ee.KindCarryProposal, CarryID: carryID, Room: "joint",
					Ref: e2ee.Position{Epoch: npos.Epoch, Offset: npos.Offset}, RefHash: nhash})
				return "ok", err
			},
			// The carry record's state and the number of payloads posted
			// in the joint room (compared before and after approving).
			"state": func(string) (string, error) {
				var cr keydir.Carry
				if _, err := n.Meta.Get(ctx, "keydir/carries/"+k.ID+"/"+carryID, &cr); err != nil {
					return "", err
				}
				msgs, _, err := n.Messages.Page(ctx, k.ID+"/joint", messaging.Position{}, 1000)
				if err != nil {
					return "", err
				}
				from := 0
				for _, m := range msgs {
					if m.From != "" {
						from++
					}
				}
				return fmt.Sprintf("consented=%v joint=%d", cr.Consented != nil, from), nil
			},
		},
	}.run(t, n.URL)
}
