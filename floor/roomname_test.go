package floor_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// TestRoomNameOutsideGrammarNotAudited: a room control naming no room of
// the grammar (a sentence under the length bound, a near miss) is invalid
// and audits nothing, so the log never holds it; a well-formed room of
// another side is refused and audited under its name.
func TestRoomNameOutsideGrammarNotAudited(t *testing.T) {
	ctx := t.Context()
	_, meta, log, _, cs, fl := newWorld(t)
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	tenant := account.Account{ID: ids.New("u"), Name: "Tara", Role: policy.RoleParticipant}
	c, err := cs.Create(ctx, med, cases.NewCase{Title: "Hands", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metastore.Update(ctx, meta, "cases/"+c.ID+"/case", func(k *cases.Case) error {
		k.Participants = append(k.Participants, cases.Participant{AccountID: tenant.ID, Name: tenant.Name, Role: cases.RoleParty, Side: c.Sides[0].ID})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Tara would accept 40000", "caucus:a", "room:r1", strings.Repeat("y", 300)} {
		before := log.Size()
		if _, err := fl.RaiseHand(ctx, tenant, c.ID, name); !errors.As(err, new(*fault.InvalidError)) {
			t.Errorf("RaiseHand(%q): %v, want invalid", name, err)
		}
		if log.Size() != before {
			t.Errorf("RaiseHand(%q) audited %d entries", name, log.Size()-before)
		}
	}
	before := log.Size()
	if _, err := fl.RaiseHand(ctx, tenant, c.ID, "caucus:B"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("RaiseHand in the other side's caucus: %v, want not found", err)
	}
	ev, err := log.Entry(ctx, before)
	if err != nil || ev.Type != "access.denied" || ev.Attrs["room"] != "caucus:B" {
		t.Fatalf("the refusal is audited as %+v (%v)", ev, err)
	}
}
