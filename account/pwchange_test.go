package account

import (
	"fmt"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/hashcost"
)

// Guesses at the current password through change-password (a stolen
// session token, no password) spend the sign-in budgets: rotating /64s
// gets at most the account's budget for unfamiliar addresses plus the
// slow lane, as sign-in does, not 10 per /64 without end; and they spend
// the same budget as sign-in, so the two together get no more. The
// person, at an address they signed in from, still changes their
// password with the right one.
func TestChangePasswordGuessingBoundedLikeSignIn(t *testing.T) {
	hashcost.UseTestCost()
	svc, _ := newService(t)
	ctx := t.Context()
	m := createMediator(t, svc, "victim@example.org")
	const home, office = "192.0.2.7", "192.0.2.8" // where the person signed in before
	for _, addr := range []string{home, office} {
		if _, _, _, err := svc.Login(ctx, "victim@example.org", testPassword, addr); err != nil {
			t.Fatal(err)
		}
	}
	tried, checked := 0, 0
	for host := 0; host < 40; host++ {
		addr := fmt.Sprintf("2001:db8:%x::1", host) // 40 different /64s
		for i := 0; i < svc.LoginLimitPerPair; i++ {
			_, _, _, err := svc.ChangePassword(ctx, m.ID, fmt.Sprintf("guess-%d-%d-xxxx", host, i), "new-password-xxxxxxxx", addr, nil)
			tried++
			if _, limited := fault.AsRateLimited(err); !limited {
				checked++
			}
		}
	}
	if max := svc.LoginLimitPerAccount + 1; checked > max {
		t.Fatalf("%d of %d change-password guesses reached the password check from 40 /64s; sign-in allows %d", checked, tried, max)
	}
	// The unfamiliar-address budget is the one sign-in uses.
	if _, _, _, err := svc.Login(ctx, "victim@example.org", "another-guess-xxxx", "198.51.100.9"); err == nil {
		t.Fatal("a wrong password signed in")
	} else if _, limited := fault.AsRateLimited(err); !limited {
		t.Fatalf("sign-in from a new address after the change-password guesses: %v, want rate-limited", err)
	}
	// One address: 10 guesses for this account, as sign-in.
	for i := 0; i < svc.LoginLimitPerPair; i++ {
		if _, _, _, err := svc.ChangePassword(ctx, m.ID, fmt.Sprintf("home-guess-%d-xxxx", i), "new-password-xxxxxxxx", home, nil); err == nil {
			t.Fatal("a wrong current password was accepted")
		}
	}
	if _, _, _, err := svc.ChangePassword(ctx, m.ID, "home-guess-x-xxxx", "new-password-xxxxxxxx", home, nil); err == nil {
		t.Fatal("a wrong current password was accepted")
	} else if _, limited := fault.AsRateLimited(err); !limited {
		t.Fatalf("11th guess from one address: %v, want rate-limited", err)
	}
	// The person, from a familiar address the attacker did not spend.
	if _, _, _, err := svc.ChangePassword(ctx, m.ID, testPassword, "new-password-xxxxxxxx", office, nil); err != nil {
		t.Fatalf("the person's own change of password: %v", err)
	}
}
