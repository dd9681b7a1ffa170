package floor_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/floor"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// TestRoomNameOutsideGrammarNotAudited: a room control naming no room of
// the grammar (a sentence under the length bound, a near miss) is invalid
// and audits nothing, so the log never holds it; a well-formed room of
// another side is refused and audited under its name.
func TestRoomNameOutsideGrammarNotAudited(t *testing.T) {
	ctx := t.Context()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	meta, err := metastore.New(store, key)
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("parley floor test audit key"))
	signer, err := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(ctx, store, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New()
	if err != nil {
		t.Fatal(err)
	}
	cs := cases.NewService(meta, account.NewService(meta, ratelimit.NewMemory()), pol, log)
	fl := floor.New(floor.Config{Meta: meta, Cases: cs, Policy: pol, Audit: log, Broker: messaging.NewMemory()})
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
