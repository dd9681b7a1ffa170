package cases

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
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

// TestPendingInvitesEveryOne: a case with more invitations than the 500
// the list read until it was found to hide the rest lists every pending
// one. The first ten are made by CreateInvite; the rest are stored as it
// stores them (the record, then the case's marker), without its seat
// index entries and audit entries, so that the test stays fast.
func TestPendingInvitesEveryOne(t *testing.T) {
	e := newEnv(t)
	med := staff(policy.RoleMediator, "Morgan Reyes")
	c := e.newCase(t, med, "A crowded case")
	const n = 520
	for i := range 10 {
		e.invite(t, med, c.ID, NewInvite{Role: RoleObserver, Name: fmt.Sprintf("Observer %d", i)})
	}
	now := time.Now().UTC()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for w := range errs {
		wg.Go(func() {
			for i := 10 + w; i < n && errs[w] == nil; i += len(errs) {
				token := ids.Token()
				inv := Invite{CaseID: c.ID, Role: RoleObserver, Name: fmt.Sprintf("Observer %d", i), Created: now,
					CreatedBy: med.ID, Expires: now.Add(DefaultInviteTTL)}
				if _, errs[w] = e.meta.Create(t.Context(), e.svc.inviteKey(token), inv); errs[w] == nil {
					_, errs[w] = e.meta.Create(t.Context(), caseInvitesPrefix(c.ID)+e.meta.IndexKey("invite", token), inviteMarker{})
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.PendingInvites(t.Context(), med, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range list {
		seen[p.Name] = true
	}
	if len(list) != n || len(seen) != n {
		t.Fatalf("%d pending invitations listed (%d names), want %d", len(list), len(seen), n)
	}
}

// TestPendingInvitesTooMany: a case with more invitations than the list
// reads (MaxPendingRead, lowered here) is refused in words, never listed
// in part; at the bound it is listed whole.
func TestPendingInvitesTooMany(t *testing.T) {
	e := newEnv(t)
	med := staff(policy.RoleMediator, "Morgan Reyes")
	c := e.newCase(t, med, "A crowded case")
	for i := range 4 {
		e.invite(t, med, c.ID, NewInvite{Role: RoleObserver, Name: fmt.Sprintf("Observer %d", i)})
	}
	e.svc.maxPendingRead = 4
	if list, err := e.svc.PendingInvites(t.Context(), med, c.ID); err != nil || len(list) != 4 {
		t.Fatalf("at the bound: %d listed, %v; want 4", len(list), err)
	}
	e.svc.maxPendingRead = 3
	list, err := e.svc.PendingInvites(t.Context(), med, c.ID)
	if !errors.Is(err, ErrTooManyInvites) || !errors.Is(err, fault.ErrConflict) || list != nil {
		t.Fatalf("over the bound: %d listed, %v; want ErrTooManyInvites", len(list), err)
	}
	if !strings.Contains(err.Error(), "too many to list") {
		t.Fatalf("the refusal's words: %q", err)
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
