package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
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
	// (A records clerk's account takes no password: a second
	// administrator approves its first one.)
	if _, err := approver.CreateAccount(ctx, "new-staff@example.org", "New Staff", "records", ""); err == nil {
		t.Fatal("an account was created with the audit log unwritable")
	}
	fo.down.Store(false)
	made, err := approver.CreateAccount(ctx, "new-staff@example.org", "New Staff", "records", "")
	if err != nil {
		t.Fatalf("creating the account again once the log is back: %v", err)
	}
	if _, ok := auditHas(t, n, "account.created", approverAcct.ID, made.ID); !ok {
		t.Fatal("no account.created entry")
	}
	if ev, ok := auditHas(t, n, "account.password.reset.requested", approverAcct.ID, made.ID); !ok || ev.Attrs["requestedBy"] != approverAcct.ID {
		t.Fatalf("the new account's first-password request: %+v %v", ev, ok)
	}
}

// TestRevokeSessionsWithAuditDownIsNotMade (review 378): an administrator
// ending someone's sessions is audited before the sessions end, as a
// disable is. While the audit log takes no writes the request is answered
// 503 (try again) and the sessions stand; once the log is back the retry
// ends them and the entry is there. Before, the sessions ended, the answer
// was 204 and the entry was lost (an ERROR log line only).
func TestRevokeSessionsWithAuditDownIsNotMade(t *testing.T) {
	fo := &auditDown{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	ctx := context.Background()
	medAcct, med := n.Staff(t, policy.RoleMediator, "med-revoke@example.org")
	adminAcct, admin := n.Staff(t, policy.RoleAdmin, "admin-revoke@example.org")

	fo.down.Store(true)
	err := admin.RevokeSessions(ctx, medAcct.ID)
	fo.down.Store(false)
	if problemType(err) != "unavailable" {
		t.Fatalf("ending sessions with the audit log unwritable: %v, want unavailable (503: nothing done, try again)", err)
	}
	if _, err := med.Me(ctx); err != nil {
		t.Fatalf("the sessions ended though their audit entry failed: %v", err)
	}
	if _, ok := auditHas(t, n, "account.sessions.revoked", adminAcct.ID, medAcct.ID); ok {
		t.Fatal("an entry for sessions that were not ended")
	}
	if err := admin.RevokeSessions(ctx, medAcct.ID); err != nil {
		t.Fatalf("ending the sessions once the log is back: %v", err)
	}
	if _, err := med.Me(ctx); err == nil {
		t.Fatal("the mediator's session still works after its revocation")
	}
	if _, ok := auditHas(t, n, "account.sessions.revoked", adminAcct.ID, medAcct.ID); !ok {
		t.Fatal("no account.sessions.revoked entry")
	}
}

// afterAuditOf runs hook once, right after the first audit entry holding
// typ is stored: something that lands between a change's entry and its
// write.
type afterAuditOf struct {
	objstore.Store
	typ  atomic.Pointer[string]
	hook func(context.Context)
}

func (f *afterAuditOf) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	typ := f.typ.Load()
	if typ == nil || !strings.HasPrefix(key, "audit/") {
		return f.Store.Put(ctx, key, r, size, opts)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return objstore.Info{}, err
	}
	info, err := f.Store.Put(ctx, key, bytes.NewReader(data), size, opts)
	if err == nil && bytes.Contains(data, []byte(`"`+*typ+`"`)) && f.typ.CompareAndSwap(typ, nil) {
		f.hook(ctx)
	}
	return info, err
}

// TestRefusedPasswordChangeIsCorrectedInTheLog: a password change is
// audited before it is written, and refused when its sessions were ended
// (or its password reset) while it checked the current password, so that
// it does not undo that (account TestPasswordChangeDoesNotUndoARevocationMeanwhile).
// The log then says so: its account.password.changed entry is followed,
// under the same op, by account.password.changed.failed whose cause names
// the reason ("changed-meanwhile", not the catch-all "error"), and the
// password did not change.
func TestRefusedPasswordChangeIsCorrectedInTheLog(t *testing.T) {
	fo := &afterAuditOf{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		meanwhile func(ctx context.Context, id string) error
	}{
		{"sessions ended", func(ctx context.Context, id string) error { return n.Accounts.RevokeSessions(ctx, id) }},
		{"password reset", func(ctx context.Context, id string) error {
			_, _, err := n.Accounts.ResetPassword(ctx, id, "", nil)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			email := "med-" + strings.ReplaceAll(tc.name, " ", "-") + "@example.org"
			acct, med := n.Staff(t, policy.RoleMediator, email)
			var hookErr error
			fo.hook = func(ctx context.Context) { hookErr = tc.meanwhile(ctx, acct.ID) }
			typ := "account.password.changed"
			fo.typ.Store(&typ)
			if _, err := med.ChangePassword(ctx, nodetest.Password, "a new passphrase for the mediator"); problemType(err) != "password-not-changed" {
				t.Fatalf("a password change over a change that landed meanwhile: %v, want password-not-changed", err)
			}
			if fo.typ.Load() != nil || hookErr != nil {
				t.Fatalf("the change in between did not happen: armed %v, %v", fo.typ.Load() != nil, hookErr)
			}
			if _, err := client.New(n.URL, "").Login(ctx, email, "a new passphrase for the mediator"); err == nil {
				t.Fatal("the refused password signs in")
			}
			claim, ok := auditHas(t, n, "account.password.changed", acct.ID, acct.ID)
			if !ok {
				t.Fatal("no account.password.changed entry (appended before the write)")
			}
			var fix *api.AuditEvent
			for i := n.Audit.Size() - 1; i >= 0; i-- {
				ev, err := n.Audit.Entry(ctx, i)
				if err != nil {
					t.Fatal(err)
				}
				if ev.Type != claim.Type && ev.Attrs[audit.OpAttr] == claim.Attrs[audit.OpAttr] {
					e := api.AuditEvent(ev)
					fix = &e
					break
				}
			}
			if fix == nil {
				t.Fatalf("the refused change's entry %+v stands uncorrected", claim)
			}
			if fix.Type != "account.password.changed.failed" || fix.Attrs["cause"] != "changed-meanwhile" || fix.Actor != acct.ID || !slices.Contains(fix.Objects, acct.ID) {
				t.Fatalf("the correction: %+v, want account.password.changed.failed by and about %s with cause changed-meanwhile", *fix, acct.ID)
			}
		})
	}
}

// sessionsDown fails every new session's write while down is set.
type sessionsDown struct {
	objstore.Store
	down atomic.Bool
}

func (f *sessionsDown) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.down.Load() && strings.Contains(key, "sessions/") && !strings.HasPrefix(key, "audit/") {
		return objstore.Info{}, errors.New("injected: sessions store down")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestPasswordChangedWithoutItsSessionIsNotCorrected: a password change
// written whose new session then cannot be stored stands, and its
// account.password.changed entry with it: no correction says it failed
// (before, account.password.changed.failed followed a change that was
// made). The caller is told to sign in with the new password, which works.
func TestPasswordChangedWithoutItsSessionIsNotCorrected(t *testing.T) {
	fo := &sessionsDown{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	ctx := context.Background()
	acct, med := n.Staff(t, policy.RoleMediator, "med-nosession@example.org")
	fo.down.Store(true)
	_, err := med.ChangePassword(ctx, nodetest.Password, "a new passphrase for the mediator")
	fo.down.Store(false)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Problem.Status != 401 || problemType(err) != "password-changed-sign-in-again" || !strings.Contains(ce.Problem.Detail, "Sign in again with your new password") {
		t.Fatalf("a change made without its session: %v, want 401 saying to sign in with the new password", err)
	}
	if _, err := client.New(n.URL, "").Login(ctx, "med-nosession@example.org", "a new passphrase for the mediator"); err != nil {
		t.Fatalf("the new password does not sign in: %v", err)
	}
	if _, ok := auditHas(t, n, "account.password.changed", acct.ID, acct.ID); !ok {
		t.Fatal("no account.password.changed entry")
	}
	if ev, ok := auditHas(t, n, "account.password.changed.failed", acct.ID, acct.ID); ok {
		t.Fatalf("a change that was made is logged as failed: %+v", ev)
	}
}
