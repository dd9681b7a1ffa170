package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestBrowserAgreement drives web/client/test/agreement.mjs in Chromium:
// the mediator drafts the agreement from a template (the page's poll of
// the agreement asked before the draft and answered after it, "no
// agreement yet", is dropped: it does not take the draft, and with it the
// editor under her next save, off the page), edits it twice and shows the
// diff; a party signs version 2, which version 3 supersedes;
// the other party's signature on version 2 is refused in plain words;
// both parties and a lawyer sign version 3 in their own browsers after a
// confirmation in the page (not a browser dialog) naming what they sign,
// saying the other side will see it and that a signature cannot be taken
// back, warning about [bracketed] blanks; Cancel signs nothing; device
// keys and the CLI hint are under "Technical details" only. A save the
// server could not confirm (503 upload-unconfirmed) says to look before
// saving again, not "try again". A comment on version 3 reaches the
// mediator under that version; the rows of who signs name people in words
// ("Lars Lindqvist (Landlord)", "Jordan Blake (Tenant's lawyer)", and "You
// (Tenant)" for the reader's own); the signatures check out in the browser;
// the downloaded PDF passes `parley agreement verify` (the CLI, built
// here) and a copy with one flipped byte fails it in one line. On the way,
// the page's redraws keep what people were doing: the versions compared
// and the comparison, what the check of the signatures found, the focus
// on the tick and the Sign button, and a comment on its way, whose Send
// stays off so it cannot go twice; a press on Save let go elsewhere does
// not stop the page being drawn. Last, "ask comediator" adds a second
// mediator, who saves version 4 in her own browser while the first has
// unsaved changes on version 3: the first is warned, and Save asks before
// it replaces version 4.
func TestBrowserAgreement(t *testing.T) {
	needBrowser(t)
	// The CLI that verifies the PDF, built once (before the browsers start).
	cli := filepath.Join(t.TempDir(), "parley")
	if out, err := exec.Command("go", "build", "-o", cli, "../cmd/parley").CombinedOutput(); err != nil {
		t.Fatalf("building the parley CLI: %v\n%s", err, out)
	}
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medEmail := "mediator-" + ids.New("x")[2:10] + "@browser.test"
	if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: medEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password}); err != nil {
		t.Fatal(err)
	}
	medC := client.New(n.URL, "")
	if _, err := medC.Login(ctx, medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	k, err := medC.CreateCase(ctx, "Okafor v. Lindqvist — deposit", "landlord-tenant", "court", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := medC.CaseAction(ctx, k.ID, "objectives", api.TextRequest{Kind: api.KindObjective, Text: "Settle the deposit and the boiler repairs"}); err != nil {
		t.Fatal(err)
	}
	env := []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID}
	for _, p := range []struct{ key, role, side, name string }{
		{"A", "party", "A", "Ada Okafor"}, {"B", "party", "B", "Lars Lindqvist"}, {"C", "counsel", "A", "Jordan Blake"}} {
		inv, err := medC.Invite(ctx, k.ID, p.role, p.side, p.name, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, "PARLEY_INVITE_"+p.key+"="+inv.Link)
	}
	verify := func(path string) (string, error) {
		out, err := exec.Command(cli, "agreement", "verify", path).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	browserScript{
		name: "agreement.mjs",
		env:  env,
		ask: map[string]func(string) (string, error){
			// The PDF the party downloaded verifies offline; one flipped
			// byte anywhere in its middle does not.
			"verify": func(path string) (string, error) {
				out, err := verify(path)
				if err != nil || !strings.HasPrefix(out, "OK: version 3") || !strings.Contains(out, "Ada Okafor (Tenant)") ||
					!strings.Contains(out, "Lars Lindqvist (Landlord)") || !strings.Contains(out, "Jordan Blake (Tenant's lawyer)") {
					return "", fmt.Errorf("parley agreement verify: %v: %s", err, out)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return "", err
				}
				b[len(b)/2] ^= 0x01
				bad := path + ".flipped.pdf"
				if err := os.WriteFile(bad, b, 0o600); err != nil {
					return "", err
				}
				out2, err := verify(bad)
				if err == nil || strings.Count(out2, "\n") != 0 || !strings.Contains(out2, "NOT VERIFIED") {
					return "", fmt.Errorf("a flipped byte: %v: %q", err, out2)
				}
				return "verified", nil
			},
			// A second mediator on the case (her email; the same password).
			"comediator": func(string) (string, error) {
				email := "co-" + ids.New("x")[2:10] + "@browser.test"
				co, err := n.Accounts.Create(ctx, account.NewAccount{Email: email, Name: "Casey Cole", Role: policy.RoleMediator, Password: nodetest.Password})
				if err != nil {
					return "", err
				}
				_, err = medC.CaseAction(ctx, k.ID, "mediators", map[string]string{"accountId": co.ID})
				return email, err
			},
			// The signatures are in the key directory's log and the agreement's record.
			"signed": func(string) (string, error) {
				a, err := medC.Agreement(ctx, k.ID)
				if err != nil || a.State != api.AgreementSigned || a.Current.Version != 3 || len(a.Superseded) != 1 {
					return "", fmt.Errorf("agreement after signing: %+v %v", a.State, err)
				}
				return "", nil
			},
		},
		shots: []string{"agreement-mediator.png", "agreement-mediator-phone.png", "agreement-unsaved.png", "agreement-unsaved-phone.png", "agreement-sign.png", "agreement-sign-phone.png", "agreement-signed.png", "agreement-signed-phone.png"},
	}.run(t, n.URL)
}
