package vault

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
)

// ownDevices stands for the key directory (keydir.Service.ConsentDevice)
// in the vault's tests: each account has one device, made when it first
// answers, that counts as its first. Which devices count (own chain, not a
// mediator's admission) is the key directory's rule, tested there and
// over HTTP (web: TestShareApprovalByReentryDeviceIsRefused).
type ownDevices struct {
	mu   sync.Mutex
	keys map[string]*e2ee.DeviceKeys // by account
}

func (o *ownDevices) device(t testing.TB, acct string) *e2ee.DeviceKeys {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d, ok := o.keys[acct]; ok {
		return d
	}
	d, err := e2ee.NewDeviceKeys(acct, e2ee.KEMX25519, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	o.keys[acct] = d
	return d
}

func (o *ownDevices) ConsentDevice(_ context.Context, acct, device string) (*e2ee.DeviceRecord, string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d, ok := o.keys[acct]; ok && d.ID == device {
		return d.Record(), "first", nil
	}
	return nil, "", fmt.Errorf("device %s: %w", device, fault.ErrForbidden)
}

// answer is a's answer to a share request, signed by a's device over the
// request as stored.
func (e *env) answer(t testing.TB, a account.Account, caseID, docID, requestID string, allow bool) ShareAnswer {
	t.Helper()
	var r ShareApproval
	if _, err := e.meta.Get(context.Background(), approvalKey(caseID, docID, requestID), &r); err != nil {
		// No such request: an answer signed over nothing in particular.
		r = ShareApproval{ID: requestID, Doc: docID, Version: 1}
	}
	d := e.devices.device(t, a.ID)
	k := e2ee.Consent{Kind: e2ee.ConsentShare, Case: caseID, Item: requestID,
		TextSHA: textSHA256(e2ee.ShareConsentText(docID, requestID, r.Version, r.To.String(), allow)),
		Account: a.ID, Device: d.ID, At: time.Now().UnixMilli()}
	sig, err := d.SignConsent(k)
	if err != nil {
		t.Fatal(err)
	}
	return ShareAnswer{Allow: allow, Device: d.ID, SignedAt: k.At, Signature: base64.StdEncoding.EncodeToString(sig)}
}

// decide is DecideShareRequest with a's signed answer.
func (e *env) decide(t testing.TB, ctx context.Context, a account.Account, caseID, docID, requestID string, allow bool) (ShareApproval, error) {
	t.Helper()
	return e.vault.DecideShareRequest(ctx, a, caseID, docID, requestID, e.answer(t, a, caseID, docID, requestID, allow))
}
