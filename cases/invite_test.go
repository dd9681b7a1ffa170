package cases

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

func TestJoinSingleUse(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "single use")
	inv := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: " Pat Party ", Email: "pat@example.com"})

	j, err := e.svc.Join(ctx, inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	if j.CaseID != c.ID || j.Account.Name != "Pat Party" || j.Account.Role != policy.RoleParticipant || j.Account.Email != "pat@example.com" {
		t.Fatalf("joined: %+v", j)
	}
	// The session works and belongs to the new participant.
	a, _, err := e.accounts.Authenticate(ctx, j.Token)
	if err != nil || a.ID != j.Account.ID {
		t.Fatalf("join session: %+v, %v", a, err)
	}
	if ev := e.lastEntry(t); ev.Type != "case.invite.redeemed" || ev.Actor != j.Account.ID || ev.Case != c.ID {
		t.Fatalf("audit: %+v", ev)
	}

	n := e.log.Size()
	_, err = e.svc.Join(ctx, inv.Token)
	wantIs(t, err, ErrInviteGone)
	wantIs(t, err, fault.ErrGone)
	if e.log.Size() != n {
		t.Fatal("a refused Join was audited as a redemption")
	}
	got, err := e.svc.Get(ctx, m, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Participants) != 1 {
		t.Fatalf("%d participants after a repeated Join, want 1", len(got.Participants))
	}

	// Tokens nobody issued are gone too, whatever their shape.
	for _, tok := range []string{"", "short", ids.Token(), inv.Token + "x", inv.Token[:42]} {
		_, err := e.svc.Join(ctx, tok)
		wantIs(t, err, fault.ErrGone)
	}
}

func TestJoinExpired(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "expiry")
	base := time.Now()
	e.svc.now = func() time.Time { return base }
	late := e.invite(t, m, c.ID, NewInvite{Role: RoleObserver, Name: "Late", TTL: time.Minute})
	onTime := e.invite(t, m, c.ID, NewInvite{Role: RoleObserver, Name: "OnTime", TTL: time.Minute})
	if !late.Expires.Equal(base.Add(time.Minute).UTC()) {
		t.Fatalf("expires %v, want %v", late.Expires, base.Add(time.Minute))
	}

	e.svc.now = func() time.Time { return base.Add(time.Minute - time.Second) }
	if _, err := e.svc.Join(ctx, onTime.Token); err != nil {
		t.Fatalf("Join a second before expiry: %v", err)
	}

	e.svc.now = func() time.Time { return base.Add(time.Minute) }
	_, err := e.svc.Join(ctx, late.Token)
	wantIs(t, err, ErrInviteGone)
	e.svc.now = func() time.Time { return base.Add(2 * time.Minute) }
	_, err = e.svc.Join(ctx, late.Token)
	wantIs(t, err, fault.ErrGone)

	got, err := e.svc.Get(ctx, m, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Participants) != 1 || got.Participants[0].Name != "OnTime" {
		t.Fatalf("participants: %+v", got.Participants)
	}
	// The expired invite was not claimed either.
	var inv Invite
	if _, err := e.meta.Get(ctx, e.svc.inviteKey(late.Token), &inv); err != nil {
		t.Fatal(err)
	}
	if inv.ClaimedBy != "" || inv.Completed {
		t.Fatalf("expired invite was claimed: %+v", inv)
	}
}

func TestJoinConcurrentOnlyOneWins(t *testing.T) {
	e := newEnv(t)
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "race")
	inv := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat"})

	const joiners = 8
	results := make([]Joined, joiners)
	errs := make([]error, joiners)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range joiners {
		wg.Go(func() {
			<-start
			results[i], errs[i] = e.svc.Join(t.Context(), inv.Token)
		})
	}
	close(start)
	wg.Wait()

	winners := 0
	var winner Joined
	for i, err := range errs {
		if err == nil {
			winners++
			winner = results[i]
			continue
		}
		// A loser either found the winner's claim in progress or found
		// the invite already completed.
		if !errors.Is(err, ErrInviteBusy) && !errors.Is(err, ErrInviteGone) {
			t.Fatalf("losing Join %d: err = %v, want ErrInviteBusy or ErrInviteGone", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent Joins succeeded, want exactly 1", winners, joiners)
	}
	got, err := e.svc.Get(t.Context(), m, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Participants) != 1 || got.Participants[0].AccountID != winner.Account.ID {
		t.Fatalf("participants after the race: %+v (winner %s)", got.Participants, winner.Account.ID)
	}
	if _, _, err := e.accounts.Authenticate(t.Context(), winner.Token); err != nil {
		t.Fatalf("winner's session: %v", err)
	}
	_, err = e.svc.Join(t.Context(), inv.Token)
	wantIs(t, err, fault.ErrGone)
}

// claim does the first write of a redemption, as Join would, and stops: a
// node that crashed right after claiming.
func (e *env) claim(t *testing.T, token string) string {
	t.Helper()
	id := ids.New("u")
	now := e.svc.now().UTC()
	if _, err := metastore.Update(t.Context(), e.meta, e.svc.inviteKey(token), func(inv *Invite) error {
		inv.ClaimedBy, inv.Claimed = id, &now
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestJoinFinishesInterruptedRedemption(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "interrupted")

	t.Run("after claim", func(t *testing.T) {
		inv := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat"})
		claimed := e.claim(t, inv.Token)
		// Finishing must work even once the invite's expiry has passed:
		// the claim was made in time.
		e.svc.now = func() time.Time { return time.Now().Add(DefaultInviteTTL + time.Hour) }
		defer func() { e.svc.now = time.Now }()
		j, err := e.svc.Join(ctx, inv.Token)
		if err != nil {
			t.Fatalf("Join after an interrupted claim: %v", err)
		}
		if j.Account.ID != claimed {
			t.Fatalf("finished with account %s, want the claimed %s", j.Account.ID, claimed)
		}
		_, err = e.svc.Join(ctx, inv.Token)
		wantIs(t, err, fault.ErrGone)
	})

	t.Run("claimed in time, finished too late", func(t *testing.T) {
		inv := e.invite(t, m, c.ID, NewInvite{Role: RoleObserver, Name: "Late"})
		e.claim(t, inv.Token)
		e.svc.now = func() time.Time { return time.Now().Add(DefaultInviteTTL + finishGrace + time.Minute) }
		defer func() { e.svc.now = time.Now }()
		_, err := e.svc.Join(ctx, inv.Token)
		wantIs(t, err, fault.ErrGone)
	})

	t.Run("after account and case writes", func(t *testing.T) {
		inv := e.invite(t, m, c.ID, NewInvite{Role: RoleCounsel, Side: "B", Name: "Cal"})
		claimed := e.claim(t, inv.Token)
		// The crash came after the account was made and the case updated,
		// before the invite was marked completed.
		if _, err := e.accounts.EnsureParticipant(ctx, claimed, c.ID, "Cal", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := metastore.Update(ctx, e.meta, caseKey(c.ID), func(cs *Case) error {
			cs.Participants = append(cs.Participants, Participant{AccountID: claimed, Name: "Cal", Role: RoleCounsel, Side: "B", Joined: time.Now().UTC()})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// While the claim is fresh, the redemption may still be running
		// elsewhere: a second Join must not run alongside it.
		n := e.log.Size()
		_, err := e.svc.Join(ctx, inv.Token)
		wantIs(t, err, ErrInviteBusy)
		wantIs(t, err, fault.ErrConflict)
		if e.log.Size() != n {
			t.Fatal("a Join refused as busy was audited")
		}
		// Once the claim is older than claimLease, it was interrupted.
		e.svc.now = func() time.Time { return time.Now().Add(claimLease + time.Second) }
		defer func() { e.svc.now = time.Now }()
		j, err := e.svc.Join(ctx, inv.Token)
		if err != nil {
			t.Fatalf("Join after an interrupted redemption: %v", err)
		}
		if j.Account.ID != claimed {
			t.Fatalf("finished with account %s, want %s", j.Account.ID, claimed)
		}
		_, err = e.svc.Join(ctx, inv.Token)
		wantIs(t, err, fault.ErrGone)
	})

	t.Run("concurrent finishers", func(t *testing.T) {
		inv := e.invite(t, m, c.ID, NewInvite{Role: RoleObserver, Name: "Olly"})
		claimed := e.claim(t, inv.Token)
		e.svc.now = func() time.Time { return time.Now().Add(claimLease + time.Second) }
		defer func() { e.svc.now = time.Now }()
		const joiners = 8
		errs := make([]error, joiners)
		results := make([]Joined, joiners)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range joiners {
			wg.Go(func() {
				<-start
				results[i], errs[i] = e.svc.Join(ctx, inv.Token)
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				if results[i].Account.ID != claimed {
					t.Fatalf("finisher joined as %s, want the claimed %s", results[i].Account.ID, claimed)
				}
			case errors.Is(err, ErrInviteBusy), errors.Is(err, ErrInviteGone):
			default:
				t.Fatalf("finisher %d: %v", i, err)
			}
		}
		if winners != 1 {
			t.Fatalf("%d of %d concurrent finishers succeeded, want exactly 1", winners, joiners)
		}
	})

	got, err := e.svc.Get(ctx, m, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Participants) != 3 {
		t.Fatalf("%d participants, want exactly 3 (one per invite): %+v", len(got.Participants), got.Participants)
	}
	seen := map[string]bool{}
	for _, p := range got.Participants {
		if seen[p.AccountID] {
			t.Fatalf("participant %s added twice", p.AccountID)
		}
		seen[p.AccountID] = true
	}
	accts, err := e.accounts.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	participants := 0
	for _, a := range accts {
		if a.Role == policy.RoleParticipant {
			participants++
		}
	}
	if participants != 3 {
		t.Fatalf("%d participant accounts, want 3 (no stray account from a finishing Join)", participants)
	}
}

func TestInviteTokenNotStoredInClear(t *testing.T) {
	e := newEnv(t)
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "tokens")
	inv := e.invite(t, m, c.ID, NewInvite{Role: RoleObserver, Name: "Olly", Email: "olly.canary@example.com"})
	j, err := e.svc.Join(t.Context(), inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	needles := [][]byte{[]byte(inv.Token), []byte(j.Token), []byte("olly.canary")}
	err = filepath.WalkDir(e.root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, nd := range needles {
			if bytes.Contains([]byte(p), nd) {
				t.Errorf("path %s contains a secret", p)
			}
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, nd := range needles {
			if bytes.Contains(data, nd) {
				t.Errorf("%s contains %q in the clear", p, nd)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A Join that finishes a stale claim while the original (slow, not dead)
// Join completes the invite must not also get a session: completion decides.
func TestJoinLosesWhenCompletedMeanwhile(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "overlap")
	inv := e.invite(t, m, c.ID, NewInvite{Role: RoleObserver, Name: "Olly"})
	claimed := e.claim(t, inv.Token) // the slow Join's claim
	later := time.Now().Add(claimLease + time.Second)

	// Join reads the clock once while claiming and again while adding the
	// participant; at that second reading, let the slow Join complete.
	var calls atomic.Int32
	var completeErr error
	e.svc.now = func() time.Time {
		if calls.Add(1) == 2 {
			_, completeErr = metastore.Update(ctx, e.meta, e.svc.inviteKey(inv.Token), func(inv *Invite) error {
				inv.Completed = true
				return nil
			})
		}
		return later
	}
	_, err := e.svc.Join(ctx, inv.Token)
	if completeErr != nil {
		t.Fatal(completeErr)
	}
	if calls.Load() < 2 {
		t.Fatal("the clock hook never ran: Join no longer reads the clock where this test expects")
	}
	wantIs(t, err, ErrInviteGone)

	// The participant is the claimed one, once.
	e.svc.now = time.Now
	got, err := e.svc.Get(ctx, m, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Participants) != 1 || got.Participants[0].AccountID != claimed {
		t.Fatalf("participants: %+v (claimed %s)", got.Participants, claimed)
	}
}
