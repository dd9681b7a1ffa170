package agreement_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// racingDocs is the node's document store, except that the first call of
// each hooked kind runs its hook first: another mediator's request lands
// while this one is writing its document.
type racingDocs struct {
	agreement.Docs
	create, addVersion, file   func()
	ranCreate, ranAdd, ranFile atomic.Bool
}

func (d *racingDocs) Create(ctx context.Context, actor account.Account, caseID, name string, text []byte) (string, int, error) {
	if d.create != nil && d.ranCreate.CompareAndSwap(false, true) {
		d.create()
	}
	return d.Docs.Create(ctx, actor, caseID, name, text)
}

func (d *racingDocs) AddVersion(ctx context.Context, actor account.Account, caseID, docID string, text []byte) (int, error) {
	if d.addVersion != nil && d.ranAdd.CompareAndSwap(false, true) {
		d.addVersion()
	}
	return d.Docs.AddVersion(ctx, actor, caseID, docID, text)
}

func (d *racingDocs) File(ctx context.Context, actor account.Account, caseID, name, mediaType string, body []byte) (string, error) {
	if d.file != nil && d.ranFile.CompareAndSwap(false, true) {
		d.file()
	}
	return d.Docs.File(ctx, actor, caseID, name, mediaType, body)
}

// serviceOn is an agreement service on n's stores, with docs for its
// documents, and the account whose session token is token, to act as.
func serviceOn(t *testing.T, n *nodetest.Node, token string, docs agreement.Docs) (*agreement.Service, account.Account) {
	t.Helper()
	actor, _, err := n.Accounts.Authenticate(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := agreement.New(agreement.Config{Meta: n.Meta, Cases: n.Cases, Docs: docs,
		Devices: n.KeyDir, Log: n.KeyDir, Policy: n.Policy, Audit: n.Audit})
	if err != nil {
		t.Fatal(err)
	}
	return svc, actor
}

func namedDocs(t *testing.T, docs []api.Document, prefix string) []string {
	t.Helper()
	var out []string
	for _, d := range docs {
		if strings.HasPrefix(d.Name, prefix) {
			out = append(out, d.Name)
		}
	}
	return out
}

// TestConcurrentStartsLeaveOneDocument: two mediators press Start at once.
// Exactly one wins, the other is told 409, and the joint room lists
// exactly one "Settlement agreement.txt": the loser's document is never
// listed.
func TestConcurrentStartsLeaveOneDocument(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med-start@example.org")
	k, err := med.CreateCase(ctx, "Rivera v. Chen", "landlord-tenant", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	var otherErr error
	docs := &racingDocs{Docs: agreement.VaultDocs{Vault: n.Vault}, create: func() {
		_, otherErr = med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{})
	}}
	svc, actor := serviceOn(t, n, med.Token, docs)
	_, err = svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{})
	if !docs.ranCreate.Load() {
		t.Fatal("the other Start did not run")
	}
	if (err == nil) == (otherErr == nil) {
		t.Fatalf("want exactly one Start to succeed: this one %v, the other %v", err, otherErr)
	}
	if otherErr != nil && status(otherErr) != http.StatusConflict {
		t.Fatalf("the losing Start: %v, want 409", otherErr)
	}
	list, err := med.Documents(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := namedDocs(t, list, "Settlement agreement"); len(got) != 1 {
		t.Fatalf("joint documents after two Starts: %q, want exactly one agreement document", got)
	}
	a, err := med.Agreement(ctx, k.ID)
	if err != nil || a.State != api.AgreementDrafting {
		t.Fatalf("the agreement: %+v %v", a, err)
	}
}

// signedCase is a case whose agreement (version 1) its one party signed.
func signedCase(t *testing.T, n *nodetest.Node, email string) (caseID string, med *person, a api.Agreement) {
	t.Helper()
	ctx := context.Background()
	_, m := n.Staff(t, policy.RoleMediator, email)
	k, err := m.CreateCase(ctx, "Rivera v. Chen", "landlord-tenant", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	tenant := join(t, n, m, k.ID, "party", "A", "Avery Tran")
	if _, err := m.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); err != nil {
		t.Fatal(err)
	}
	if a, err = tenant.x.SignAgreement(ctx, k.ID, 1); err != nil || a.State != api.AgreementSigned {
		t.Fatalf("sign: %+v %v", a.State, err)
	}
	return k.ID, &person{c: m}, a
}

// TestSaveDuringFileLeavesNoSupersededPDF: a mediator saves version 2
// while another files version 1. Whichever wins, no signed PDF of a
// version that is not the agreement's filed one is listed, and the
// agreement's document has no version the agreement does not record.
func TestSaveDuringFileLeavesNoSupersededPDF(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	caseID, med, a := signedCase(t, n, "med-file@example.org")
	var saveErr error
	docs := &racingDocs{Docs: agreement.VaultDocs{Vault: n.Vault}, file: func() {
		_, saveErr = med.c.SaveAgreement(ctx, caseID, 1, a.Current.Text+"\n7. Added while filing.\n")
	}}
	svc, actor := serviceOn(t, n, med.c.Token, docs)
	_, _, _, fileErr := svc.File(ctx, actor, caseID, api.AgreementFileRequest{})
	if !docs.ranFile.Load() {
		t.Fatal("the save did not run during File")
	}
	if (fileErr == nil) == (saveErr == nil) {
		t.Fatalf("want exactly one of File and Save to succeed: file %v, save %v", fileErr, saveErr)
	}
	checkFiled(t, n, med, caseID)
}

// TestFileDuringSaveLeavesNoOrphanVersion: the other order — a mediator
// files while another's new version is being written. No version of the
// agreement's document is listed that the agreement does not record, and
// no PDF of a superseded version is listed.
func TestFileDuringSaveLeavesNoOrphanVersion(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	caseID, med, a := signedCase(t, n, "med-save@example.org")
	var fileErr error
	docs := &racingDocs{Docs: agreement.VaultDocs{Vault: n.Vault}, addVersion: func() {
		_, fileErr = med.c.FileAgreement(ctx, caseID, api.AgreementFileRequest{})
	}}
	svc, actor := serviceOn(t, n, med.c.Token, docs)
	_, saveErr := svc.Save(ctx, actor, caseID, api.AgreementSaveRequest{Base: 1, Text: a.Current.Text + "\n7. Added while filing.\n"})
	if !docs.ranAdd.Load() {
		t.Fatal("File did not run during the save")
	}
	if (fileErr == nil) == (saveErr == nil) {
		t.Fatalf("want exactly one of File and Save to succeed: file %v, save %v", fileErr, saveErr)
	}
	checkFiled(t, n, med, caseID)
}

// checkFiled: every signed PDF listed is the agreement's filed one, and
// the agreement's document lists exactly the versions the agreement has.
func checkFiled(t *testing.T, n *nodetest.Node, med *person, caseID string) {
	t.Helper()
	ctx := context.Background()
	a, err := med.c.Agreement(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	list, err := med.c.Documents(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if strings.HasPrefix(d.Name, "Signed settlement agreement") && d.ID != a.Filed {
			t.Errorf("listed %q (%s), but the agreement's filed document is %q", d.Name, d.ID, a.Filed)
		}
	}
	doc, err := med.c.Document(ctx, caseID, a.Document)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Versions) != len(a.Versions) {
		t.Errorf("the agreement's document lists %d versions, the agreement %d", len(doc.Versions), len(a.Versions))
	}
}

// failingDocs fails its first Create (the store unreachable).
type failingDocs struct {
	agreement.Docs
	failed atomic.Bool
}

func (d *failingDocs) Create(ctx context.Context, actor account.Account, caseID, name string, text []byte) (string, int, error) {
	if d.failed.CompareAndSwap(false, true) {
		return "", 0, errors.New("test: the document store is unreachable")
	}
	return d.Docs.Create(ctx, actor, caseID, name, text)
}

// TestFailedStartReleasesItsClaim: a Start whose document cannot be stored
// fails, the case still reads as having no agreement, and the next Start
// (at once, not after the claim's lifetime) starts it.
func TestFailedStartReleasesItsClaim(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med-fail@example.org")
	k, err := med.CreateCase(ctx, "Rivera v. Chen", "landlord-tenant", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	svc, actor := serviceOn(t, n, med.Token, &failingDocs{Docs: agreement.VaultDocs{Vault: n.Vault}})
	if _, err := svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{}); err == nil {
		t.Fatal("a Start whose document failed succeeded")
	}
	if a, err := med.Agreement(ctx, k.ID); err != nil || a.State != api.AgreementNone {
		t.Fatalf("after a failed Start: %+v %v", a.State, err)
	}
	if _, err := svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{}); err != nil {
		t.Fatalf("a Start after a failed one: %v", err)
	}
	list, err := med.Documents(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := namedDocs(t, list, "Settlement agreement"); len(got) != 1 {
		t.Fatalf("joint documents: %q", got)
	}
}

// TestAbandonedStartIsTakenOver: a node that stops between claiming the
// record and storing the document leaves a claim; another Start is refused
// while it may still be running (409) and takes it over once it is older
// than the claim's lifetime.
func TestAbandonedStartIsTakenOver(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med-stop@example.org")
	k, err := med.CreateCase(ctx, "Rivera v. Chen", "landlord-tenant", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	stops := &racingDocs{Docs: agreement.VaultDocs{Vault: n.Vault}, create: func() { panic("node stops here") }}
	svc, actor := serviceOn(t, n, med.Token, stops)
	func() {
		defer func() { recover() }()
		svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{})
	}()
	if !stops.ranCreate.Load() {
		t.Fatal("the first Start did not reach its document")
	}
	if a, err := med.Agreement(ctx, k.ID); err != nil || a.State != api.AgreementNone {
		t.Fatalf("a claimed start reads as: %+v %v", a.State, err)
	}
	if _, err := med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); status(err) != http.StatusConflict || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("a Start while another may be running: %v", err)
	}
	svc.SetClock(func() time.Time { return time.Now().Add(3 * time.Minute) })
	if _, err := svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{}); err != nil {
		t.Fatalf("a Start after the claim was abandoned: %v", err)
	}
	list, err := med.Documents(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := namedDocs(t, list, "Settlement agreement"); len(got) != 1 {
		t.Fatalf("joint documents: %q", got)
	}
}
