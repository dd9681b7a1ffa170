package cases

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

func inviteID(inv IssuedInvite) string { return strings.TrimPrefix(inv.Seat, inviteSeatPrefix) }

// TestWithdrawInviteThenRedeemRefused: a withdrawn invitation is no longer
// listed as pending, and redeeming it is refused in the words of an
// expired link (ErrInviteGone). The withdrawal is audited with the
// invitation's keyed hash and never its address; withdrawing again is no
// error and is not audited again.
func TestWithdrawInviteThenRedeemRefused(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "withdrawn")
	inv := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "typo@example.com"})
	pending, err := e.svc.PendingInvites(ctx, m, c.ID)
	if err != nil || len(pending) != 1 || pending[0].ID != inviteID(inv) {
		t.Fatalf("pending: %+v, %v; want one with id %s", pending, err, inviteID(inv))
	}

	w, err := e.svc.WithdrawInvite(ctx, m, c.ID, pending[0].ID)
	if err != nil || w.Already || w.Seat != inv.Seat {
		t.Fatalf("withdraw: %+v, %v", w, err)
	}
	ev := e.lastEntry(t)
	if ev.Type != "case.invite.withdrawn" || ev.Actor != m.ID || ev.Case != c.ID || len(ev.Hashes) != 1 || ev.Hashes[0] != inviteID(inv) {
		t.Fatalf("audit: %+v", ev)
	}
	for k, v := range ev.Attrs {
		if strings.Contains(v, "typo") {
			t.Fatalf("audit names the address: %s=%s", k, v)
		}
	}
	if pending, err := e.svc.PendingInvites(ctx, m, c.ID); err != nil || len(pending) != 0 {
		t.Fatalf("pending after withdrawal: %+v, %v", pending, err)
	}
	_, err = e.svc.Join(ctx, inv.Token)
	wantIs(t, err, ErrInviteGone)
	if err.Error() != ErrInviteGone.Error() {
		t.Fatalf("a withdrawn link is refused as %q, not as an expired one", err)
	}
	n := e.log.Size()
	if w, err := e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv)); err != nil || !w.Already {
		t.Fatalf("withdrawing again: %+v, %v", w, err)
	}
	if e.log.Size() != n {
		t.Fatal("a second withdrawal was audited again")
	}
	got, err := e.svc.Get(ctx, m, c.ID)
	if err != nil || len(got.Participants) != 0 {
		t.Fatalf("participants: %+v, %v", got, err)
	}
	// Ids of no invitation, or of another case's, are not found.
	other := e.newCase(t, m, "other")
	otherInv := e.invite(t, m, other.ID, NewInvite{Role: RoleObserver, Name: "Obi"})
	for _, id := range []string{"", "../cases/x", strings.Repeat("0", 32), inviteID(otherInv)} {
		_, err := e.svc.WithdrawInvite(ctx, m, c.ID, id)
		wantIs(t, err, fault.ErrNotFound)
	}
	if _, err := e.svc.Join(ctx, otherInv.Token); err != nil {
		t.Fatalf("the other case's invitation: %v", err)
	}
}

// TestWithdrawInviteClaimedConflict: a used invitation is not withdrawn;
// the answer is a conflict in words (remove the person instead).
func TestWithdrawInviteClaimedConflict(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "claimed")
	inv := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat"})
	if _, err := e.svc.Join(ctx, inv.Token); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv))
	wantIs(t, err, ErrInviteClaimed)
	wantIs(t, err, fault.ErrConflict)
	if !strings.HasPrefix(err.Error(), "already joined: remove the person instead") {
		t.Fatalf("words: %q", err)
	}
	// Claimed and not yet completed (a Join in progress) is refused too,
	// in its own words: try again in a minute.
	inv2 := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam"})
	e.claim(t, inv2.Token)
	_, err = e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv2))
	wantIs(t, err, ErrInviteBeingJoined)
	wantIs(t, err, fault.ErrConflict)
}

// TestWithdrawInviteOpenedNotFinished: an invitation whose join stopped
// after its claim (a refused duplicate under an earlier build, an
// interrupted join) and whose claim is older than the lease is listed as
// pending and can be withdrawn, and its holder can then no longer finish
// it. Before (review 240), a second invitation to someone already in the
// case, opened by whoever read the mistyped address, was refused as a
// duplicate but kept its claim: it left the pending list, withdrawing it
// answered "already joined: remove the person instead", and once the
// mediator did remove that person the link's holder joined in their
// place. The duplicate is now refused before anything is claimed.
func TestWithdrawInviteOpenedNotFinished(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "half-used")
	typo := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "pat@exampel.com"})
	right := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "pat@example.com"})
	if _, err := e.svc.Join(ctx, right.Token); err != nil {
		t.Fatal(err)
	}
	// Whoever reads the mistyped address opens the first link.
	_, err := e.svc.Join(ctx, typo.Token)
	wantIs(t, err, ErrAlreadyJoined)
	pending, err := e.svc.PendingInvites(ctx, m, c.ID)
	if err != nil || len(pending) != 1 || pending[0].ID != inviteID(typo) {
		t.Fatalf("pending after a refused duplicate: %+v, %v; want the mistyped invitation, still withdrawable", pending, err)
	}
	if _, err := e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(typo)); err != nil {
		t.Fatalf("withdrawing the refused duplicate: %v", err)
	}
	_, err = e.svc.Join(ctx, typo.Token)
	wantIs(t, err, ErrInviteGone)

	// A claim left by an earlier build (or an interrupted join) whose
	// account is not in the case, older than the lease: listed, and
	// withdrawn; its holder cannot finish it.
	stale := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Ada"})
	old := e.svc.now().UTC().Add(-2 * claimLease)
	if _, err := metastore.Update(ctx, e.meta, e.svc.inviteKey(stale.Token), func(inv *Invite) error {
		inv.ClaimedBy, inv.Claimed = ids.New("u"), &old
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pending, err = e.svc.PendingInvites(ctx, m, c.ID)
	if err != nil || len(pending) != 1 || pending[0].ID != inviteID(stale) {
		t.Fatalf("pending with a stale claim: %+v, %v", pending, err)
	}
	if _, err := e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(stale)); err != nil {
		t.Fatalf("withdrawing a stale claim: %v", err)
	}
	_, err = e.svc.Join(ctx, stale.Token)
	wantIs(t, err, ErrInviteGone)
	got, err := e.svc.Get(ctx, m, c.ID)
	if err != nil || len(got.Participants) != 1 {
		t.Fatalf("participants: %+v, %v; want Pat alone", got.Participants, err)
	}
}

// TestWithdrawInviteRacingJoin: a withdrawal and a Join of the same
// invitation, started together: exactly one wins, every time. The Join
// that loses gets ErrInviteGone; the withdrawal that loses gets
// ErrInviteClaimed.
func TestWithdrawInviteRacingJoin(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "race")
	joins, withdrawals := 0, 0
	for i := range 12 {
		inv := e.invite(t, m, c.ID, NewInvite{Role: RoleObserver, Name: "Obi " + string(rune('A'+i))})
		var jerr, werr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; _, jerr = e.svc.Join(ctx, inv.Token) })
		wg.Go(func() { <-start; _, werr = e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv)) })
		close(start)
		wg.Wait()
		switch {
		case jerr == nil && (errors.Is(werr, ErrInviteClaimed) || errors.Is(werr, ErrInviteBeingJoined)):
			joins++
		case werr == nil && errors.Is(jerr, ErrInviteGone):
			withdrawals++
		default:
			t.Fatalf("round %d: join %v, withdrawal %v: want exactly one winner", i, jerr, werr)
		}
	}
	got, err := e.svc.Get(ctx, m, c.ID)
	if err != nil || len(got.Participants) != joins {
		t.Fatalf("%d participants after %d winning joins (%d withdrawals): %v", len(got.Participants), joins, withdrawals, err)
	}
	t.Logf("%d joins won, %d withdrawals won", joins, withdrawals)
}

// TestWithdrawInviteOnlySeatedMediators: who may invite may withdraw — a
// mediator the signed membership seats. A co-mediator nobody confirmed is
// refused (ErrNotConfirmed, audited as access.denied by the unadmitted
// rule), and so are a participant and a mediator of another case.
func TestWithdrawInviteOnlySeatedMediators(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	ann := e.stored(t, policy.RoleMediator, "ann@example.org", nil)
	c := e.newCase(t, mia, "Flat 3")
	pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	e.svc.Membership = seatedIn{mia.ID}
	inv := e.invite(t, mia, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam"})

	_, err := e.svc.WithdrawInvite(ctx, max, c.ID, inviteID(inv))
	wantIs(t, err, ErrNotConfirmed)
	if ev := e.lastEntry(t); ev.Type != "access.denied" || ev.Actor != max.ID || ev.Attrs["rule"] != ruleUnadmitted {
		t.Fatalf("audited as %+v", ev)
	}
	for _, who := range []struct {
		name string
		id   string
	}{{"a party", pat.ID}, {"another case's mediator", ann.ID}} {
		a, err := e.accounts.Get(ctx, who.id)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.WithdrawInvite(ctx, a, c.ID, inviteID(inv))
		if err == nil || !(errors.Is(err, fault.ErrForbidden) || errors.Is(err, fault.ErrNotFound)) {
			t.Fatalf("%s withdrew: %v", who.name, err)
		}
	}
	// Still usable: nobody withdrew it.
	var stored Invite
	if _, err := e.meta.Get(ctx, "invites/"+inviteID(inv), &stored); err != nil || stored.Withdrawn != nil {
		t.Fatalf("record: %+v, %v", stored, err)
	}
	e.svc.Membership = seatedIn{mia.ID, max.ID}
	if _, err := e.svc.WithdrawInvite(ctx, max, c.ID, inviteID(inv)); err != nil {
		t.Fatalf("the confirmed co-mediator's withdrawal: %v", err)
	}
}

// TestWithdrawInviteAuditedOnRetry: a withdrawal whose audit entry
// cannot be appended fails, though the invitation is withdrawn (its link
// is refused); withdrawing it again once the log takes writes appends the
// entry — its withdrawer's, at the withdrawal's time — and a third
// withdrawal appends nothing: one case.invite.withdrawn entry in all.
// Before the mark, the retry found it withdrawn and appended nothing: no
// entry, ever.
func TestWithdrawInviteAuditedOnRetry(t *testing.T) {
	e, fo, _ := outboxEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "withdrawn, audited late")
	inv := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "typo@example.com"})
	from := e.log.Size()
	fo.down.Store(true)
	if _, err := e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv)); err == nil {
		t.Fatal("a withdrawal whose audit entry failed answered success")
	}
	fo.down.Store(false)
	if n := count(e.entryTypes(t, from), "case.invite.withdrawn"); n != 0 {
		t.Fatalf("%d withdrawal entries with the log down", n)
	}
	_, err := e.svc.Join(ctx, inv.Token)
	wantIs(t, err, ErrInviteGone)
	w, err := e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv))
	if err != nil || !w.Already || w.Seat != inv.Seat {
		t.Fatalf("the retry: %+v, %v", w, err)
	}
	if _, err := e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv)); err != nil {
		t.Fatalf("a third withdrawal: %v", err)
	}
	var withdrawn []int64
	for i := from; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "case.invite.withdrawn" {
			withdrawn = append(withdrawn, i)
			if ev.Actor != m.ID || ev.Case != c.ID || len(ev.Hashes) != 1 || ev.Hashes[0] != inviteID(inv) {
				t.Fatalf("the withdrawal's entry: %+v", ev)
			}
		}
	}
	if len(withdrawn) != 1 {
		t.Fatalf("%d case.invite.withdrawn entries, want 1", len(withdrawn))
	}
	var rec Invite
	if _, err := e.meta.Get(ctx, "invites/"+inviteID(inv), &rec); err != nil || rec.WithdrawnUnaudited || rec.Withdrawn == nil {
		t.Fatalf("the invitation record: %+v, %v; want withdrawn, audited", rec, err)
	}
}

// TestWithdrawInviteAuditedBySweep: a withdrawal whose audit entry
// failed, and that nobody withdraws again, is audited by the audit sweep
// once it is no longer its request's own (StaleAfter): one
// case.invite.withdrawn entry, the case's marker cleared; a later
// withdrawal appends nothing more.
func TestWithdrawInviteAuditedBySweep(t *testing.T) {
	e, fo, clk := outboxEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "withdrawn, swept")
	inv := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "typo@example.com"})
	from := e.log.Size()
	fo.down.Store(true)
	if _, err := e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv)); err == nil {
		t.Fatal("a withdrawal whose audit entry failed answered success")
	}
	fo.down.Store(false)
	if !e.marked(t, c.ID) {
		t.Fatal("the case is not marked for the audit sweep")
	}
	// Still the request's own: the sweep leaves it, and the marker.
	if _, err := e.svc.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(e.entryTypes(t, from), "case.invite.withdrawn"); n != 0 || !e.marked(t, c.ID) {
		t.Fatalf("a young withdrawal swept: %d entries, marked %v", n, e.marked(t, c.ID))
	}
	clk.advance(StaleAfter + time.Second)
	if _, err := e.svc.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(e.entryTypes(t, from), "case.invite.withdrawn"); n != 1 {
		t.Fatalf("%d case.invite.withdrawn entries after the sweep, want 1", n)
	}
	if e.marked(t, c.ID) {
		t.Fatal("the case's marker stays after the sweep")
	}
	if w, err := e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv)); err != nil || !w.Already {
		t.Fatalf("withdrawing again: %+v, %v", w, err)
	}
	if n := count(e.entryTypes(t, from), "case.invite.withdrawn"); n != 1 {
		t.Fatalf("%d case.invite.withdrawn entries after withdrawing again, want 1", n)
	}
}
