package cases

import (
	"errors"
	"slices"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/policy"
)

// A link is worth no more than its maker's access to the case. Mia, a
// mediator, makes a re-entry link for party Pat (side A) and an invite for
// a new side-A party, then loses the case: she recuses, her co-mediator or
// the program recuses her, or her account is disabled. Holding the links,
// she could otherwise come back as Pat (reading side A's caucus, audited
// as Pat) or as a new party of side A. Both links are refused as a used
// one is (ErrInviteGone, "no longer valid"), add no one to the case, and
// are no longer listed as pending; the same links made by Max, a
// co-mediator who is still active, keep working.
func TestLinksDieWithTheirMakersAccess(t *testing.T) {
	losses := []struct {
		name string
		lose func(t *testing.T, e *env, caseID string, mia, max account.Account)
	}{
		{"recuses herself", func(t *testing.T, e *env, caseID string, mia, _ account.Account) {
			if _, err := e.svc.Recuse(t.Context(), mia, caseID, "", "conflict of interest"); err != nil {
				t.Fatal(err)
			}
		}},
		{"recused by her co-mediator", func(t *testing.T, e *env, caseID string, mia, max account.Account) {
			if _, err := e.svc.Recuse(t.Context(), max, caseID, mia.ID, "conflict of interest"); err != nil {
				t.Fatal(err)
			}
		}},
		{"recused by the program", func(t *testing.T, e *env, caseID string, mia, _ account.Account) {
			a1 := e.stored(t, policy.RoleAdmin, "a1@example.org", nil)
			a2 := e.stored(t, policy.RoleAdmin, "a2@example.org", nil)
			p, err := e.svc.ProposeRecusal(t.Context(), a1, caseID, mia.ID, "a party objected")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.ApproveProposal(t.Context(), a2, caseID, p.ID, ProposeRecusal); err != nil {
				t.Fatal(err)
			}
		}},
		{"account disabled", func(t *testing.T, e *env, _ string, mia, _ account.Account) {
			if _, err := e.accounts.Disable(t.Context(), mia.ID, nil); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, loss := range losses {
		t.Run(loss.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := t.Context()
			mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
			max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
			c := e.newCase(t, mia, "Flat 3")
			if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
				t.Fatal(err)
			}
			// Mia confirmed Max: the case's signed membership seats
			// both (only a seated mediator makes links, seated.go).
			e.svc.Membership = seatedIn{mia.ID, max.ID}
			pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
			miaBack, err := e.svc.CreateReentry(ctx, mia, c.ID, pat.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			maxBack, err := e.svc.CreateReentry(ctx, max, c.ID, pat.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			shadow := e.invite(t, mia, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Shadow"})
			sam := e.invite(t, max, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam"})

			loss.lose(t, e, c.ID, mia, max)

			pending, err := e.svc.PendingInvites(ctx, max, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if names := pendingNames(pending); !slices.Equal(names, []string{"Sam"}) {
				t.Errorf("pending invitations %v, want only [Sam]: Mia's can no longer be used", names)
			}

			for what, token := range map[string]string{"re-entry link for Pat": miaBack.Token, "invite for Shadow": shadow.Token} {
				j, err := e.svc.Join(ctx, token)
				if !errors.Is(err, ErrInviteGone) {
					t.Errorf("Mia's %s after she lost the case: %+v, %v; want ErrInviteGone", what, j.Account, err)
				}
				// Refused for good, not just once.
				if _, err := e.svc.Join(ctx, token); !errors.Is(err, ErrInviteGone) {
					t.Errorf("Mia's %s, again: %v; want ErrInviteGone", what, err)
				}
			}
			got, err := e.svc.Load(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(got.Participants, func(p Participant) bool { return p.Name == "Shadow" }) {
				t.Errorf("Mia's invite added Shadow to the case: %+v", got.Participants)
			}

			j, err := e.svc.Join(ctx, maxBack.Token)
			if err != nil || j.Account.ID != pat.ID {
				t.Errorf("Max's re-entry link for Pat: %+v, %v", j.Account, err)
			}
			j, err = e.svc.Join(ctx, sam.Token)
			if err != nil || j.Account.Name != "Sam" {
				t.Errorf("Max's invite for Sam: %+v, %v", j.Account, err)
			}
		})
	}
}

// A link whose maker's account cannot be found (there is no one whose
// access it stands for) is refused too.
func TestLinkOfAMissingMakerIsRefused(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	c := e.newCase(t, mia, "Flat 3")
	pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	back, err := e.svc.CreateReentry(ctx, mia, c.ID, pat.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	inv := e.invite(t, mia, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam"})
	if err := e.meta.Delete(ctx, "accounts/"+mia.ID); err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{back.Token, inv.Token} {
		if _, err := e.svc.Join(ctx, token); !errors.Is(err, ErrInviteGone) {
			t.Errorf("Join: %v; want ErrInviteGone", err)
		}
	}
}

func pendingNames(list []PendingInvite) []string {
	var out []string
	for _, p := range list {
		out = append(out, p.Name)
	}
	return out
}
