package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/policy"
)

// TestProgramRecusalHoldsUnconfirmedCoMediator: Morgan runs the case and
// added co-mediator Sam, whom nobody let in (before the conversation is
// open, or once Morgan opened it without admitting Sam). Two
// administrators recuse Morgan. Until review 378's residual was closed,
// Sam then read the whole case at once, with no notice: nobody was left
// to confirm them. Now the program's recusal holds Sam back as it would a
// mediator it assigns: Sam reads nothing (case, rooms, documents) during
// the notice period, every participant sees a notice naming Sam and the
// date, it is audited, and Sam reads the case once the period ends.
func TestProgramRecusalHoldsUnconfirmedCoMediator(t *testing.T) {
	for _, open := range []bool{false, true} {
		name := "before the conversation is open"
		if open {
			name = "once it is open"
		}
		t.Run(name, func(t *testing.T) {
			k := newAdminCase(t)
			ctx := t.Context()
			_, adminA := k.n.Staff(t, policy.RoleAdmin, "a@example.org")
			_, adminB := k.n.Staff(t, policy.RoleAdmin, "b@example.org")
			_, records := k.n.Staff(t, policy.RoleRecords, "r@example.org")
			sam, samC := k.n.Staff(t, policy.RoleMediator, "sam@example.org")
			if err := addMediator(t, k.medC, k.id, sam.ID); err != nil {
				t.Fatal(err)
			}
			if open {
				k.medX = newRegisteredDevice(t, k.medC, k.med.ID)
				sc, err := k.medX.OpenSecureChat(ctx, k.id, client.SecureOptions{})
				if err != nil {
					t.Fatal(err)
				}
				// Morgan's first message opens the conversation: its first
				// statement seats Morgan alone.
				if _, err := sc.Send(ctx, "joint", "Welcome"); err != nil {
					t.Fatal(err)
				}
				sc.Close()
				seated, signed, err := k.n.KeyDir.SeatedMediators(ctx, k.id)
				if err != nil || !signed || !slices.Equal(seated, []string{k.med.ID}) {
					t.Fatalf("the conversation is not open with Morgan alone: %v %v %v", seated, signed, err)
				}
			}
			if _, err := samC.Documents(ctx, k.id); err == nil || apiErr(t, err).Status != http.StatusForbidden {
				t.Fatalf("the unconfirmed co-mediator listed the documents before the recusal: %v", err)
			}

			rec, err := proposeRecusal(ctx, adminA, k.id, k.med.ID, "The mediator is unreachable for six weeks")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := approve(ctx, adminB, k.id, rec.ID); err != nil {
				t.Fatal(err)
			}
			k.readsNothing(t, "the co-mediator held back by the program's recusal", samC)
			var rooms []caucus.RoomView
			if err := samC.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.id+"/rooms", nil, &rooms); err == nil {
				t.Fatalf("the held co-mediator lists the rooms: %+v", rooms)
			}
			for side, pc := range k.party {
				c, err := pc.Case(ctx, k.id)
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Notices) != 2 || !strings.Contains(c.Notices[0].Text, "The program recused mediator "+k.med.Name) ||
					c.Notices[1].Kind != string(cases.NoticeHeld) || c.Notices[1].Mediator != sam.ID ||
					!strings.Contains(c.Notices[1].Text, sam.Name+" as a co-mediator") || !strings.Contains(c.Notices[1].Text, "They can read the case from") ||
					c.Notices[1].ReadsFrom == nil {
					t.Fatalf("party %s sees no notice naming the held co-mediator: %+v", side, c.Notices)
				}
				if len(c.PendingMediators) != 1 || c.PendingMediators[0].AccountID != sam.ID || !c.PendingMediators[0].Held ||
					slices.ContainsFunc(c.Mediators, func(m api.Mediator) bool { return m.AccountID == sam.ID }) {
					t.Fatalf("party %s: Sam is not pending: %+v, %+v", side, c.PendingMediators, c.Mediators)
				}
			}
			entries := auditEntries(t, records)
			if !strings.Contains(entries, `"case.comediator.held"`) {
				t.Fatalf("the hold is not audited: %s", entries)
			}
			// No assignment while Sam waits: the case is not orphaned.
			jordan, _ := k.n.Staff(t, policy.RoleMediator, "jordan@example.org")
			if _, err := proposeAssignment(ctx, adminA, k.id, jordan.ID); err == nil || apiErr(t, err).Status != http.StatusConflict {
				t.Fatalf("an assignment proposed while the co-mediator waits: %v", err)
			}
			k.clock.Advance(cases.DefaultReassignmentNotice - time.Minute)
			k.readsNothing(t, "the held co-mediator a minute before the notice ends", samC)

			k.clock.Advance(2 * time.Minute)
			k.readsAll(t, "the co-mediator after the notice", samC)
			if err := samC.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.id+"/rooms", nil, &rooms); err != nil || len(rooms) == 0 {
				t.Fatalf("the co-mediator after the notice lists no rooms: %+v, %v", rooms, err)
			}
			if entries := auditEntries(t, records); !strings.Contains(entries, `"notice-elapsed"`) {
				t.Fatalf("the activation is not audited: %s", entries)
			}
		})
	}
}
