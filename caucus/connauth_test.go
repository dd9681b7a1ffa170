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

// TestConnAuthAnswersInDoubt: a connection's authorizer serves a cached
// answer without reading the case; after Invalidate (an access change was
// announced) it serves none of them until decided again — Resolve reads
// afresh, so with case reads failing it decides nothing rather than
// answering from before the change. Redecide decides every answer in
// doubt again from one read and caches those still allowed (served with
// case reads failing again) and drops those refused (the room closed: its
// post is not served, and once the store answers it is refused). Answers
// from a read that began before the latest Invalidate are never cached.
func TestConnAuthAnswersInDoubt(t *testing.T) {
	e := newRoomsEnv(t)
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	tenant := account.Account{ID: ids.New("u"), Name: "Tara", Role: policy.RoleParticipant}
	c := e.tenancyCase(t, med, func(k *cases.Case) {
		k.Participants = append(k.Participants, cases.Participant{AccountID: tenant.ID, Name: tenant.Name, Role: cases.RoleParty, Side: k.Sides[0].ID})
	})
	r, err := e.rooms.OpenRoom(ctx, med, c.ID, cases.NewRoom{Label: "Tara alone", Members: []string{med.ID, tenant.ID}})
	if err != nil {
		t.Fatal(err)
	}
	room := cases.RoomName(r)
	auth := e.rooms.Authorizer(tenant, c.ID).(*connAuth)
	down := func() { e.store.fail("cases/", -1, 0) }
	up := func() { e.store.fail("", 0, 0) }
	undecided := func(err error) bool {
		return err != nil && !errors.Is(err, messaging.ErrForbidden) && !errors.Is(err, messaging.ErrAccessLost)
	}
	for _, name := range []string{JointName, room} {
		if _, err := auth.Resolve(ctx, name, "post"); err != nil {
			t.Fatalf("post %s: %v", name, err)
		}
	}
	down()
	if _, err := auth.Resolve(ctx, JointName, "post"); err != nil {
		t.Fatalf("a cached answer read the case: %v", err)
	}
	auth.Invalidate()
	if _, err := auth.Resolve(ctx, JointName, "post"); !undecided(err) {
		t.Fatalf("an answer in doubt, with the case unreadable: %v; want it decided afresh (and nothing decided)", err)
	}
	up()
	if _, err := e.rooms.CloseRoom(ctx, med, c.ID, room); err != nil {
		t.Fatal(err)
	}
	if errs := auth.Redecide(ctx, []string{JointName}); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("redecide: %v", errs)
	}
	down()
	for _, action := range []string{"post", "join"} {
		if _, err := auth.Resolve(ctx, JointName, action); err != nil {
			t.Fatalf("%s joint after Redecide read the case: %v", action, err)
		}
	}
	if _, err := auth.Resolve(ctx, room, "post"); !undecided(err) {
		t.Fatalf("post in the closed room after Redecide: %v; want the old answer dropped (decided afresh)", err)
	}
	up()
	if _, err := auth.Resolve(ctx, room, "post"); !errors.Is(err, messaging.ErrForbidden) {
		t.Fatalf("post in the closed room: %v, want refused", err)
	}
	// A decision whose read began before an Invalidate is not cached.
	auth.mu.Lock()
	gen := auth.gen
	auth.mu.Unlock()
	auth.Invalidate()
	auth.remember(gen, map[authKey]messaging.Room{{"post", JointName}: {ID: c.ID + "/joint", Name: JointName}}, nil)
	down()
	if _, err := auth.Resolve(ctx, JointName, "post"); !undecided(err) {
		t.Fatalf("an answer read before the latest Invalidate was served: %v", err)
	}
	up()
}

// TestRedecideCaseGoneLosesTheCase: a re-check that finds the case gone
// answers every room "access lost" (the socket closes, frames it held
// unwritten), not a refusal of each room, after which a socket dropped
// the rooms one by one and wrote the frames it held for the person
// (review 248).
func TestRedecideCaseGoneLosesTheCase(t *testing.T) {
	e := newRoomsEnv(t)
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	tenant := account.Account{ID: ids.New("u"), Name: "Tara", Role: policy.RoleParticipant}
	c := e.tenancyCase(t, med, func(k *cases.Case) {
		k.Participants = append(k.Participants, cases.Participant{AccountID: tenant.ID, Name: tenant.Name, Role: cases.RoleParty, Side: k.Sides[0].ID})
	})
	auth := e.rooms.Authorizer(tenant, c.ID).(*connAuth)
	if _, err := auth.Resolve(ctx, JointName, "join"); err != nil {
		t.Fatal(err)
	}
	if err := e.meta.Delete(ctx, "cases/"+c.ID+"/case"); err != nil {
		t.Fatal(err)
	}
	auth.Invalidate()
	errs := auth.Redecide(ctx, []string{JointName, "caucus:" + c.Sides[0].ID})
	for i, err := range errs {
		if !errors.Is(err, messaging.ErrAccessLost) {
			t.Errorf("room %d with the case gone: %v, want access lost", i, err)
		}
	}
}
