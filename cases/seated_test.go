package cases

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// TestOnlySeatedMediatorsAddPeople: a mediator adds people to a case —
// an invitation, a link back in — only if the case's signed membership
// seats them (MembershipReader; the key directory in a server: web
// TestInviteNeedsASeatedMediator, client
// TestUnadmittedMediatorInviteGetsNoCaucusKey). A co-mediator on the
// record whom no sitting mediator confirmed is refused with
// ErrNotConfirmed; with no statement yet, every mediator of a case with
// two is refused (ErrNotOpenYet), its only mediator is not. Each refusal
// is audited as access.denied naming the action and the rule.
func TestOnlySeatedMediatorsAddPeople(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	c := e.newCase(t, mia, "Flat 3")
	// No statement and one mediator: she adds people.
	pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error, want error, actor string, action policy.Action) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v; want %v", what, err, want)
		}
		ev := e.lastEntry(t)
		if ev.Type != "access.denied" || ev.Actor != actor || ev.Case != c.ID || ev.Attrs["action"] != string(action) || ev.Attrs["rule"] != ruleUnadmitted {
			t.Fatalf("%s audited as %+v", what, ev)
		}
	}
	for _, who := range []struct {
		name string
		acct account.Account
	}{{"Mia", mia}, {"Max", max}} {
		_, err := e.svc.CreateInvite(ctx, who.acct, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam"})
		refused(who.name+"'s invitation, no statement, two mediators", err, ErrNotOpenYet, who.acct.ID, policy.CaseInvite)
		_, err = e.svc.CreateReentry(ctx, who.acct, c.ID, pat.ID, 0)
		refused(who.name+"'s link back in, no statement, two mediators", err, ErrNotOpenYet, who.acct.ID, policy.CaseReentry)
	}

	e.svc.Membership = seatedIn{mia.ID}
	if _, err := e.svc.CreateInvite(ctx, mia, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam"}); err != nil {
		t.Fatalf("the seated mediator's invitation: %v", err)
	}
	if _, err := e.svc.CreateReentry(ctx, mia, c.ID, pat.ID, 0); err != nil {
		t.Fatalf("the seated mediator's link back in: %v", err)
	}
	_, err := e.svc.CreateInvite(ctx, max, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "P"})
	refused("Max's invitation, not seated", err, ErrNotConfirmed, max.ID, policy.CaseInvite)
	_, err = e.svc.CreateReentry(ctx, max, c.ID, pat.ID, 0)
	refused("Max's link back in, not seated", err, ErrNotConfirmed, max.ID, policy.CaseReentry)

	e.svc.Membership = seatedIn{mia.ID, max.ID}
	if _, err := e.svc.CreateInvite(ctx, max, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "P"}); err != nil {
		t.Fatalf("the confirmed co-mediator's invitation: %v", err)
	}
}

// TestUnconfirmedMediatorChangesNobody: a co-mediator on the record whom
// no seated mediator has confirmed cannot recuse the seated mediator (who
// alone could sign the membership: after that nobody could), add a
// mediator or take a participant out; each refusal is audited as
// access.denied naming the action and the rule, and says in words what
// they wait for (ErrUnconfirmed). They may still withdraw themselves.
// Once admitted, they do all of it. Before any statement, the case's
// opener is the confirmed one (Admission).
func TestUnconfirmedMediatorChangesNobody(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	kim := e.stored(t, policy.RoleMediator, "kim@example.org", nil)
	c := e.newCase(t, mia, "Flat 4")
	pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error, action policy.Action) {
		t.Helper()
		if !errors.Is(err, ErrUnconfirmed) || !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("%s: %v; want a refusal for an unconfirmed mediator", what, err)
		}
		if strings.Contains(err.Error(), "unconfirmed-mediators") {
			t.Fatalf("%s: the words name a rule: %v", what, err)
		}
		ev := e.lastEntry(t)
		if ev.Type != "access.denied" || ev.Actor != max.ID || ev.Case != c.ID || ev.Attrs["action"] != string(action) || ev.Attrs["rule"] != RuleUnconfirmedCase {
			t.Fatalf("%s audited as %+v", what, ev)
		}
	}
	tryAll := func(stage string) {
		t.Helper()
		_, err := e.svc.Recuse(ctx, max, c.ID, mia.ID, "conflict of interest")
		refused(stage+": Max recuses Mia", err, policy.CaseRecuse)
		_, err = e.svc.AddMediator(ctx, max, c.ID, kim.ID)
		refused(stage+": Max adds Kim", err, policy.CaseAddMediator)
		_, err = e.svc.RemoveParticipant(ctx, max, c.ID, pat.ID)
		refused(stage+": Max takes Pat out", err, policy.CaseRemoveParticipant)
	}
	// No statement: Mia, the opener, is the confirmed one.
	tryAll("no statement")
	// A statement seating Mia alone.
	e.svc.Membership = seatedIn{mia.ID}
	tryAll("not admitted")

	e.svc.Membership = seatedIn{mia.ID, max.ID}
	e.svc.ForgetSeats(c.ID)
	if _, err := e.svc.AddMediator(ctx, max, c.ID, kim.ID); err != nil {
		t.Fatalf("the admitted co-mediator adds Kim: %v", err)
	}
	// Kim is on the record, not in the statement: unconfirmed at once.
	if _, err := e.svc.Recuse(ctx, kim, c.ID, max.ID, "conflict of interest"); !errors.Is(err, ErrUnconfirmed) {
		t.Fatalf("Kim, just added, recuses Max: %v", err)
	}
	// Withdrawing oneself needs no confirmation.
	if _, err := e.svc.Recuse(ctx, kim, c.ID, kim.ID, "conflict of interest"); err != nil {
		t.Fatalf("Kim withdraws: %v", err)
	}
	if _, err := e.svc.RemoveParticipant(ctx, max, c.ID, pat.ID); err != nil {
		t.Fatalf("the admitted co-mediator takes Pat out: %v", err)
	}
	if _, err := e.svc.Recuse(ctx, max, c.ID, mia.ID, "conflict of interest"); err != nil {
		t.Fatalf("the admitted co-mediator recuses Mia: %v", err)
	}
}

// TestAdmissionBeforeAnyStatement: before a case's first membership
// statement, its opener alone counts as confirmed (Admission): the
// mediator who created it, or, once they are gone, the one longest on it.
func TestAdmissionBeforeAnyStatement(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	c := e.newCase(t, mia, "Flat 5")
	got, err := e.svc.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil || len(got.Facts().Unconfirmed) != 0 {
		t.Fatalf("one mediator: %v, %v", got.Facts().Unconfirmed, err)
	}
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	if got, err = e.svc.Load(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil || !slices.Equal(got.Facts().Unconfirmed, []string{max.ID}) {
		t.Fatalf("two mediators, no statement: %v, %v", got.Facts().Unconfirmed, err)
	}
	if _, err := e.svc.Recuse(ctx, mia, c.ID, mia.ID, "conflict of interest"); err != nil {
		t.Fatal(err)
	}
	if got, err = e.svc.Load(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil || len(got.Facts().Unconfirmed) != 0 {
		t.Fatalf("Mia gone, Max the only mediator: %v, %v", got.Facts().Unconfirmed, err)
	}
}

// TestAdmissionOnceTheSeatedMediatorsLeft: in a signed case, once every
// mediator the statement seats has left (recused), nobody could confirm
// the active ones, so none is unconfirmed: the program's reassignment of
// an orphaned case (the assigned mediator reads what policy gives a
// mediator) works after the conversation was opened, as before it
// (review 360). A recused mediator is never counted as waiting.
func TestAdmissionOnceTheSeatedMediatorsLeft(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	c := e.newCase(t, mia, "Flat 6")
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	e.svc.Membership = seatedIn{mia.ID}
	got, err := e.svc.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil || !slices.Equal(got.Facts().Unconfirmed, []string{max.ID}) {
		t.Fatalf("Mia seated, Max not: %v, %v", got.Facts().Unconfirmed, err)
	}
	if _, err := e.svc.Recuse(ctx, mia, c.ID, mia.ID, "conflict of interest"); err != nil {
		t.Fatal(err)
	}
	e.svc.ForgetSeats(c.ID)
	if got, err = e.svc.Load(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil || len(got.Facts().Unconfirmed) != 0 {
		t.Fatalf("Mia recused, Max the only mediator, nobody left to confirm him: %v, %v", got.Facts().Unconfirmed, err)
	}
	// Seated Max, recused Mia unseated: Mia is not counted as waiting.
	e.svc.Membership = seatedIn{max.ID}
	e.svc.ForgetSeats(c.ID)
	if err := e.svc.Admission(ctx, got); err != nil || len(got.Facts().Unconfirmed) != 0 {
		t.Fatalf("recused Mia counted as waiting: %v, %v", got.Facts().Unconfirmed, err)
	}
}

// TestUnconfirmedMediatorOpensNoDefinedRoom: a co-mediator on the record
// whom no seated mediator has confirmed opens no room with chosen people
// (which would use up the case's MaxDefinedRooms), closes none, signs
// none and lists none (the labels of the rooms they were put in) — each
// refusal audited as access.denied naming the action and the rule, in
// words that name no rule, and the same for a room that does not exist —
// and no seated mediator puts them in one. Once admitted, they do.
func TestUnconfirmedMediatorOpensNoDefinedRoom(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	c := e.newCase(t, mia, "Flat 7")
	pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	e.svc.Membership = seatedIn{mia.ID, max.ID}
	room, err := e.svc.OpenRoom(ctx, mia, c.ID, NewRoom{Label: "Pat and the mediators", Members: []string{mia.ID, max.ID, pat.ID}})
	if err != nil {
		t.Fatal(err)
	}
	// A later statement no longer seats Max.
	e.svc.Membership = seatedIn{mia.ID}
	e.svc.ForgetSeats(c.ID)
	refused := func(what string, err error, action policy.Action) {
		t.Helper()
		if !errors.Is(err, ErrUnconfirmed) || !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("%s: %v; want a refusal for an unconfirmed mediator", what, err)
		}
		if strings.Contains(err.Error(), "unconfirmed-mediators") || strings.Contains(err.Error(), room.Room) {
			t.Fatalf("%s: the words name a rule or the room: %v", what, err)
		}
		ev := e.lastEntry(t)
		if ev.Type != "access.denied" || ev.Actor != max.ID || ev.Case != c.ID || ev.Attrs["action"] != string(action) || ev.Attrs["rule"] != RuleUnconfirmedRooms || ev.Attrs["room"] != "" {
			t.Fatalf("%s audited as %+v", what, ev)
		}
	}
	_, err = e.svc.OpenRoom(ctx, max, c.ID, NewRoom{Label: "Max's room", Members: []string{max.ID, pat.ID}})
	refused("Max opens a room", err, policy.RoomOpen)
	_, err = e.svc.DefinedRooms(ctx, max, c.ID)
	refused("Max lists the rooms", err, policy.RoomJoin)
	_, err = e.svc.CloseRoom(ctx, max, c.ID, room.Room)
	refused("Max closes the room he is in", err, policy.RoomClose)
	_, err = e.svc.CloseRoom(ctx, max, c.ID, "room:abcdefgh23")
	refused("Max closes a room that does not exist", err, policy.RoomClose)
	_, err = e.svc.AddRoomEntry(ctx, max, c.ID, room.Room, []byte("entry"))
	refused("Max signs the room", err, policy.RoomSign)
	if got, err := e.svc.Load(ctx, c.ID); err != nil || len(got.Rooms) != 1 || got.Rooms[0].Closed != nil {
		t.Fatalf("the rooms after Max's refusals: %+v, %v", got.Rooms, err)
	}
	// Mia does not put him in another one meanwhile.
	_, err = e.svc.OpenRoom(ctx, mia, c.ID, NewRoom{Label: "Again", Members: []string{mia.ID, max.ID, pat.ID}})
	wantInvalid(t, err, "members")
	if _, err := e.svc.OpenRoom(ctx, mia, c.ID, NewRoom{Label: "Pat alone", Members: []string{mia.ID, pat.ID}}); err != nil {
		t.Fatalf("Mia opens a room without Max: %v", err)
	}

	e.svc.Membership = seatedIn{mia.ID, max.ID}
	e.svc.ForgetSeats(c.ID)
	if rooms, err := e.svc.DefinedRooms(ctx, max, c.ID); err != nil || len(rooms) != 1 || rooms[0].ID != room.ID {
		t.Fatalf("the admitted co-mediator lists the rooms: %+v, %v", rooms, err)
	}
	if _, err := e.svc.CloseRoom(ctx, max, c.ID, room.Room); err != nil {
		t.Fatalf("the admitted co-mediator closes the room: %v", err)
	}
}

// TestUnconfirmedMediatorReadsTheRosterOnly: a co-mediator on the record
// whom no seated mediator has confirmed reads the case as its roster
// (ViewFor: sides, people, stage — how they see they are waiting), without
// stage notes, objectives, disclosures, the outcome or the terms; they
// change no stage, add no objective, record no outcome (whose answer holds
// the participants' survey links), set no terms and read none: each
// refusal audited as access.denied naming the action and the rule, in
// words that name no rule. Once admitted, they read and do all of it.
func TestUnconfirmedMediatorReadsTheRosterOnly(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	c := e.newCase(t, mia, "Flat 8")
	if _, err := e.svc.AddObjective(ctx, mia, c.ID, KindObjective, "Agree the repairs to the boiler"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetStage(ctx, mia, c.ID, StageOpening, "side A is close to walking out"); err != nil {
		t.Fatal(err)
	}
	e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.Disclose(ctx, mia, c.ID, "I once rented from side B's agent"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetTerms(ctx, mia, c.ID, "Everything said here stays here."); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	view := func(who account.Account) *Case {
		t.Helper()
		got, err := e.svc.Get(ctx, who, c.ID)
		if err == nil {
			got, err = e.svc.ViewFor(ctx, who, got)
		}
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	full := func(what string, v *Case) {
		t.Helper()
		if len(v.Objectives) != 3 || len(v.Disclosures) != 1 || len(v.StageHistory) != 2 || v.StageHistory[1].Note == "" || v.Terms == nil {
			t.Fatalf("%s: %+v", what, v)
		}
	}
	refused := func(what string, err error, action policy.Action) {
		t.Helper()
		if !errors.Is(err, ErrUnconfirmed) || !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("%s: %v; want a refusal for an unconfirmed mediator", what, err)
		}
		if strings.Contains(err.Error(), "unconfirmed-mediators") {
			t.Fatalf("%s: the words name a rule: %v", what, err)
		}
		ev := e.lastEntry(t)
		if ev.Type != "access.denied" || ev.Actor != max.ID || ev.Case != c.ID || ev.Attrs["action"] != string(action) || ev.Attrs["rule"] != RuleUnconfirmedRecord {
			t.Fatalf("%s audited as %+v", what, ev)
		}
	}
	try := func(stage string) {
		t.Helper()
		v := view(max)
		if len(v.Objectives) != 0 || len(v.Disclosures) != 0 || v.Outcome != nil || v.Terms != nil || len(v.TermsConsents) != 0 ||
			len(v.StageHistory) != 2 || v.StageHistory[1].Note != "" || v.StageHistory[1].To != StageOpening {
			t.Fatalf("%s: Max reads %+v", stage, v)
		}
		if len(v.Sides) != 2 || len(v.Participants) != 1 || len(v.Mediators) != 2 || v.Stage != StageOpening || v.Title != "Flat 8" {
			t.Fatalf("%s: Max's roster view lacks the roster: %+v", stage, v)
		}
		_, err := e.svc.SetStage(ctx, max, c.ID, StageIssues, "")
		refused(stage+": Max moves the stage", err, policy.CaseUpdate)
		_, err = e.svc.AddObjective(ctx, max, c.ID, KindObjective, "Another")
		refused(stage+": Max adds an objective", err, policy.CaseUpdate)
		_, _, err = e.svc.RecordOutcome(ctx, max, c.ID, api.FullAgreement, 1, 1)
		refused(stage+": Max records the outcome", err, policy.CaseUpdate)
		_, err = e.svc.SetTerms(ctx, max, c.ID, "Max's terms")
		refused(stage+": Max sets the terms", err, policy.CaseTermsSet)
		_, err = e.svc.TermsStatus(ctx, max, c.ID)
		refused(stage+": Max reads the terms", err, policy.CaseTermsSet)
		full(stage+": Mia reads", view(mia))
	}
	try("no statement")
	e.svc.Membership = seatedIn{mia.ID}
	try("not admitted")

	e.svc.Membership = seatedIn{mia.ID, max.ID}
	e.svc.ForgetSeats(c.ID)
	full("the admitted co-mediator reads", view(max))
	if _, err := e.svc.TermsStatus(ctx, max, c.ID); err != nil {
		t.Fatalf("the admitted co-mediator reads the terms: %v", err)
	}
	if _, err := e.svc.SetStage(ctx, max, c.ID, StageIssues, ""); err != nil {
		t.Fatalf("the admitted co-mediator moves the stage: %v", err)
	}
}

// TestUnconfirmedMediatorSeesNoInvitation: a co-mediator on the record
// whom no seated mediator has confirmed does not list the case's unused
// invitations (who is invited, to which side, their address's hint):
// refused, audited as access.denied naming the rule, in words that name
// no rule. The seated mediator lists them, with those made by anyone who
// may still make them; once admitted, so does the co-mediator.
func TestUnconfirmedMediatorSeesNoInvitation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	c := e.newCase(t, mia, "Flat 9")
	e.invite(t, mia, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam"})
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"no statement", "not admitted"} {
		if stage == "not admitted" {
			e.svc.Membership = seatedIn{mia.ID}
			e.svc.ForgetSeats(c.ID)
		}
		_, err := e.svc.PendingInvites(ctx, max, c.ID)
		if !errors.Is(err, ErrUnconfirmed) || !errors.Is(err, fault.ErrForbidden) || strings.Contains(err.Error(), "unconfirmed-mediators") {
			t.Fatalf("%s: Max lists the invitations: %v", stage, err)
		}
		ev := e.lastEntry(t)
		if ev.Type != "access.denied" || ev.Actor != max.ID || ev.Attrs["action"] != string(policy.CaseInvite) || ev.Attrs["rule"] != RuleUnconfirmedInvites {
			t.Fatalf("%s: audited as %+v", stage, ev)
		}
		if list, err := e.svc.PendingInvites(ctx, mia, c.ID); err != nil || len(list) != 1 {
			t.Fatalf("%s: Mia lists %+v, %v", stage, list, err)
		}
	}
	e.svc.Membership = seatedIn{mia.ID, max.ID}
	e.svc.ForgetSeats(c.ID)
	if list, err := e.svc.PendingInvites(ctx, max, c.ID); err != nil || len(list) != 1 {
		t.Fatalf("the admitted co-mediator lists %+v, %v", list, err)
	}
}
