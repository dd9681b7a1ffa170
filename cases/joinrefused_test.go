package cases

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// hookStore is the real store, calling afterPut after each write it
// stores.
type hookStore struct {
	objstore.Store
	mu       sync.Mutex
	afterPut func(key string)
}

func (s *hookStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := s.Store.Put(ctx, key, r, size, opts)
	s.mu.Lock()
	f := s.afterPut
	s.mu.Unlock()
	if err == nil && f != nil {
		f(key)
	}
	return info, err
}

func (s *hookStore) setAfterPut(f func(string)) {
	s.mu.Lock()
	s.afterPut = f
	s.mu.Unlock()
}

// wantNoStoredAccount fails unless no version of account id is stored,
// nor any participant account other than the staff ones.
func wantNoStoredAccount(t *testing.T, e *env, id string) {
	t.Helper()
	vs, err := e.meta.Objects().Versions(t.Context(), "accounts/"+id)
	if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		t.Fatal(err)
	}
	if len(vs) > 0 {
		t.Fatalf("a refused join left %d stored versions of its account %s", len(vs), id)
	}
	all, err := e.accounts.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if a.Role == policy.RoleParticipant {
			t.Fatalf("a refused join left the account %s %q <%s>", a.ID, a.Name, a.Email)
		}
	}
}

// claimedBy returns the account id the invitation of token was claimed
// for.
func claimedBy(t *testing.T, e *env, token string) string {
	t.Helper()
	var inv Invite
	if _, err := e.meta.Get(t.Context(), e.svc.inviteKey(token), &inv); err != nil {
		t.Fatal(err)
	}
	return inv.ClaimedBy
}

// A mediator invites someone and closes the case before they open the
// link: the join is refused before an account with their name and email
// is made (no case would name it, so no disposal would reach it).
func TestJoinIntoClosedCaseMakesNoAccount(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 9")
	inv := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat Secret", Email: "pat.secret@example.test"})
	if _, err := e.svc.SetStage(ctx, med, c.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Join(ctx, inv.Token)
	wantIs(t, err, ErrClosed)
	wantNoStoredAccount(t, e, claimedBy(t, e, inv.Token))
}

// The same for a case retention fenced for its disposal: refused in the
// words the case's update gives (ErrDisposing), with no account made.
func TestJoinIntoFencedCaseMakesNoAccount(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 10")
	inv := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat Fence", Email: "pat.fence@example.test"})
	if _, err := e.svc.BeginDisposal(ctx, c.ID, "plan-x"); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Join(ctx, inv.Token)
	wantIs(t, err, ErrDisposing)
	wantNoStoredAccount(t, e, claimedBy(t, e, inv.Token))
}

// The case is closed after the join's checks passed and its account was
// made, before the case names the participant: the case's update refuses
// the join, and the account it made (every version, and its entry in the
// index of seats by address) is deleted.
func TestJoinRefusedAtTheCaseDeletesItsAccount(t *testing.T) {
	hs := &hookStore{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { hs.Store = s; return hs })
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 11")
	inv := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat Race", Email: "pat.race@example.test"})
	var once sync.Once
	hs.setAfterPut(func(key string) {
		if !strings.HasPrefix(key, "accounts/") {
			return
		}
		once.Do(func() {
			now := time.Now().UTC()
			if _, err := metastore.Update(ctx, e.meta, caseKey(c.ID), func(cs *Case) error {
				cs.Closed = &now
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	})
	_, err := e.svc.Join(ctx, inv.Token)
	hs.setAfterPut(nil)
	wantIs(t, err, ErrClosed)
	wantNoStoredAccount(t, e, claimedBy(t, e, inv.Token))
	n := 0
	if err := e.meta.Objects().VersionsUnder(ctx, SeatIndexPrefix, func(v objstore.Version) error {
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The invitation's own entry stays (it goes with the case); the
	// refused participant's is gone.
	if n != 1 {
		t.Fatalf("%d versions in the index of seats by address, want the invitation's only", n)
	}
}

// A join interrupted after it made the account, before the case named
// it, and the case closed since: its rerun is refused and deletes the
// account the first run left.
func TestJoinRerunIntoClosedCaseDeletesTheAccountLeft(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 12")
	inv := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat Crash", Email: "pat.crash@example.test"})
	claimed := e.claim(t, inv.Token)
	if _, err := e.accounts.EnsureParticipant(ctx, claimed, c.ID, "Pat Crash", "pat.crash@example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetStage(ctx, med, c.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	e.svc.now = func() time.Time { return time.Now().Add(claimLease + time.Second) }
	defer func() { e.svc.now = time.Now }()
	_, err := e.svc.Join(ctx, inv.Token)
	wantIs(t, err, ErrClosed)
	wantNoStoredAccount(t, e, claimed)
}
