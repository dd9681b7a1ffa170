package policy

import (
	"slices"
	"testing"
)

// TestUnadmittedMediatorAddsNobody: a mediator of the case record whom the
// signed membership does not seat (Case.Unadmitted) is refused an
// invitation and a link back in, by the rule unadmitted-mediators-add-nobody,
// and nothing else; a seated co-mediator keeps both. Without the fact
// (every other decision) nothing changes.
func TestUnadmittedMediatorAddsNobody(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	c := &Case{ID: "case1", Mediators: []string{"m1", "m2"}, Parties: []string{"pA"}, Unadmitted: []string{"m2"}}
	m1, m2 := User{ID: "m1", Role: RoleMediator}, User{ID: "m2", Role: RoleMediator}
	for _, a := range []Action{CaseInvite, CaseReentry} {
		d := e.Decide(m2, a, c)
		if d.Allowed || !slices.Contains(d.Policies, "unadmitted-mediators-add-nobody") {
			t.Errorf("%s by the unadmitted mediator: %+v", a, d)
		}
		if !e.Decide(m1, a, c).Allowed {
			t.Errorf("%s by the seated mediator refused", a)
		}
		without := *c
		without.Unadmitted = nil
		if !e.Decide(m2, a, &without).Allowed {
			t.Errorf("%s refused without the fact", a)
		}
	}
	for _, a := range []Action{CaseRead, CaseUpdate, CaseDisclose, CaseAddMediator, CaseRecuse, CaseRemoveParticipant} {
		if !e.Decide(m2, a, c).Allowed {
			t.Errorf("%s refused to the unadmitted mediator", a)
		}
	}
}

// TestUnconfirmedMediatorReadsNothing: a mediator of the case record whom
// no seated mediator has confirmed (Case.Unconfirmed) handles no document,
// is in no room, sees no session or outbox, and recuses no one else, adds
// no mediator and removes no participant, changes nothing of the record,
// makes no conflict disclosure and reads or sets no terms, reads and drafts no agreement, sees no hand,
// controls, opens, closes and signs no room and is put in none — each
// refusal naming its rule —
// while a confirmed co-mediator keeps all of it. Without the fact nothing
// changes.
func TestUnconfirmedMediatorReadsNothing(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	c := &Case{ID: "case1", Mediators: []string{"m1", "m2"}, Parties: []string{"pA"},
		SideMembers: map[string][]string{"A": {"pA"}}, Unconfirmed: []string{"m2"}}
	without := *c
	without.Unconfirmed = nil
	m1, m2 := User{ID: "m1", Role: RoleMediator}, User{ID: "m2", Role: RoleMediator}
	check := func(what, rule string, decide func(u User, c *Case) Decision) {
		t.Helper()
		if d := decide(m2, c); d.Allowed || !slices.Contains(d.Policies, rule) {
			t.Errorf("%s by the unconfirmed mediator: %+v", what, d)
		}
		if !decide(m1, c).Allowed {
			t.Errorf("%s by the confirmed mediator refused", what)
		}
		if !decide(m2, &without).Allowed {
			t.Errorf("%s refused without the fact", what)
		}
	}
	for _, a := range []Action{CaseRecuse, CaseAddMediator, CaseRemoveParticipant} {
		check(string(a), "unconfirmed-mediators-change-nobody", func(u User, c *Case) Decision { return e.Decide(u, a, c) })
	}
	for _, a := range []Action{SessionRead, SessionManage, MailRead} {
		check(string(a), "unconfirmed-mediators-see-no-sessions", func(u User, c *Case) Decision { return e.Decide(u, a, c) })
	}
	for _, a := range []Action{DocList, DocReadMetadata, DocDownload, DocUpload, DocShare} {
		for _, class := range []string{"evidence", ClassMediatorNotes} {
			check(string(a)+" "+class, "unconfirmed-mediators-handle-no-documents", func(u User, c *Case) Decision {
				return e.DecideDocument(u, a, Document{Case: c, Audience: AudienceCaucus, Side: "A", Class: class})
			})
		}
	}
	for _, a := range []Action{RoomJoin, RoomPost, RoomHistory} {
		for _, kind := range []RoomKind{RoomJoint, RoomCaucus, RoomMediators} {
			check(string(a)+" "+string(kind), "unconfirmed-mediators-in-no-room", func(u User, c *Case) Decision {
				return e.DecideRoom(u, a, Room{Case: c, Kind: kind, Side: "A"})
			})
		}
	}
	for _, a := range []Action{CaseUpdate, CaseDisclose, CaseTermsSet} {
		check(string(a), "unconfirmed-mediators-read-the-roster-only", func(u User, c *Case) Decision { return e.Decide(u, a, c) })
	}
	for _, a := range []Action{AgreementRead, AgreementDraft} {
		check(string(a), "unconfirmed-mediators-see-no-agreement", func(u User, c *Case) Decision { return e.Decide(u, a, c) })
	}
	check(string(HandsRead), "unconfirmed-mediators-see-no-hands", func(u User, c *Case) Decision { return e.Decide(u, HandsRead, c) })
	for _, a := range []Action{RoomControl, RoomOpen} {
		check(string(a), "unconfirmed-mediators-in-no-room", func(u User, c *Case) Decision {
			return e.DecideRoom(u, a, Room{Case: c, Kind: RoomJoint})
		})
	}
	for _, a := range []Action{RoomClose, RoomSign} {
		check(string(a), "unconfirmed-mediators-in-no-room", func(u User, c *Case) Decision {
			return e.DecideRoom(u, a, Room{Case: c, Kind: RoomDefined, Members: []string{"m1", "m2", "pA"}})
		})
	}
	// A seated mediator does not put them in a room meanwhile.
	if d := e.DecideRoomOpen(m1, Room{Case: c, Members: []string{"m1", "m2", "pA"}}); d.Allowed() || !slices.Contains(d.Refused["m2"].Policies, "unconfirmed-mediators-in-no-room") {
		t.Errorf("a room opened with the unconfirmed mediator in it: %+v", d)
	}
	check(string(CaseInvite), "unconfirmed-mediators-see-no-invitations", func(u User, c *Case) Decision { return e.Decide(u, CaseInvite, c) })
	for _, a := range []Action{CaseRead, CaseReadSummary, CaseReentry} {
		if !e.Decide(m2, a, c).Allowed {
			t.Errorf("%s refused to the unconfirmed mediator", a)
		}
	}
}
