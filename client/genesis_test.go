package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

// postGenesis has evil's device sign the case's first statement for the
// people of the case record plus mediators, and the server store it.
func postGenesis(t *testing.T, tc *e2eeCase, evilC *client.Client, evil *client.E2EE, mediators ...string) {
	t.Helper()
	ctx := context.Background()
	k, err := tc.med.c.Case(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	var sides []string
	for _, s := range k.Sides {
		sides = append(sides, s.ID)
	}
	var people []e2ee.Person
	for _, m := range mediators {
		people = append(people, e2ee.Person{Account: m, Role: e2ee.RoleMediator})
	}
	for _, p := range k.Participants {
		people = append(people, e2ee.Person{Account: p.AccountID, Role: string(p.Role), Side: p.Side})
	}
	st := e2ee.StatementFor(tc.caseID, people, sides, map[string]int64{})
	st.Seq = 1
	raw, err := st.Sign(evil.Me)
	if err != nil {
		t.Fatal(err)
	}
	// The key directory refuses it (only the case's opener signs the
	// first statement, naming itself alone): the server plays it by
	// writing it into its store directly.
	var v any
	err = evilC.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/e2ee/statements", api.RecordRequest{Record: raw}, &v)
	if ae := (*client.Error)(nil); !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Fatalf("the key directory took a first statement from a mediator who is not the case's opener: %v", err)
	}
	if err := putStatement(ctx, tc, 1, raw); err != nil {
		t.Fatalf("store genesis: %v", err)
	}
}

// TestServerSignedGenesisRefused (review): the server lists an account S of
// its own as a mediator before any statement, and S's device signs the
// case's first statement naming the real mediator M and S. Were it
// accepted, M's client would find S "sitting" and never ask a person to
// admit it. A first statement names exactly one mediator, its signer
// (e2ee's checkGenesis): M's client and A's client refuse the chain, and S
// reads nothing of what A says.
func TestServerSignedGenesisRefused(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	evilAcct, evilC := n.Staff(t, policy.RoleMediator, "evil-g@example.org")
	_, evil := newDevice(t, evilC, evilAcct.ID, e2ee.KEMX25519)
	serverAddsMediator(t, n, tc.caseID, evilAcct.ID)
	postGenesis(t, tc, evilC, evil, tc.med.id, evilAcct.ID)

	for _, p := range []person{tc.med, tc.a} {
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		s, err := p.x.OpenSecureChat(octx, tc.caseID, client.SecureOptions{StatementWait: 2 * time.Second})
		cancel()
		if err == nil {
			_, err = s.Send(ctx, "caucus:A", "A's secret")
			s.Close()
		}
		if !errors.Is(err, e2ee.ErrMembership) || !strings.Contains(err.Error(), "first statement names mediator") {
			t.Fatalf("%s: the forged first statement was not refused: %v", p.id, err)
		}
	}
	// S's own client refuses the chain too; whatever is in caucus:A, none
	// of it opens for S.
	evs, err := evil.ReadRoom(ctx, tc.caseID, "caucus:A", messaging.Position{})
	for _, ev := range evs {
		if ev.Rejected == nil && ev.Text != "" {
			t.Fatalf("the server's account read caucus:A: %q", ev.Text)
		}
	}
	t.Logf("S reading caucus:A: %d events, %v", len(evs), err)
}

// TestGenesisStartedElsewhere: the residual of trust on first use — S
// signs a first statement naming only S before M's device signs one. M's
// client does not take it silently: it says the case's conversation was
// started by someone else's device and signs nothing.
func TestGenesisStartedElsewhere(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	evilAcct, evilC := n.Staff(t, policy.RoleMediator, "evil-g2@example.org")
	_, evil := newDevice(t, evilC, evilAcct.ID, e2ee.KEMX25519)
	serverAddsMediator(t, n, tc.caseID, evilAcct.ID)
	postGenesis(t, tc, evilC, evil, evilAcct.ID)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := tc.med.x.OpenSecureChat(ctx, tc.caseID, client.SecureOptions{StatementWait: 2 * time.Second})
	if err == nil {
		defer s.Close()
		_, err = s.Send(ctx, "joint", "hello")
	}
	if err == nil || !strings.Contains(err.Error(), "started by someone else's device") {
		t.Fatalf("M's client on a chain someone else started: %v", err)
	}
}
