package agreement_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

func status(err error) int {
	var ae *client.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// problemOf is err's problem, if the server answered one.
func problemOf(err error) api.Problem {
	var ae *client.Error
	if errors.As(err, &ae) {
		return ae.Problem
	}
	return api.Problem{}
}

type person struct {
	c *client.Client
	x *client.E2EE
}

// join invites someone, joins as them and registers a device of theirs.
func join(t *testing.T, n *nodetest.Node, med *client.Client, caseID, role, side, name string) person {
	t.Helper()
	ctx := context.Background()
	inv, err := med.Invite(ctx, caseID, role, side, name, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(n.URL, "")
	s, err := c.Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := client.InitDevice(dir, s.Account.ID, e2ee.KEMX25519); err != nil {
		t.Fatal(err)
	}
	x, err := c.E2EE(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Register(ctx); err != nil {
		t.Fatal(err)
	}
	return person{c: c, x: x}
}

// TestAgreementDraftSignFile walks an agreement through: a mediator starts
// it from the case type's template with the parties and objectives filled
// in, saves two versions; a party's signature on version 2 is superseded
// by version 3 and a late signature on version 2 is refused; two parties
// and a lawyer sign version 3; the PDF verifies offline and a flipped byte
// does not; filing at closure stores the PDF as an agreement-class
// document and records the outcome (partial, as the mediator said).
// People who may not draft or sign are refused; an outsider is told the
// case does not exist.
func TestAgreementDraftSignFile(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	_, outsiderMed := n.Staff(t, policy.RoleMediator, "other@example.org")
	k, err := med.CreateCase(ctx, "Rivera v. Chen", "landlord-tenant", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := med.CaseAction(ctx, k.ID, "objectives", map[string]string{"kind": "objective", "text": "Agree the repairs to the boiler"}); err != nil {
		t.Fatal(err)
	}
	tenant := join(t, n, med, k.ID, "party", "A", "Avery Tran")
	landlord := join(t, n, med, k.ID, "party", "B", "Blake Chen")
	lawyer := join(t, n, med, k.ID, "counsel", "A", "Jordan Blake")
	observer := join(t, n, med, k.ID, "observer", "", "Olive Observer")

	// Before anyone drafts one, the people of the case read "none"; an
	// outsider learns nothing; signing has nothing to sign.
	if a0, err := tenant.c.Agreement(ctx, k.ID); err != nil || a0.State != api.AgreementNone || !a0.MaySign || a0.MayDraft {
		t.Fatalf("no agreement yet: %+v %v", a0, err)
	}
	if _, err := outsiderMed.Agreement(ctx, k.ID); status(err) != http.StatusNotFound {
		t.Fatalf("an outsider reading: %v", err)
	}
	if _, err := tenant.x.SignAgreement(ctx, k.ID, 1); status(err) != http.StatusConflict {
		t.Fatalf("signing before a draft: %v", err)
	}

	// Only a mediator of the case starts it; an outsider learns nothing.
	if _, err := tenant.c.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); status(err) != http.StatusForbidden {
		t.Fatalf("a party started the agreement: %v", err)
	}
	if _, err := outsiderMed.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); status(err) != http.StatusNotFound {
		t.Fatalf("an outsider starting: %v", err)
	}
	a, err := med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{Outcome: api.PartialAgreement})
	if err != nil {
		t.Fatal(err)
	}
	if a.Template != "landlord-tenant" || a.Current.Version != 1 || a.State != api.AgreementDrafting {
		t.Fatalf("started: %+v", a)
	}
	for _, want := range []string{"Rivera v. Chen", "- Avery Tran (Tenant)", "- Blake Chen (Landlord)", "- Jordan Blake (Tenant's lawyer)",
		"Agree the repairs to the boiler", "Date: " + time.Now().UTC().Format("2006-01-02")} {
		if !strings.Contains(a.Current.Text, want) {
			t.Errorf("template text lacks %q:\n%s", want, a.Current.Text)
		}
	}
	if strings.Contains(a.Current.Text, "{{") {
		t.Errorf("a placeholder was left:\n%s", a.Current.Text)
	}
	if len(a.Signers) != 3 {
		t.Fatalf("signers (two parties, one lawyer; not the observer): %+v", a.Signers)
	}
	if _, err := med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); status(err) != http.StatusConflict {
		t.Fatalf("a second start: %v", err)
	}

	// Version 2; a party cannot save, and a save on a stale base is refused.
	v2 := strings.Replace(a.Current.Text, "1. Rent and arrears", "1. Rent: the tenant pays 400 on the 1st of each month.\n1b. Rent and arrears", 1)
	if _, err := tenant.c.SaveAgreement(ctx, k.ID, 1, v2); status(err) != http.StatusForbidden {
		t.Fatalf("a party saved: %v", err)
	}
	// Text the PDF cannot show as it is (a right-to-left override, a
	// character outside its font) is refused, naming the character.
	for _, bad := range []struct{ text, want string }{{"pays \u202e004", "(U+202E)"}, {"pays 400 → 450", "“→” (U+2192)"}} {
		if _, err := med.SaveAgreement(ctx, k.ID, 1, v2+bad.text); status(err) != http.StatusBadRequest || !strings.Contains(err.Error(), bad.want) {
			t.Fatalf("saving %q: %v", bad.text, err)
		}
	}
	a, err = med.SaveAgreement(ctx, k.ID, 1, v2)
	if err != nil || a.Current.Version != 2 {
		t.Fatalf("save 2: %+v %v", a.Current, err)
	}
	if _, err := med.SaveAgreement(ctx, k.ID, 1, v2+"x"); status(err) != http.StatusConflict {
		t.Fatalf("a save on a stale base: %v", err)
	}

	// The tenant signs version 2, then version 3 is saved: the signature
	// no longer counts, and the landlord's late signature on 2 is refused.
	if a, err = tenant.x.SignAgreement(ctx, k.ID, 2); err != nil || a.State != api.AgreementSigning {
		t.Fatalf("sign 2: %+v %v", a.State, err)
	}
	lateReq, err := landlord.x.AgreementSignRequest(a, 2, v2)
	if err != nil {
		t.Fatal(err)
	}
	v3 := v2 + "\n6. The landlord repairs the boiler by 1 March.\n"
	if a, err = med.SaveAgreement(ctx, k.ID, 2, v3); err != nil || a.Current.Version != 3 || a.State != api.AgreementDrafting || len(a.Superseded) != 1 {
		t.Fatalf("save 3: %+v %v", a, err)
	}
	var out api.Agreement
	err = landlord.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/agreement/sign", lateReq, &out)
	if status(err) != http.StatusConflict || !strings.Contains(err.Error(), "version 3 replaced it") {
		t.Fatalf("a signature on a superseded version: %v", err)
	}
	// A browser tells this refusal from the agreement's other conflicts by
	// its type, and shows its detail, which names no internal word.
	if p := problemOf(err); p.Type != api.ProblemTypeBase+string(api.ProblemAgreementSuperseded) ||
		p.Detail != "version 2 is no longer the agreement: version 3 replaced it; read version 3 and sign that instead" {
		t.Fatalf("a signature on a superseded version: problem %+v", p)
	}
	// A signature over another text, or by someone who may not sign, is refused.
	forged, _ := landlord.x.AgreementSignRequest(a, 3, v3+"and a pony")
	if err := landlord.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/agreement/sign", forged, &out); status(err) != http.StatusBadRequest {
		t.Fatalf("a signature over another text: %v", err)
	}
	// The signature binds the agreement's document, its outcome and the
	// signer's role: a device that signed other ones is refused.
	for name, change := range map[string]func(*api.Agreement){
		"another document": func(x *api.Agreement) { x.Document = "d_other" },
		"another outcome": func(x *api.Agreement) {
			x.Outcome = map[api.OutcomeResult]api.OutcomeResult{api.FullAgreement: api.PartialAgreement, api.PartialAgreement: api.FullAgreement}[x.Outcome]
		},
		"another role": func(x *api.Agreement) {
			x.Signers = slices.Clone(x.Signers)
			for i := range x.Signers {
				x.Signers[i].Role = "counsel"
			}
		},
	} {
		other := a
		change(&other)
		req, err := landlord.x.AgreementSignRequest(other, 3, v3)
		if err != nil {
			t.Fatal(err)
		}
		err = landlord.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/agreement/sign", req, &out)
		if status(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "your role as party") ||
			!strings.Contains(err.Error(), "version 3 of this agreement, what it settles (") || strings.Contains(err.Error(), "-agreement") {
			t.Fatalf("a signature over %s: %v", name, err)
		}
	}
	// An observer is not a signer: the client does not sign, and a
	// signature made as if they were one is refused by policy.
	if _, err := observer.x.SignAgreement(ctx, k.ID, 3); err == nil || !strings.Contains(err.Error(), "not one of the agreement's signers") {
		t.Fatalf("an observer signed: %v", err)
	}
	asIf := a
	asIf.Signers = append(slices.Clone(a.Signers), api.AgreementSigner{AccountID: observer.x.Me.Account, Role: "party"})
	obsReq, err := observer.x.AgreementSignRequest(asIf, 3, v3)
	if err != nil {
		t.Fatal(err)
	}
	if err := observer.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/agreement/sign", obsReq, &out); status(err) != http.StatusForbidden {
		t.Fatalf("an observer's signature: %v", err)
	}
	// The PDF is not there until everyone signed.
	if _, err := med.AgreementPDF(ctx, k.ID); status(err) != http.StatusConflict {
		t.Fatalf("PDF before signing: %v", err)
	}

	for _, p := range []person{tenant, landlord, lawyer} {
		if a, err = p.x.SignAgreement(ctx, k.ID, 3); err != nil {
			t.Fatal(err)
		}
	}
	if a.State != api.AgreementSigned {
		t.Fatalf("after three signatures: %s", a.State)
	}
	// Signing the same version again changes nothing and logs nothing: the
	// duplicate is found before the key directory's log is written.
	logSize := func() int64 {
		_, v, err := tenant.x.CaseDevices(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return v.Checkpoint.Size
	}
	before := logSize()
	if again, err := tenant.x.SignAgreement(ctx, k.ID, 3); err != nil || again.State != api.AgreementSigned {
		t.Fatalf("signing again: %+v %v", again.State, err)
	}
	if after := logSize(); after != before {
		t.Fatalf("a second signature on the same version grew the key directory's log from %d to %d entries", before, after)
	}
	for _, s := range a.Signers {
		if s.Signed == nil || s.Signed.Version != 3 || s.Signed.LogIndex < 0 {
			t.Fatalf("signer %s: %+v", s.Name, s.Signed)
		}
	}

	// The observer reads it and downloads the PDF; it verifies offline.
	pdf, err := observer.c.AgreementPDF(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	check, err := agreement.Verify(pdf)
	if err != nil || !check.OK || check.Version != 3 || len(check.Signed) != 3 {
		t.Fatalf("verify: %+v %v", check, err)
	}
	bad := append([]byte(nil), pdf...)
	bad[len(bad)/2] ^= 0x01
	if _, err := agreement.Verify(bad); err == nil {
		t.Fatal("a flipped byte verified")
	}

	// Effort out of range is refused before anything is filed, whether or
	// not the case is at closure (where it would be recorded).
	for _, req := range []api.AgreementFileRequest{{Hours: -1}, {Sessions: -1}, {Hours: 10001}, {Sessions: 1001}} {
		var ce *client.Error
		if _, err := med.FileAgreement(ctx, k.ID, req); !errors.As(err, &ce) || ce.Status != http.StatusBadRequest || len(ce.Problem.Errors) != 1 {
			t.Fatalf("file with %+v: %v", req, err)
		}
		if a, err := med.Agreement(ctx, k.ID); err != nil || a.Filed != "" {
			t.Fatalf("after a refused filing with %+v: filed %q %v", req, a.Filed, err)
		}
	}

	// Filing before closure files the PDF; at closure it records the outcome.
	filed, err := med.FileAgreement(ctx, k.ID, api.AgreementFileRequest{})
	if err != nil || filed.Agreement.Filed == "" || filed.Outcome != nil {
		t.Fatalf("file: %+v %v", filed, err)
	}
	doc, err := med.Document(ctx, k.ID, filed.Agreement.Filed)
	if err != nil || doc.Class != "agreement" || doc.Audience != "joint" {
		t.Fatalf("filed document: %+v %v", doc, err)
	}
	if _, err := med.SaveAgreement(ctx, k.ID, 3, v3+"more"); status(err) != http.StatusConflict ||
		problemOf(err).Type != api.ProblemTypeBase+string(api.ProblemAgreementFiled) {
		t.Fatalf("a save after filing: %v", err)
	}
	// A signature sent again once the agreement was filed is refused as
	// filed, not as a replaced version (a browser says which).
	if _, err := tenant.x.SignAgreement(ctx, k.ID, 3); status(err) != http.StatusConflict ||
		problemOf(err).Type != api.ProblemTypeBase+string(api.ProblemAgreementFiled) ||
		problemOf(err).Detail != "the agreement was already signed by everyone and filed" {
		t.Fatalf("a signature after filing: %v (%+v)", err, problemOf(err))
	}
	if _, err := med.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	filed, err = med.FileAgreement(ctx, k.ID, api.AgreementFileRequest{Sessions: 2, Hours: 3})
	if err != nil || filed.Outcome == nil || filed.Outcome.Case.Outcome == nil || filed.Outcome.Case.Outcome.Result != api.PartialAgreement {
		t.Fatalf("file at closure: %+v %v", filed, err)
	}
}
