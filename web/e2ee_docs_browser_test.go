package web_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserE2EEDocuments drives web/client/test/e2ee-docs.mjs: a
// document encrypted on a party's (Go) device, for their caucus, once the
// mediator's browser has signed the case's membership; the mediator's
// browser shows its card with plain words instead of a download or a
// share, since it cannot open such documents yet. axe runs on the card.
func TestBrowserE2EEDocuments(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail := "mediator-" + ids.New("x")[2:10] + "@browser.test"
	if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: medEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	medC := client.New(n.URL, "")
	if _, err := medC.Login(ctx, medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	k, err := medC.CreateCase(ctx, "Okafor v. Lindqvist — deposit", "tenancy", "court", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pc := client.New(n.URL, "")
	s, err := pc.Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := client.InitDevice(dir, s.Account.ID, e2ee.KEMXWing); err != nil {
		t.Fatal(err)
	}
	x, err := pc.E2EE(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Register(ctx); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("Our bottom line is 4,000. "), 4000)
	browserScript{
		name: "e2ee-docs.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			// Once the mediator's browser has signed a membership that
			// names the party, her device encrypts and uploads.
			"upload": func(string) (string, error) {
				deadline := time.Now().Add(30 * time.Second)
				for {
					devs, _, err := x.CaseDevices(ctx, k.ID)
					if err == nil {
						chain, cerr := x.Statements(ctx, k.ID, devs)
						if cerr == nil && chain.Latest() != nil && slices.ContainsFunc(chain.Latest().People, func(p e2ee.Person) bool { return p.Account == s.Account.ID }) {
							break
						}
					}
					if time.Now().After(deadline) {
						return "", errors.New("the mediator's browser signed no membership naming the party within 30s")
					}
					time.Sleep(100 * time.Millisecond)
				}
				_, err := x.UploadDocumentE2EE(ctx, k.ID, client.Upload{Name: "Offer-4000.pdf", MediaType: "application/pdf",
					Audience: "caucus:A", Class: "evidence", Body: bytes.NewReader(body), Size: int64(len(body))})
				return "", err
			},
		},
		shots: []string{"e2ee-docs-card.png", "e2ee-docs-card-phone.png"},
	}.run(t, n.URL)
}
