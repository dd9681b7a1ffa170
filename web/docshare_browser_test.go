package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserDocShareConsent drives web/client/test/docshare.mjs in
// Chromium: the Tenant party adds a document to her caucus; the mediator's
// share of it to the joint room offers only to ask the Tenant side (and
// the server refuses the share itself); the party reads the request in
// words naming the document and who would see it, and allows it after a
// confirmation that says it cannot be undone; the mediator's page says it
// was allowed, the share goes through, and the Landlord party's joint room
// lists the document. A second request is declined, and the mediator's
// page says so. A third document moved to the mediators only is still the
// Tenant side's: its share to the joint room offers only to ask, and the
// Tenant party is asked. axe runs on each new screen.
func TestBrowserDocShareConsent(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	invB, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "docshare.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_INVITE_B=" + invB.Link, "PARLEY_CASE=" + k.ID},
		shots: []string{"docshare-ask.png", "docshare-ask-phone.png", "docshare-party.png", "docshare-party-phone.png",
			"docshare-party-confirm.png", "docshare-party-confirm-phone.png", "docshare-mediator.png", "docshare-mediator-phone.png"},
	}.run(t, n.URL)
}

// TestBrowserDocShareForeignDevice drives web/client/test/docshare-device.mjs
// in Chromium: the Tenant party Ada adds a document to her caucus and the
// mediator asks her side to allow showing it in the joint room; Ada opens
// a link back in the mediator made for her in a new browser (not one of her
// own: not her first, not linked from it, which the server would refuse
// an answer from: vault's TestShareAnswerRefusalsAreAudited). The page
// says so up front in plain words (no id, action name or network text)
// and offers no Allow… or Decline…; nothing is sent, the request stays
// pending, the mediator's share is still refused and the document stays
// in the Tenant caucus.
func TestBrowserDocShareForeignDevice(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	var reqID string
	browserScript{
		name: "docshare-device.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"ask": func(docID string) (string, error) {
				r, err := medC.AskToShare(ctx, k.ID, docID, "joint")
				reqID = r.ID
				return "", err
			},
			"reentry": func(string) (string, error) {
				c, err := n.Cases.Load(ctx, k.ID)
				if err != nil || len(c.Participants) != 1 {
					return "", fmt.Errorf("the case's participants: %v", err)
				}
				l, err := medC.Reentry(ctx, k.ID, c.Participants[0].AccountID, time.Hour)
				return l.Link, err
			},
			"unshared": func(docID string) (string, error) {
				list, err := medC.ShareRequests(ctx, k.ID)
				if err != nil || len(list) != 1 || list[0].ID != reqID || list[0].Status != "pending" {
					return "", fmt.Errorf("the request after the refused answer: %+v %v", list, err)
				}
				if _, err := medC.ShareDocument(ctx, k.ID, docID, "joint", false); status(err) != 403 {
					return "", fmt.Errorf("the mediator's share after the refused answer: %v", err)
				}
				d, err := medC.Document(ctx, k.ID, docID)
				if err != nil || d.Audience != "caucus:A" {
					return "", fmt.Errorf("the document after the refused answer: %+v %v", d, err)
				}
				// The new browser sent no answer: nothing was refused.
				for i := n.Audit.Size() - 1; i >= 0; i-- {
					ev, err := n.Audit.Entry(ctx, i)
					if err != nil {
						return "", err
					}
					if ev.Type == "consent.refused" && ev.Attrs["kind"] == "share" {
						return "", fmt.Errorf("an answer was sent and refused: %+v", ev)
					}
				}
				return "", nil
			},
		},
		shots: []string{"docshare-foreign-device.png", "docshare-foreign-device-phone.png"},
	}.run(t, n.URL)
}
