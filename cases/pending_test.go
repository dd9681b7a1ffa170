package cases

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// The case's pending invitations are the ones neither used nor expired,
// only its own, listed to its mediators and refused to anyone else.
func TestPendingInvites(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	// Each invitation a second after the last, so "oldest first" is defined.
	e.svc.SetClock(func() time.Time { now = now.Add(time.Second); return now })
	med := staff(policy.RoleMediator, "Morgan Reyes")
	c := e.newCase(t, med, "Okafor v. Lindqvist")
	other := e.newCase(t, med, "Another case")
	e.invite(t, med, other.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Someone Else"})
	used := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Ada Okafor"})
	e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Lars Lindqvist", Email: "lars@example.test", TTL: time.Hour})
	e.invite(t, med, c.ID, NewInvite{Role: RoleCounsel, Side: "A", Name: "Jordan Blake", TTL: 3 * time.Hour})

	names := func() []string {
		t.Helper()
		list, err := e.svc.PendingInvites(t.Context(), med, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range list {
			out = append(out, p.Name)
			if p.Name == "Lars Lindqvist" && (!p.Emailed || p.EmailHint != "l***@example.test" || p.Side != "B" || p.Role != RoleParty) {
				t.Errorf("pending invite %+v", p)
			}
		}
		return out
	}
	if got := names(); len(got) != 3 || got[0] != "Ada Okafor" {
		t.Fatalf("pending before anyone joined: %v", got)
	}
	if _, err := e.svc.Join(t.Context(), used.Token); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 2 || got[0] != "Lars Lindqvist" || got[1] != "Jordan Blake" {
		t.Fatalf("pending after Ada joined: %v", got)
	}
	now = now.Add(2 * time.Hour) // Lars's one-hour invitation has expired, Jordan's three-hour one has not
	if got := names(); len(got) != 1 || got[0] != "Jordan Blake" {
		t.Fatalf("pending after Lars's invitation expired: %v", got)
	}

	// A party of the case and a mediator of another case are refused.
	party := e.join(t, med, c.ID, RoleParty, "B", "Lars Lindqvist")
	if _, err := e.svc.PendingInvites(t.Context(), party, c.ID); !errors.Is(err, fault.ErrForbidden) && !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("a party listed the invitations: %v", err)
	}
	stranger := staff(policy.RoleMediator, "Other Mediator")
	if _, err := e.svc.PendingInvites(t.Context(), stranger, c.ID); !errors.Is(err, fault.ErrForbidden) && !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("another case's mediator listed the invitations: %v", err)
	}
}

// TestMaskEmail: an address keeps the first character of its local part
// and its domain; anything that is not an address is "".
func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"lars@example.org": "l***@example.org",
		"é@example.org":    "é***@example.org",
		"":                 "",
		"no-at-sign":       "",
		"@example.org":     "",
	} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
