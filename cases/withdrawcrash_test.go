package cases

import (
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// errKilled stands for the node dying (kill -9): nothing after the write
// that raises it runs.
type errKilled struct{}

// A node dies right after the write that marks an invitation withdrawn
// (and its withdrawal unaudited), before the audit append: the sweep's
// marker, written before that write, sends the audit sweep to the case,
// which appends the entry once the withdrawal is StaleAfter old.
func TestWithdrawInviteKilledBeforeItsEntryIsAuditedBySweep(t *testing.T) {
	hs := &hookStore{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { hs.Store = s; return hs })
	clk := &skewClock{}
	e.svc.SetClock(clk.now)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "withdrawn, killed")
	inv := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "typo@example.com"})
	from := e.log.Size()
	hs.setAfterPut(func(key string) {
		if key == "invites/"+inviteID(inv) {
			panic(errKilled{})
		}
	})
	func() {
		defer func() {
			if r := recover(); r != (errKilled{}) {
				panic(r)
			}
		}()
		_, _ = e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv))
		t.Fatal("the withdrawal's write did not happen")
	}()
	hs.setAfterPut(nil)
	if !e.marked(t, c.ID) {
		t.Fatal("a withdrawal killed before its audit append left no marker for the audit sweep")
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
}

// The sweep passing between a withdrawal's marker and its write keeps the
// marker while it is young (the write may be still to come), and drops
// it once StaleAfter old with nothing to append.
func TestSweepKeepsAYoungWithdrawalMarker(t *testing.T) {
	e, _, clk := outboxEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "marker before the write")
	if err := e.svc.markWithdrawing(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !e.marked(t, c.ID) {
		t.Fatal("the sweep dropped a withdrawal's marker written just now")
	}
	clk.advance(StaleAfter + time.Second)
	if _, err := e.svc.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if e.marked(t, c.ID) {
		t.Fatal("a withdrawal's marker stays once StaleAfter old with nothing to append")
	}
}
