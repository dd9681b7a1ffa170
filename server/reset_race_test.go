package server_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestConcurrentAskAgainAuditsWhatLanded: two administrators asking at
// once for the reset of a mediator whose waiting request is stale. Only
// one new request can stand; every account.password.reset.requested
// entry not followed by its .failed correction names, as requestedBy, the
// requester that is stored, and at most one says it replaced the stale
// request (attr replaced, naming its requester). Repeated over bounded
// rounds, each making the request stale again by the node's clock.
func TestConcurrentAskAgainAuditsWhatLanded(t *testing.T) {
	var skew atomic.Int64
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), Clock: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	ctx := t.Context()
	_, first := n.Staff(t, policy.RoleAdmin, "first@example.org")
	emails := []string{"b@example.org", "c@example.org"}
	var admins []*client.Client
	for _, e := range emails {
		_, c := n.Staff(t, policy.RoleAdmin, e)
		admins = append(admins, c)
	}
	med, _ := n.Staff(t, policy.RoleMediator, "med@example.org")
	if _, err := first.ResetPassword(ctx, med.ID); err != nil {
		t.Fatal(err)
	}
	for round := range 8 {
		skew.Add(int64(account.ResetRequestLifetime + time.Hour))
		for i, c := range admins { // their sessions went idle meanwhile
			if _, err := c.Login(ctx, emails[i], nodetest.Password); err != nil {
				t.Fatal(err)
			}
		}
		before := n.Audit.Size()
		var wg sync.WaitGroup
		for _, c := range admins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = c.ResetPassword(ctx, med.ID) // one may be refused: the request changed meanwhile
			}()
		}
		wg.Wait()
		stored, err := n.Accounts.Get(ctx, med.ID)
		if err != nil || stored.PendingReset == nil {
			t.Fatalf("round %d: the stored request: %v", round, err)
		}
		var requested []audit.Event
		failed := map[string]bool{}
		for i := before; i < n.Audit.Size(); i++ {
			ev, err := n.Audit.Entry(context.Background(), i)
			if err != nil {
				t.Fatal(err)
			}
			switch ev.Type {
			case "account.password.reset.requested":
				requested = append(requested, ev)
			case "account.password.reset.requested.failed":
				failed[ev.Attrs[audit.OpAttr]] = true
			}
		}
		replaced := 0
		for _, ev := range requested {
			if failed[ev.Attrs[audit.OpAttr]] {
				continue
			}
			if ev.Attrs["requestedBy"] != stored.PendingReset.RequestedBy {
				t.Fatalf("round %d: an entry by %s says requestedBy %s; the stored request is %s's", round, ev.Actor, ev.Attrs["requestedBy"], stored.PendingReset.RequestedBy)
			}
			if ev.Attrs["replaced"] != "" {
				replaced++
			}
		}
		if replaced != 1 {
			t.Fatalf("round %d: %d entries say they replaced the stale request; want 1: %+v", round, replaced, requested)
		}
	}
}
