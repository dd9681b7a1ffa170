package floor_test

import (
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// TestHandInADefinedRoomOnlyItsMediatorsSee: a hand raised in a room one
// mediator opened with a party is seen by that mediator and not by a
// co-mediator left out of the room (who is not told the room exists).
func TestHandInADefinedRoomOnlyItsMediatorsSee(t *testing.T) {
	ctx := t.Context()
	_, meta, _, _, cs, fl := newWorld(t)

	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	med2 := account.Account{ID: ids.New("u"), Name: "Max", Role: policy.RoleMediator}
	tenant := account.Account{ID: ids.New("u"), Name: "Tara", Role: policy.RoleParticipant}
	c, err := cs.Create(ctx, med, cases.NewCase{Title: "Hands", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metastore.Update(ctx, meta, "cases/"+c.ID+"/case", func(k *cases.Case) error {
		k.Mediators = append(k.Mediators, cases.Mediator{AccountID: med2.ID, Name: med2.Name})
		k.Participants = append(k.Participants, cases.Participant{AccountID: tenant.ID, Name: tenant.Name, Role: cases.RoleParty, Side: c.Sides[0].ID})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Both seated (a co-mediator nobody confirmed sees no hand at all:
	// TestUnconfirmedMediatorControlsNoRoom).
	cs.Membership = &seats{seated: []string{med.ID, med2.ID}}
	room, err := cs.OpenRoom(ctx, med, c.ID, cases.NewRoom{Label: "Tara alone", Members: []string{med.ID, tenant.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fl.RaiseHand(ctx, tenant, c.ID, room.Room); err != nil {
		t.Fatal(err)
	}
	if _, err := fl.RaiseHand(ctx, tenant, c.ID, "joint"); err != nil {
		t.Fatal(err)
	}
	hands := func(who account.Account) map[string]bool {
		v, err := fl.View(ctx, who, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, h := range v.Hands {
			out[h.Room] = true
		}
		return out
	}
	if got := hands(med); !got[room.Room] || !got["joint"] {
		t.Fatalf("the room's mediator sees hands in %v, want the room and joint", got)
	}
	if got := hands(med2); got[room.Room] || !got["joint"] {
		t.Fatalf("a mediator left out of the room sees hands in %v, want joint only", got)
	}
}
