package caucus

import (
	"errors"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

// A case retention is disposing of takes no more messages: the right to
// post is refused (the right to join, to read what is there, is not).
func TestFencedCaseTakesNoPost(t *testing.T) {
	e := newRoomsEnv(t)
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	tenant := account.Account{ID: ids.New("u"), Name: "Tara", Role: policy.RoleParticipant}
	c := e.tenancyCase(t, med, func(k *cases.Case) {
		k.Participants = append(k.Participants, cases.Participant{AccountID: tenant.ID, Name: tenant.Name, Role: cases.RoleParty, Side: k.Sides[0].ID})
	})
	if _, err := e.rooms.Authorizer(tenant, c.ID).Resolve(ctx, "joint", "post"); err != nil {
		t.Fatalf("post before the fence: %v", err)
	}
	if _, err := e.cases.BeginDisposal(ctx, c.ID, "p_test"); err != nil {
		t.Fatal(err)
	}
	_, err := e.rooms.Authorizer(tenant, c.ID).Resolve(ctx, "joint", "post")
	if !errors.Is(err, messaging.ErrForbidden) || !errors.Is(err, cases.ErrNothingAdded) {
		t.Fatalf("post in a fenced case: %v", err)
	}
	if _, err := e.rooms.Authorizer(tenant, c.ID).Resolve(ctx, "joint", "join"); err != nil {
		t.Fatalf("join in a fenced case: %v", err)
	}
}
