package server_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// auditDown fails every write under audit/ while down is set: the audit
// log is briefly unwritable, the account records are not.
type auditDown struct {
	objstore.Store
	down atomic.Bool
}

func (f *auditDown) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.down.Load() && strings.HasPrefix(key, "audit/") {
		return objstore.Info{}, errors.New("injected: audit store down")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestAccountChangesWithAuditDownAreNotMade: an account change whose audit
// entry cannot be appended is not made, so no secret it would make is
// thrown away and a retry once the log is back does it. Before, a second
// administrator's approval changed the password and cleared the request,
// then failed on the audit append without answering the temporary
// password: the mediator was locked out, unaudited, and the retry was told
// "no-pending-reset". Likewise a disable stood unaudited, a created
// account made its retry "email exists", and a changed password's new
// session token was never answered (the old password no longer worked).
func TestAccountChangesWithAuditDownAreNotMade(t *testing.T) {
	fo := &auditDown{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	ctx := context.Background()
	medAcct, _ := n.Staff(t, policy.RoleMediator, "med-audit@example.org")
	requesterAcct, requester := n.Staff(t, policy.RoleAdmin, "admin-one@example.org")
	approverAcct, approver := n.Staff(t, policy.RoleAdmin, "admin-two@example.org")

	// A reset approval: the request waits until it can be audited.
	if _, err := requester.ResetPassword(ctx, medAcct.ID); err != nil {
		t.Fatal(err)
	}
	fo.down.Store(true)
	if _, err := approver.ApproveReset(ctx, medAcct.ID); problemType(err) != "unavailable" {
		t.Fatalf("an approval with the audit log unwritable: %v, want unavailable (503: nothing done, try again)", err)
	}
	fo.down.Store(false)
	res, err := approver.ApproveReset(ctx, medAcct.ID)
	if err != nil {
		t.Fatalf("approving again once the log is back: %v", err)
	}
	if res.TemporaryPassword == "" {
		t.Fatal("no temporary password")
	}
	if _, err := client.New(n.URL, "").Login(ctx, "med-audit@example.org", res.TemporaryPassword); err != nil {
		t.Fatalf("signing in with the temporary password: %v", err)
	}
	if ev, ok := auditHas(t, n, "account.password.reset", approverAcct.ID, medAcct.ID); !ok || ev.Attrs["requestedBy"] != requesterAcct.ID {
		t.Fatalf("account.password.reset entry: %+v %v", ev, ok)
	}

	// A password change (the mediator's first, from the temporary one):
	// refused whole, the temporary password still works.
	med := client.New(n.URL, "")
	if _, err := med.Login(ctx, "med-audit@example.org", res.TemporaryPassword); err != nil {
		t.Fatal(err)
	}
	fo.down.Store(true)
	if _, err := med.ChangePassword(ctx, res.TemporaryPassword, "a new passphrase for the mediator"); err == nil {
		t.Fatal("a password change succeeded with the audit log unwritable")
	}
	fo.down.Store(false)
	if _, err := client.New(n.URL, "").Login(ctx, "med-audit@example.org", res.TemporaryPassword); err != nil {
		t.Fatalf("the password changed though its change was refused: %v", err)
	}
	if _, err := med.ChangePassword(ctx, res.TemporaryPassword, "a new passphrase for the mediator"); err != nil {
		t.Fatalf("changing the password once the log is back: %v", err)
	}
	if _, ok := auditHas(t, n, "account.password.changed", medAcct.ID, medAcct.ID); !ok {
		t.Fatal("no account.password.changed entry")
	}
	if _, ok := auditHas(t, n, "account.password.changed.failed", medAcct.ID, medAcct.ID); ok {
		t.Fatal("a change refused before its entry was appended has a correction")
	}

	// A disable: not made unaudited.
	fo.down.Store(true)
	if _, err := approver.DisableAccount(ctx, medAcct.ID); err == nil {
		t.Fatal("a disable succeeded with the audit log unwritable")
	}
	fo.down.Store(false)
	if a, err := n.Accounts.Get(ctx, medAcct.ID); err != nil || a.Disabled {
		t.Fatalf("the account was disabled though its audit entry failed: %+v %v", a.Disabled, err)
	}
	if _, err := approver.DisableAccount(ctx, medAcct.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := auditHas(t, n, "account.disabled", approverAcct.ID, medAcct.ID); !ok {
		t.Fatal("no account.disabled entry")
	}

	// An account created: the retry creates it.
	fo.down.Store(true)
	if _, err := approver.CreateAccount(ctx, "new-staff@example.org", "New Staff", "records", "a good long password here"); err == nil {
		t.Fatal("an account was created with the audit log unwritable")
	}
	fo.down.Store(false)
	made, err := approver.CreateAccount(ctx, "new-staff@example.org", "New Staff", "records", "a good long password here")
	if err != nil {
		t.Fatalf("creating the account again once the log is back: %v", err)
	}
	if _, ok := auditHas(t, n, "account.created", approverAcct.ID, made.ID); !ok {
		t.Fatal("no account.created entry")
	}
}
