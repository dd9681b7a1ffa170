package cases

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// revokeOnAudit runs hook once, right after the next audit entry it is
// armed for is written: a revocation landing between a redemption's
// checks and the opening of its session.
type revokeOnAudit struct {
	objstore.Store
	hook atomic.Pointer[func()]
}

func (f *revokeOnAudit) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if err == nil && strings.HasPrefix(key, "audit/") {
		if hook := f.hook.Swap(nil); hook != nil {
			(*hook)()
		}
	}
	return info, err
}

// TestReentrySessionEndsWithRevocationDuringRedemption: a revocation of
// the participant's sessions (their removal) written after a re-entry
// link's checks and before its session is stored ends that session: it
// is opened from the account as the checks read it, not read again.
func TestReentrySessionEndsWithRevocationDuringRedemption(t *testing.T) {
	f := &revokeOnAudit{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { f.Store = s; return f })
	ctx := t.Context()
	w := e.reentryCase(t)
	r := e.reentry(t, w, 0)
	revoke := func() {
		if err := e.accounts.RevokeSessions(ctx, w.pat.ID); err != nil {
			t.Error(err)
		}
	}
	f.hook.Store(&revoke)
	j, err := e.svc.Join(ctx, r.Token)
	if f.hook.Load() != nil {
		t.Fatal("no audit entry was written during the redemption")
	}
	if err != nil {
		return // refused: no session at all
	}
	if _, _, err := e.accounts.Authenticate(ctx, j.Token); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("the re-entry session after a revocation written during the redemption: err = %v, want ErrUnauthenticated", err)
	}
}

// TestJoinSessionEndsWithRemovalDuringRedemption: a participant removed
// after their join was written and before its session is stored has that
// session ended with the removal's revocation.
func TestJoinSessionEndsWithRemovalDuringRedemption(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	inv := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat"})
	removed := false
	e.svc.OnMembership = func(ctx context.Context, caseID string, ch MembershipChange) {
		if ch.Kind != "participant.joined" || removed {
			return
		}
		removed = true
		if _, err := e.svc.RemoveParticipant(ctx, med, caseID, ch.Account); err != nil {
			t.Error(err)
		}
	}
	j, err := e.svc.Join(ctx, inv.Token)
	if !removed {
		t.Fatal("the join announced no membership change")
	}
	if err != nil {
		return // refused: no session at all
	}
	if _, _, err := e.accounts.Authenticate(ctx, j.Token); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("the session of a participant removed during their join: err = %v, want ErrUnauthenticated", err)
	}
}
