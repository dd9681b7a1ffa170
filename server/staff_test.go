package server_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// problemType is the problem type slug of a client error ("" if none).
func problemType(err error) string {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return ""
	}
	return strings.TrimPrefix(ce.Problem.Type, api.ProblemTypeBase)
}

// auditHas reports whether the node's audit log holds an event of typ
// by actor about object.
func auditHas(t *testing.T, n *nodetest.Node, typ, actor, object string) (api.AuditEvent, bool) {
	t.Helper()
	ctx := context.Background()
	for i := n.Audit.Size() - 1; i >= 0; i-- {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == typ && ev.Actor == actor && slices.Contains(ev.Objects, object) {
			return api.AuditEvent(ev), true
		}
	}
	return api.AuditEvent{}, false
}

// TestDisableAccountClosesEverySocket: an administrator disabling a
// mediator, on two nodes sharing MinIO and Redis, ends every session of
// the mediator at once: its sockets on both nodes close with 4001 within a
// second, its tokens stop working with "account-disabled", and signing in
// with the right password says the account is disabled (a wrong password
// says nothing more than before). Other accounts keep their sockets. It is
// audited, a party cannot do it, and enabling lets the mediator sign in
// again while the old sessions stay ended.
func TestDisableAccountClosesEverySocket(t *testing.T) {
	cfg := nodetest.Scale(t)
	a, b := nodetest.Start(t, cfg), nodetest.Start(t, cfg)
	ctx := context.Background()
	p := seedCase(t, a, a.URL, b.URL)
	adminAcct, admin := a.Staff(t, policy.RoleAdmin, "admin-disable@example.org")
	laptop := client.New(b.URL, "")
	if _, err := laptop.Login(ctx, p.medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	onA := dialRoom(t, a.URL, p.caseID, p.med.Token)
	onB := dialRoom(t, b.URL, p.caseID, laptop.Token)
	other := dialRoom(t, b.URL, p.caseID, p.partyA.Token)
	for _, ws := range []*websocket.Conn{onA, onB, other} {
		awaitSubscribed(t, ws)
	}

	if _, err := p.partyA.DisableAccount(ctx, p.medID); problemType(err) != "forbidden" {
		t.Fatalf("a party disabling the mediator: %v", err)
	}
	if _, err := p.med.DisableAccount(ctx, adminAcct.ID); problemType(err) != "forbidden" {
		t.Fatalf("a mediator disabling the admin: %v", err)
	}
	start := time.Now()
	got, err := admin.DisableAccount(ctx, p.medID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Disabled {
		t.Fatalf("answer: %+v", got)
	}
	for name, ws := range map[string]*websocket.Conn{"node A": onA, "node B": onB} {
		if code := closeCode(ws, time.Second-time.Since(start)); code != api.CloseSessionEnded {
			t.Fatalf("%s: disabled account's socket: close %d after %v, want 4001 within 1s", name, code, time.Since(start))
		}
	}
	if code := closeCode(other, 300*time.Millisecond); code != 0 {
		t.Fatalf("another account's socket closed with %d", code)
	}
	for _, tok := range []string{p.med.Token, laptop.Token} {
		if _, err := client.New(b.URL, tok).Me(ctx); problemType(err) != "account-disabled" {
			t.Fatalf("a disabled account's token: %v", err)
		}
		// A socket that was down when the account was disabled (a phone
		// asleep) learns it on its next attempt: closed with 4001, after
		// which a browser asks /me and says why in words.
		if code := handshakeClose(t, b.URL, p.caseID, browserHeader(b.URL, tok)); code != api.CloseSessionEnded {
			t.Fatalf("a disabled account reconnecting: close %d, want %d", code, api.CloseSessionEnded)
		}
	}
	if _, err := client.New(a.URL, "").Login(ctx, p.medEmail, nodetest.Password); problemType(err) != "account-disabled" ||
		!strings.Contains(err.Error(), "administrator") {
		t.Fatalf("signing in to a disabled account: %v", err)
	}
	if _, err := client.New(a.URL, "").Login(ctx, p.medEmail, "wrong password, quite long"); problemType(err) != "unauthenticated" {
		t.Fatalf("a wrong password on a disabled account must not tell it is disabled: %v", err)
	}
	if _, ok := auditHas(t, a, "account.disabled", adminAcct.ID, p.medID); !ok {
		t.Fatal("no account.disabled audit entry")
	}
	if _, err := admin.EnableAccount(ctx, p.medID); err != nil {
		t.Fatal(err)
	}
	if _, ok := auditHas(t, a, "account.enabled", adminAcct.ID, p.medID); !ok {
		t.Fatal("no account.enabled audit entry")
	}
	if _, err := client.New(a.URL, p.med.Token).Me(ctx); err == nil {
		t.Fatal("a session ended by the disabling works again after enabling")
	}
	again := client.New(b.URL, "")
	if _, err := again.Login(ctx, p.medEmail, nodetest.Password); err != nil {
		t.Fatalf("signing in after enabling: %v", err)
	}
	if _, err := again.Case(ctx, p.caseID); err != nil {
		t.Fatalf("the enabled mediator reads their case: %v", err)
	}
	// Participants are not staff accounts.
	if _, err := admin.DisableAccount(ctx, "u-nonexistent"); err == nil {
		t.Fatal("disabled an account that does not exist")
	}
}

// TestLastAdminCannotBeDisabled: the last enabled administrator cannot be
// disabled (by themselves: nobody else can), with a plain answer; with a
// second one enabled, it can.
func TestLastAdminCannotBeDisabled(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	first, admin := n.Staff(t, policy.RoleAdmin, "first-admin@example.org")
	_, err := admin.DisableAccount(ctx, first.ID)
	if problemType(err) != "last-admin" || !strings.Contains(err.Error(), "last enabled administrator") {
		t.Fatalf("disabling the last admin: %v", err)
	}
	if _, err := admin.Me(ctx); err != nil {
		t.Fatalf("the refused self-disable still ended the session: %v", err)
	}
	second, admin2 := n.Staff(t, policy.RoleAdmin, "second-admin@example.org")
	if _, err := admin.DisableAccount(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.DisableAccount(ctx, first.ID); problemType(err) != "last-admin" {
		t.Fatalf("with the other admin disabled, disabling the last: %v", err)
	}
	if _, err := admin.EnableAccount(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := admin2.Login(ctx, "second-admin@example.org", nodetest.Password); err != nil {
		t.Fatalf("the enabled admin signs in again: %v", err)
	}
	if _, err := admin.DisableAccount(ctx, first.ID); err != nil {
		t.Fatalf("with a second admin enabled, disabling oneself: %v", err)
	}
	if _, err := admin.Me(ctx); problemType(err) != "account-disabled" {
		t.Fatalf("after disabling oneself: %v", err)
	}
}

// TestOneAdminCannotTakeOverMediator: one administrator's reset of a
// mediator's password makes no password — it only ends the mediator's
// sessions and waits — and neither that administrator, nor an
// administrator account they created, nor one whose password they reset,
// can approve it. (Before the fix the first reset answered a temporary
// password: one admin signed in as the mediator and read their cases.)
// A records clerk's password takes two administrators too; another
// administrator's takes one.
func TestOneAdminCannotTakeOverMediator(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	p := seedCase(t, n, n.URL)
	adminAcct, admin := n.Staff(t, policy.RoleAdmin, "admin-alone@example.org")
	res, err := admin.ResetPassword(ctx, p.medID)
	if err != nil {
		t.Fatal(err)
	}
	if res.TemporaryPassword != "" || !res.AwaitingApproval || res.Account.PendingReset == nil ||
		res.Account.PendingReset.RequestedBy != adminAcct.ID || res.Account.PasswordChangeRequired {
		t.Fatalf("one admin's reset of a mediator: %+v", res)
	}
	if _, err := p.med.Me(ctx); err == nil {
		t.Fatal("the mediator's session survived the reset request")
	}
	// Asking again changes nothing and still makes no password.
	if again, err := admin.ResetPassword(ctx, p.medID); err != nil || again.TemporaryPassword != "" {
		t.Fatalf("a second request by the same admin: %+v %v", again, err)
	}
	if _, err := admin.ApproveReset(ctx, p.medID); problemType(err) != "second-admin-required" {
		t.Fatalf("the requester approving their own reset: %v", err)
	}
	// An admin account the requester made (they chose its password).
	_, err = admin.CreateAccount(ctx, "made-by-admin@example.org", "Made Admin", string(policy.RoleAdmin), nodetest.Password)
	if err != nil {
		t.Fatal(err)
	}
	madeC := client.New(n.URL, "")
	if _, err := madeC.Login(ctx, "made-by-admin@example.org", nodetest.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := madeC.ApproveReset(ctx, p.medID); problemType(err) != "forbidden" {
		t.Fatalf("an admin the requester created approves: %v", err)
	}
	// An independent admin whose password the requester reset (one step).
	otherAcct, _ := n.Staff(t, policy.RoleAdmin, "admin-taken@example.org")
	taken, err := admin.ResetPassword(ctx, otherAcct.ID)
	if err != nil || taken.TemporaryPassword == "" {
		t.Fatalf("resetting another admin's password: %+v %v", taken, err)
	}
	takenC := client.New(n.URL, "")
	if _, err := takenC.Login(ctx, "admin-taken@example.org", taken.TemporaryPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := takenC.ChangePassword(ctx, taken.TemporaryPassword, "the taken admin's new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := takenC.ApproveReset(ctx, p.medID); problemType(err) != "forbidden" {
		t.Fatalf("an admin whose password the requester reset approves: %v", err)
	}
	// Nothing of the above gave anyone a password: the mediator's own
	// still works (and, used, leaves the waiting request as it is:
	// TestWaitingResetEndsWithAge), and no account.password.reset entry
	// exists.
	medAgain := client.New(n.URL, "")
	if _, err := medAgain.Login(ctx, p.medEmail, nodetest.Password); err != nil {
		t.Fatalf("the mediator's own password after the refused approvals: %v", err)
	}
	if _, ok := auditHas(t, n, "account.password.reset.requested", adminAcct.ID, p.medID); !ok {
		t.Fatal("no account.password.reset.requested audit entry")
	}
	if _, ok := auditHas(t, n, "account.password.reset", adminAcct.ID, p.medID); ok {
		t.Fatal("an account.password.reset entry for the mediator, from one admin")
	}
	// Asked for again, the requester withdraws it.
	if _, err := admin.ResetPassword(ctx, p.medID); err != nil {
		t.Fatal(err)
	}
	if a, err := admin.DeclineReset(ctx, p.medID); err != nil || a.PendingReset != nil {
		t.Fatalf("withdrawing: %+v %v", a, err)
	}
	if _, err := admin.ApproveReset(ctx, p.medID); problemType(err) != "no-pending-reset" {
		t.Fatalf("approving a withdrawn reset: %v", err)
	}
	// Records staff: two administrators as well.
	recAcct, _ := n.Staff(t, policy.RoleRecords, "records-alone@example.org")
	if r, err := admin.ResetPassword(ctx, recAcct.ID); err != nil || r.TemporaryPassword != "" || !r.AwaitingApproval {
		t.Fatalf("one admin's reset of a records clerk: %+v %v", r, err)
	}
}

// TestResetPasswordForcesChange: one administrator requests a mediator's
// reset (their sessions end), a second approves it and alone gets a
// temporary password, once; the old password stops working; after signing
// in with the temporary one, the person can do nothing (no case, no
// socket) but read themselves, sign out or choose a new password, which
// then works everywhere. Every step is audited, and the approving admin
// joins the account's lineage.
func TestResetPasswordForcesChange(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	p := seedCase(t, n, n.URL)
	requesterAcct, requester := n.Staff(t, policy.RoleAdmin, "admin-request@example.org")
	adminAcct, admin := n.Staff(t, policy.RoleAdmin, "admin-reset@example.org")
	_, records := n.Staff(t, policy.RoleRecords, "records-reset@example.org")
	if _, err := records.ResetPassword(ctx, p.medID); problemType(err) != "forbidden" {
		t.Fatalf("records staff resetting a password: %v", err)
	}
	if _, err := admin.ResetPassword(ctx, adminAcct.ID); problemType(err) != "invalid-input" {
		t.Fatalf("an admin resetting their own password: %v", err)
	}
	if _, err := requester.ResetPassword(ctx, p.medID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.med.Me(ctx); err == nil {
		t.Fatal("the mediator's session survived the reset request")
	}
	if _, err := records.ApproveReset(ctx, p.medID); problemType(err) != "forbidden" {
		t.Fatalf("records staff approving a reset: %v", err)
	}
	res, err := admin.ApproveReset(ctx, p.medID)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TemporaryPassword) < 16 || !res.Account.PasswordChangeRequired || res.Account.PendingReset != nil {
		t.Fatalf("reset answer: %+v", res)
	}
	if _, err := client.New(n.URL, "").Login(ctx, p.medEmail, nodetest.Password); err == nil {
		t.Fatal("the old password still works")
	}
	med := client.New(n.URL, "")
	s, err := med.Login(ctx, p.medEmail, res.TemporaryPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Account.PasswordChangeRequired {
		t.Fatal("the sign-in answer does not say a new password is needed")
	}
	if me, err := med.Me(ctx); err != nil || !me.PasswordChangeRequired {
		t.Fatalf("me: %+v %v", me, err)
	}
	if _, err := med.Case(ctx, p.caseID); problemType(err) != "password-change-required" {
		t.Fatalf("reading a case before choosing a new password: %v", err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+med.Token)
	if _, resp, err := websocket.DefaultDialer.Dial(strings.Replace(n.URL, "http", "ws", 1)+"/api/v1/cases/"+p.caseID+"/ws", h); err == nil ||
		resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a socket before choosing a new password: %v", err)
	}
	const fresh = "a brand new passphrase 2026"
	if _, err := med.ChangePassword(ctx, "not the temporary one", fresh); problemType(err) != "invalid-input" {
		t.Fatalf("changing with a wrong current password: %v", err)
	}
	if _, err := med.ChangePassword(ctx, res.TemporaryPassword, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := med.Case(ctx, p.caseID); err != nil {
		t.Fatalf("after choosing a new password: %v", err)
	}
	if _, err := client.New(n.URL, "").Login(ctx, p.medEmail, res.TemporaryPassword); err == nil {
		t.Fatal("the temporary password still works")
	}
	if _, err := client.New(n.URL, "").Login(ctx, p.medEmail, fresh); err != nil {
		t.Fatal(err)
	}
	if ev, ok := auditHas(t, n, "account.password.reset", adminAcct.ID, p.medID); !ok || ev.Attrs["requestedBy"] != requesterAcct.ID {
		t.Fatalf("account.password.reset audit entry: %+v %v", ev, ok)
	}
	if ev, ok := auditHas(t, n, "account.password.changed", p.medID, p.medID); !ok || ev.Attrs["after"] != "reset" {
		t.Fatalf("account.password.changed entry: %+v %v", ev, ok)
	}
	acct, err := n.Accounts.Get(ctx, p.medID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(acct.Lineage, adminAcct.ID) || slices.Contains(acct.Lineage, requesterAcct.ID) {
		t.Fatalf("the approving admin (only) joins the account's lineage: %v", acct.Lineage)
	}
}

// TestChangeOwnPassword: a person changes their own password with the
// current one; their other sessions (and sockets) end, this one carries on
// with a new token; wrong or short passwords get plain field errors; a
// participant has no password to change.
func TestChangeOwnPassword(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	p := seedCase(t, n, n.URL)
	other := client.New(n.URL, "")
	if _, err := other.Login(ctx, p.medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	ws := dialRoom(t, n.URL, p.caseID, other.Token)
	awaitSubscribed(t, ws)
	if _, err := p.med.ChangePassword(ctx, "wrong current password", "another good password"); problemType(err) != "invalid-input" {
		t.Fatalf("wrong current password: %v", err)
	}
	if _, err := p.med.ChangePassword(ctx, nodetest.Password, "short"); problemType(err) != "invalid-input" ||
		!strings.Contains(err.Error(), "at least 12") {
		t.Fatalf("short new password: %v", err)
	}
	if _, err := p.med.ChangePassword(ctx, nodetest.Password, nodetest.Password); problemType(err) != "invalid-input" {
		t.Fatalf("same password again: %v", err)
	}
	const fresh = "my own new passphrase!"
	if _, err := p.med.ChangePassword(ctx, nodetest.Password, fresh); err != nil {
		t.Fatal(err)
	}
	// From the answer (the two password hashes before it are slow under -race).
	start := time.Now()
	if code := closeCode(ws, time.Second-time.Since(start)); code != api.CloseSessionEnded {
		t.Fatalf("the other session's socket: close %d, want 4001 within 1s", code)
	}
	if _, err := other.Me(ctx); err == nil {
		t.Fatal("the other session survived the password change")
	}
	if _, err := p.med.Case(ctx, p.caseID); err != nil {
		t.Fatalf("the changing session carries on: %v", err)
	}
	if _, err := client.New(n.URL, "").Login(ctx, p.medEmail, fresh); err != nil {
		t.Fatal(err)
	}
	if _, ok := auditHas(t, n, "account.password.changed", p.medID, p.medID); !ok {
		t.Fatal("no account.password.changed audit entry")
	}
	if _, err := p.partyA.ChangePassword(ctx, "", fresh); problemType(err) != "forbidden" {
		t.Fatalf("a participant changing a password: %v", err)
	}
}

// TestAdminChoosesNoFirstPasswordOfMediator: an administrator who creates
// a mediator's account through the API chooses no password of it (one
// given is refused, 400 on "password"), so no password they chose opens
// it; the account waits with their request for its first password, which
// they cannot approve, nor can an administrator they made. An independent
// administrator approves it and alone gets a temporary password, once;
// the new mediator signs in with it and must choose their own before
// anything else. Every step is audited. A records clerk's account is made
// the same way; an administrator's still takes the password its creator
// gives (an administrator reaches no case content).
func TestAdminChoosesNoFirstPasswordOfMediator(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	creatorAcct, creator := n.Staff(t, policy.RoleAdmin, "admin-creates@example.org")
	const medEmail = "new-mediator@example.org"
	if _, err := creator.CreateAccount(ctx, medEmail, "Nia Mediator", string(policy.RoleMediator), nodetest.Password); problemType(err) != "invalid-input" {
		t.Fatalf("an admin choosing a new mediator's password: %v", err)
	}
	med, err := creator.CreateAccount(ctx, medEmail, "Nia Mediator", string(policy.RoleMediator), "")
	if err != nil {
		t.Fatal(err)
	}
	if !med.NoPassword || med.PendingReset == nil || med.PendingReset.RequestedBy != creatorAcct.ID || med.PasswordChangeRequired {
		t.Fatalf("a new mediator's account: %+v", med)
	}
	for _, pw := range []string{nodetest.Password, "", "a password the creator made up"} {
		if _, err := client.New(n.URL, "").Login(ctx, medEmail, pw); err == nil {
			t.Fatalf("signed in as the new mediator with %q", pw)
		}
	}
	if _, err := creator.ApproveReset(ctx, med.ID); problemType(err) != "second-admin-required" {
		t.Fatalf("the creator approving the first password: %v", err)
	}
	// An administrator the creator made (the creator chose its password).
	if _, err := creator.CreateAccount(ctx, "made-by-creator@example.org", "Made Admin", string(policy.RoleAdmin), nodetest.Password); err != nil {
		t.Fatal(err)
	}
	made := client.New(n.URL, "")
	if _, err := made.Login(ctx, "made-by-creator@example.org", nodetest.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := made.ApproveReset(ctx, med.ID); problemType(err) != "forbidden" {
		t.Fatalf("an admin the creator made approves the first password: %v", err)
	}
	if _, ok := auditHas(t, n, "account.created", creatorAcct.ID, med.ID); !ok {
		t.Fatal("no account.created entry")
	}
	if ev, ok := auditHas(t, n, "account.password.reset.requested", creatorAcct.ID, med.ID); !ok ||
		ev.Attrs["requestedBy"] != creatorAcct.ID || ev.Attrs["reason"] != "new-account" {
		t.Fatalf("account.password.reset.requested entry: %+v %v", ev, ok)
	}
	// An independent administrator approves.
	secondAcct, second := n.Staff(t, policy.RoleAdmin, "admin-approves@example.org")
	res, err := second.ApproveReset(ctx, med.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TemporaryPassword) < 16 || !res.Account.PasswordChangeRequired || res.Account.PendingReset != nil || res.Account.NoPassword {
		t.Fatalf("the approval's answer: %+v", res)
	}
	if ev, ok := auditHas(t, n, "account.password.reset", secondAcct.ID, med.ID); !ok || ev.Attrs["requestedBy"] != creatorAcct.ID {
		t.Fatalf("account.password.reset entry: %+v %v", ev, ok)
	}
	if _, err := second.ApproveReset(ctx, med.ID); problemType(err) != "no-pending-reset" {
		t.Fatalf("approving again: %v", err)
	}
	if _, err := client.New(n.URL, "").Login(ctx, medEmail, nodetest.Password); err == nil {
		t.Fatal("the password the creator chose opens the account")
	}
	medC := client.New(n.URL, "")
	s, err := medC.Login(ctx, medEmail, res.TemporaryPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Account.PasswordChangeRequired {
		t.Fatal("the first sign-in does not say a new password is needed")
	}
	if _, err := medC.CreateCase(ctx, "Before a password", "landlord-tenant", "", []string{"Tenant", "Landlord"}); problemType(err) != "password-change-required" {
		t.Fatalf("opening a case before choosing a password: %v", err)
	}
	const own = "the new mediator's own passphrase"
	if _, err := medC.ChangePassword(ctx, res.TemporaryPassword, own); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(n.URL, "").Login(ctx, medEmail, own); err != nil {
		t.Fatalf("the mediator's own password: %v", err)
	}
	if _, err := client.New(n.URL, "").Login(ctx, medEmail, res.TemporaryPassword); err == nil {
		t.Fatal("the temporary password still works")
	}
	// A records clerk's account: the same.
	if _, err := creator.CreateAccount(ctx, "new-records@example.org", "Rita Records", string(policy.RoleRecords), nodetest.Password); problemType(err) != "invalid-input" {
		t.Fatalf("an admin choosing a records clerk's password: %v", err)
	}
	rec, err := creator.CreateAccount(ctx, "new-records@example.org", "Rita Records", string(policy.RoleRecords), "")
	if err != nil || !rec.NoPassword || rec.PendingReset == nil || rec.PendingReset.RequestedBy != creatorAcct.ID {
		t.Fatalf("a new records clerk's account: %+v %v", rec, err)
	}
	// An administrator's account still takes a password (it is required).
	if _, err := creator.CreateAccount(ctx, "admin-no-pw@example.org", "No Password", string(policy.RoleAdmin), ""); problemType(err) != "invalid-input" {
		t.Fatalf("an admin account without a password: %v", err)
	}
}

// TestCreatorCannotApproveFirstPasswordOnceRequestIsAnothers: the
// administrator who created a mediator withdraws the first-password
// request; an independent administrator requests a reset of the account;
// the creator still may not approve it (it would alone hold the first
// password of the account it created). A third independent one may.
func TestCreatorCannotApproveFirstPasswordOnceRequestIsAnothers(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, creator := n.Staff(t, policy.RoleAdmin, "creator-a@example.org")
	_, b := n.Staff(t, policy.RoleAdmin, "independent-b@example.org")
	med, err := creator.CreateAccount(ctx, "mediator-m@example.org", "Mo Mediator", string(policy.RoleMediator), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := creator.DeclineReset(ctx, med.ID); err != nil {
		t.Fatalf("the creator withdrawing its request: %v", err)
	}
	res, err := b.ResetPassword(ctx, med.ID)
	if err != nil || res.Account.PendingReset == nil {
		t.Fatalf("an independent administrator's request: %+v %v", res, err)
	}
	if _, err := creator.ApproveReset(ctx, med.ID); problemType(err) != "forbidden" {
		t.Fatalf("the creator approving another's request for the account it created: %v", err)
	}
	_, c := n.Staff(t, policy.RoleAdmin, "independent-c@example.org")
	if res, err := c.ApproveReset(ctx, med.ID); err != nil || res.TemporaryPassword == "" {
		t.Fatalf("a third, independent administrator approving: %+v %v", res, err)
	}
}
