package account

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/hashcost"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/ratelimit"
)

// clockSkew is how far the two nodes' clocks disagree in these tests:
// minutes, as on machines whose time sync failed.
const clockSkew = 2 * time.Minute

// twoNodes returns two Services over one store, as two nodes behind a
// load balancer with no sticky sessions, whose clocks disagree: ahead's
// reads clockSkew later than behind's. Both clocks stand still.
func twoNodes(t *testing.T) (ahead, behind *Service) {
	t.Helper()
	behind, _ = newService(t)
	ahead = NewService(behind.meta, ratelimit.NewMemory())
	base := time.Now().UTC()
	behind.SetClock(func() time.Time { return base })
	ahead.SetClock(func() time.Time { return base.Add(clockSkew) })
	return ahead, behind
}

// revocation is one way an account's sessions end. It runs on node (other
// is the other node) and returns the password that signs in afterwards
// (after enabling again, for a disabling).
type revocation struct {
	name string
	run  func(t *testing.T, node, other *Service, id string) (password string)
}

var revocations = []revocation{
	{"revoke-sessions", func(t *testing.T, node, _ *Service, id string) string {
		if err := node.RevokeSessions(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		return testPassword
	}},
	{"disable", func(t *testing.T, node, _ *Service, id string) string {
		if _, err := node.Disable(t.Context(), id, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := node.Enable(t.Context(), id, nil); err != nil {
			t.Fatal(err)
		}
		return testPassword
	}},
	{"reset request", func(t *testing.T, node, _ *Service, id string) string {
		if _, err := node.RequestReset(t.Context(), id, "u_someadmin", nil); err != nil {
			t.Fatal(err)
		}
		return testPassword
	}},
	{"reset", func(t *testing.T, node, _ *Service, id string) string {
		_, pw, err := node.ResetPassword(t.Context(), id, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return pw
	}},
	{"password change", func(t *testing.T, node, other *Service, id string) string {
		_, token, _, err := node.ChangePassword(t.Context(), id, testPassword, otherPassword, "192.0.2.1", nil)
		if err != nil {
			t.Fatal(err)
		}
		// The session the change opened for the person is theirs, on
		// every node.
		if ok, err := authenticated(t.Context(), token, node, other); err != nil || !ok {
			t.Fatalf("the session the password change opened: valid %v, err %v", ok, err)
		}
		return otherPassword
	}},
}

func authenticated(ctx context.Context, token string, nodes ...*Service) (bool, error) {
	for _, n := range nodes {
		_, _, err := n.Authenticate(ctx, token)
		if errors.Is(err, fault.ErrUnauthenticated) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// TestRevocationDoesNotCompareNodeClocks: a revocation ends exactly the
// sessions opened before it, whichever node opened them and whichever node
// revokes, however far apart their clocks are. A session opened on a node
// whose clock is ahead used to outlive a revocation written by a node whose
// clock is behind (its opening time was "after" the revocation time), and
// a sign-in on a node whose clock is behind, after a revocation written by
// one whose clock is ahead, used to be ended by it.
func TestRevocationDoesNotCompareNodeClocks(t *testing.T) {
	hashcost.UseTestCost()
	for _, r := range revocations {
		t.Run(r.name+"/opened before, on the node ahead", func(t *testing.T) {
			ctx := t.Context()
			ahead, behind := twoNodes(t)
			a := createMediator(t, ahead, "mia@example.com")
			_, token, _, err := ahead.Login(ctx, "mia@example.com", testPassword, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			r.run(t, behind, ahead, a.ID)
			ok, err := authenticated(ctx, token, ahead, behind)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				t.Fatalf("a session opened before the %s (on a node whose clock is %v ahead of the revoking node's) outlived it", r.name, clockSkew)
			}
		})
		t.Run(r.name+"/opened after, on the node behind", func(t *testing.T) {
			ctx := t.Context()
			ahead, behind := twoNodes(t)
			a := createMediator(t, ahead, "mia@example.com")
			_, old, _, err := behind.Login(ctx, "mia@example.com", testPassword, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			pw := r.run(t, ahead, behind, a.ID)
			_, token, _, err := behind.Login(ctx, "mia@example.com", pw, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			ok, err := authenticated(ctx, token, ahead, behind)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				t.Fatalf("a sign-in after the %s (on a node whose clock is %v behind the revoking node's) was ended by it", r.name, clockSkew)
			}
			if ok, err := authenticated(ctx, old, ahead, behind); err != nil || ok {
				t.Fatalf("the session from before the %s: valid %v, err %v", r.name, ok, err)
			}
		})
	}
}

// TestSessionOpenedDuringRevocationEnds: a sign-in that read the account
// before a revocation was written and stored its session after it belongs
// to the revoked sessions (a disabling while the password was checked).
func TestSessionOpenedDuringRevocationEnds(t *testing.T) {
	ahead, behind := twoNodes(t)
	ctx := t.Context()
	a := createMediator(t, behind, "mia@example.com")
	if err := behind.RevokeSessions(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	// ahead read the record before a second revocation.
	read, err := ahead.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := behind.RevokeSessions(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	token, _, err := ahead.newSession(ctx, read, false)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := authenticated(ctx, token, ahead, behind); err != nil || ok {
		t.Fatalf("a session opened from the record as it was before a revocation: valid %v, err %v", ok, err)
	}
}

// TestSessionsFromBeforeGenerations: a session stored before sessions
// carried a generation is judged as it was, by SessionsNotBefore, until the
// account's sessions are next revoked, which ends it on any clock (or the
// account's next sign-in gives it a generation).
func TestSessionsFromBeforeGenerations(t *testing.T) {
	ahead, behind := twoNodes(t)
	ctx := t.Context()
	a := createMediator(t, behind, "mia@example.com")
	// The account is from before generations too.
	dropGeneration(t, behind, a.ID)
	base := behind.now()
	legacy := func(created time.Time) string {
		t.Helper()
		token := ids.Token()
		sess := Session{AccountID: a.ID, Created: created, Expires: created.Add(time.Hour), Cap: created.Add(24 * time.Hour)}
		if _, err := behind.meta.Create(ctx, behind.sessionKey(token), sess); err != nil {
			t.Fatal(err)
		}
		return token
	}
	// An older release revoked at base (it wrote SessionsNotBefore only).
	if _, err := metastore.Update(ctx, behind.meta, accountKey(a.ID), func(a *Account) error {
		a.SessionsNotBefore = &base
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before, after := legacy(base.Add(-time.Second)), legacy(base.Add(time.Second))
	if ok, err := authenticated(ctx, before, ahead, behind); err != nil || ok {
		t.Fatalf("older session opened before the older revocation: valid %v, err %v", ok, err)
	}
	if ok, err := authenticated(ctx, after, ahead, behind); err != nil || !ok {
		t.Fatalf("older session opened after the older revocation: valid %v, err %v", ok, err)
	}
	// A session opened now carries a generation: the older revocation's
	// time does not judge it, whatever this node's clock says.
	early := behind.now
	behind.SetClock(func() time.Time { return base.Add(-time.Hour) })
	cur, err := behind.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _, err := behind.NewSession(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	behind.SetClock(early)
	if ok, err := authenticated(ctx, fresh, ahead, behind); err != nil || !ok {
		t.Fatalf("a session opened after the older revocation on a clock behind it: valid %v, err %v", ok, err)
	}
	// A revocation now ends the older session, though the revoking node's
	// clock is behind the time it was opened at.
	behind.SetClock(func() time.Time { return base.Add(-time.Minute) })
	if err := behind.RevokeSessions(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{after, fresh} {
		if ok, err := authenticated(ctx, tok, ahead, behind); err != nil || ok {
			t.Fatalf("a session after a revocation on a clock behind it: valid %v, err %v", ok, err)
		}
	}
}

// dropGeneration rewrites the account's record as a release from before
// session generations does: it decodes the record without the field and
// writes it back on its next change.
func dropGeneration(t *testing.T, svc *Service, id string) {
	t.Helper()
	if _, err := metastore.Update(t.Context(), svc.meta, accountKey(id), func(rec *map[string]any) error {
		if _, ok := (*rec)["sessionGeneration"]; !ok {
			t.Fatalf("account record has no sessionGeneration: %v", *rec)
		}
		delete(*rec, "sessionGeneration")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRollbackKeepsRevokedSessionsEnded: a rollback to a release from
// before session generations rewrites account records without their
// generation (back to 0). A session revoked before must stay ended once
// the new release runs again: sessions used to be opened at generation 0,
// so a revoked one matched the dropped generation again; and raising a
// dropped generation back to a number a revoked session carries (1) would
// revive it at the next sign-in.
func TestRollbackKeepsRevokedSessionsEnded(t *testing.T) {
	hashcost.UseTestCost()
	for _, r := range revocations {
		t.Run(r.name, func(t *testing.T) {
			ctx := t.Context()
			ahead, behind := twoNodes(t)
			a := createMediator(t, behind, "mia@example.com")
			_, stolen, _, err := behind.Login(ctx, "mia@example.com", testPassword, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			pw := r.run(t, behind, ahead, a.ID)
			dropGeneration(t, behind, a.ID)
			if ok, err := authenticated(ctx, stolen, ahead, behind); err != nil || ok {
				t.Fatalf("a session revoked (%s) before the account lost its generation: valid %v, err %v", r.name, ok, err)
			}
			// The next sign-ins, on either node, work; the revoked session
			// stays ended.
			for _, n := range []*Service{ahead, behind} {
				_, token, _, err := n.Login(ctx, "mia@example.com", pw, "192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				if ok, err := authenticated(ctx, token, ahead, behind); err != nil || !ok {
					t.Fatalf("a sign-in after the rollback: valid %v, err %v", ok, err)
				}
				if ok, err := authenticated(ctx, stolen, ahead, behind); err != nil || ok {
					t.Fatalf("a session revoked (%s) before the rollback, after a sign-in since: valid %v, err %v", r.name, ok, err)
				}
			}
		})
	}
}

// TestNoSessionOpenedAtGenerationZero: an account at generation 0 (a
// record from before generations were random, or rewritten by an older
// release) takes a random one before its first session; a revocation
// written between the read of the account and that raise ends the
// sign-in.
func TestNoSessionOpenedAtGenerationZero(t *testing.T) {
	ahead, behind := twoNodes(t)
	ctx := t.Context()
	a := createMediator(t, behind, "mia@example.com")
	dropGeneration(t, behind, a.ID)
	read, err := ahead.Get(ctx, a.ID)
	if err != nil || read.SessionGeneration != 0 {
		t.Fatalf("account after the drop: generation %d, err %v", read.SessionGeneration, err)
	}
	_, sess, err := ahead.NewSession(ctx, read)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Generation == nil || *sess.Generation == 0 {
		t.Fatalf("session opened at generation %v", sess.Generation)
	}
	// A second sign-in from a read before the raise joins the raised
	// generation: the first session stays.
	_, sess2, err := behind.NewSession(ctx, read)
	if err != nil || *sess2.Generation != *sess.Generation {
		t.Fatalf("second session: %v, err %v; want generation %d", sess2.Generation, err, *sess.Generation)
	}
	// A revocation between the read and the raise.
	dropGeneration(t, behind, a.ID)
	read, err = ahead.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := behind.RevokeSessions(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	dropGeneration(t, behind, a.ID)
	if _, _, err := ahead.NewSession(ctx, read); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("a session from a read before a revocation, at generation 0: err = %v, want ErrUnauthenticated", err)
	}
}

// revokesAfterLanding writes the next account record it is armed for,
// then, before answering, runs revoke (a revocation written right after
// the change) and answers an error: the caller reads the record back and
// finds both.
type revokesAfterLanding struct {
	objstore.Store
	armed  atomic.Bool
	revoke func()
}

func (f *revokesAfterLanding) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if err == nil && strings.HasPrefix(key, "accounts/") && f.armed.CompareAndSwap(true, false) {
		f.revoke()
		return objstore.Info{}, context.DeadlineExceeded
	}
	return info, err
}

// TestPasswordChangeReadBackKeepsItsGeneration: a password change whose
// write landed though the store answered an error is read back; a
// revocation written after it (an administrator's sign-out-everywhere)
// must end the session the change opens, which used to carry the
// generation of the record read back, the revocation's.
func TestPasswordChangeReadBackKeepsItsGeneration(t *testing.T) {
	hashcost.UseTestCost()
	var f *revokesAfterLanding
	svc := newServiceOver(t, t.TempDir(), func(obj objstore.Store) objstore.Store { f = &revokesAfterLanding{Store: obj}; return f })
	ctx := t.Context()
	a := createMediator(t, svc, "mia@example.com")
	f.revoke = func() {
		if err := svc.RevokeSessions(ctx, a.ID); err != nil {
			t.Error(err)
		}
	}
	f.armed.Store(true)
	_, token, _, err := svc.ChangePassword(ctx, a.ID, testPassword, otherPassword, "192.0.2.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.armed.Load() {
		t.Fatal("the store never failed the change's write")
	}
	if ok, err := authenticated(ctx, token, svc); err != nil || ok {
		t.Fatalf("the change's session after a revocation written after the change: valid %v, err %v", ok, err)
	}
}

// Review M2: a password change checks the current password, then writes
// the new one. A reset or a revocation landing between the two (here
// from the change's own audit step, which runs just before the write)
// stood undone: the update, reading the record again on its conflict,
// wrote the new password over it and opened a session. Now the change
// is refused and the revocation stands.
func TestPasswordChangeDoesNotUndoARevocationMeanwhile(t *testing.T) {
	hashcost.UseTestCost()
	svc, _ := newService(t)
	ctx := t.Context()
	a := createMediator(t, svc, "mia@example.com")
	_, old, _, err := svc.Login(ctx, "mia@example.com", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	revokeMeanwhile := func(ctx context.Context, _ Account) error {
		return svc.RevokeSessions(ctx, a.ID)
	}
	_, token, _, err := svc.ChangePassword(ctx, a.ID, testPassword, otherPassword, "192.0.2.1", revokeMeanwhile)
	if err == nil {
		t.Errorf("a password change over a revocation that landed meanwhile succeeded")
	}
	for what, tok := range map[string]string{"the session the revocation ended": old, "the change's session": token} {
		if tok == "" {
			continue
		}
		if ok, err := authenticated(ctx, tok, svc); err != nil || ok {
			t.Errorf("%s: valid %v, err %v", what, ok, err)
		}
	}
	if _, _, _, err := svc.Login(ctx, "mia@example.com", otherPassword, "192.0.2.1"); err == nil {
		t.Error("the new password, written over the revocation, signs in")
	}
}

// A session generation is a whole number a float64 holds exactly, so an
// account record read and written back through a generic JSON reader
// (asBeforeLineage in web's tests did so, and revoked every session)
// keeps it.
func TestGenerationSurvivesAFloatJSONReader(t *testing.T) {
	for range 1000 {
		g := newGeneration(0)
		if g == 0 || g > maxGeneration || uint64(float64(g)) != g {
			t.Fatalf("generation %d does not survive a float64", g)
		}
	}
}
