package agreement_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// savingLog is the node's signature log, except that before its first
// entry it runs save: a mediator's new version lands between Sign's first
// check and its update of the record.
type savingLog struct {
	agreement.SignatureLog
	save  func() error
	saved atomic.Bool
}

func (l *savingLog) LogAgreementSignature(ctx context.Context, record []byte) (int64, []byte, error) {
	if l.saved.CompareAndSwap(false, true) {
		if err := l.save(); err != nil {
			return 0, nil, err
		}
	}
	return l.SignatureLog.LogAgreementSignature(ctx, record)
}

// TestSignSupersededDuringSignIsAuditedOnce: a signature found superseded
// only inside the update of the agreement's record (the mediator saved a
// new version after Sign's first check) is refused as superseded and
// audited once: the refusal is audited after the update, never from
// inside the update's function, which may run more than once.
func TestSignSupersededDuringSignIsAuditedOnce(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med-race@example.org")
	k, err := med.CreateCase(ctx, "Rivera v. Chen", "landlord-tenant", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	tenant := join(t, n, med, k.ID, "party", "A", "Avery Tran")
	a, err := med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{Outcome: api.PartialAgreement})
	if err != nil {
		t.Fatal(err)
	}
	req, err := tenant.x.AgreementSignRequest(a, 1, a.Current.Text)
	if err != nil {
		t.Fatal(err)
	}
	signer, _, err := n.Accounts.Authenticate(ctx, tenant.c.Token)
	if err != nil {
		t.Fatal(err)
	}
	log := &savingLog{SignatureLog: n.KeyDir, save: func() error {
		_, err := med.SaveAgreement(ctx, k.ID, 1, a.Current.Text+"\n7. Added while the tenant signed.\n")
		return err
	}}
	svc, err := agreement.New(agreement.Config{Meta: n.Meta, Cases: n.Cases, Docs: agreement.VaultDocs{Vault: n.Vault},
		Devices: n.KeyDir, Log: log, Policy: n.Policy, Audit: n.Audit})
	if err != nil {
		t.Fatal(err)
	}
	before := n.Audit.Size()
	if _, err := svc.Sign(ctx, signer, k.ID, req); !errors.Is(err, agreement.ErrSuperseded) {
		t.Fatalf("a signature on version 1 after version 2 was saved: %v", err)
	}
	if !log.saved.Load() {
		t.Fatal("the new version was not saved during Sign")
	}
	refused := 0
	for i := before; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "agreement.sign.refused" && ev.Case == k.ID {
			if ev.Attrs["reason"] != "superseded" {
				t.Errorf("refusal audited with reason %q", ev.Attrs["reason"])
			}
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("%d agreement.sign.refused entries, want 1", refused)
	}
}
