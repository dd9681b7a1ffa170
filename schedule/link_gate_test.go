package schedule

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
)

// TestLinkMailCheckedBeforeSending: a link back in for A, and an
// invitation for side A, queued while their address was nobody else's,
// are not sent once a seat of side B has that address (an invitation for
// B at it, itself held back): whoever reads the mailbox could open the
// link first and be signed in as A, or join side A. The outbox asks
// Current just before sending. A link to an address nobody else has is
// sent as before.
func TestLinkMailCheckedBeforeSending(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	ctx := t.Context()
	const family = "family@example.test"
	own := "own-" + e.c.ID + "@example.test"

	// A's link back in, to A's own address (alex@, nobody else's yet).
	re, err := e.cases.CreateReentry(ctx, e.mediator, e.c.ID, e.tenant.ID, time.Hour)
	if err != nil || re.SharedAddress {
		t.Fatalf("re-entry for A: shared %v, %v", re.SharedAddress, err)
	}
	if _, err := e.svc.MailReentry(ctx, e.c.ID, re.AccountID, re.Email, joinURL+"/join#"+re.Token, re.Expires); err != nil {
		t.Fatal(err)
	}
	// An invitation for side A's counsel at the family address.
	invA, err := e.cases.CreateInvite(ctx, e.mediator, e.c.ID, cases.NewInvite{Role: cases.RoleCounsel, Side: "A", Name: "Ari Counsel", Email: family})
	if err != nil || invA.SharedAddress {
		t.Fatalf("invitation for A: shared %v, %v", invA.SharedAddress, err)
	}
	if _, err := e.svc.MailInvite(ctx, e.c.ID, invA.Seat, family, joinURL+"/join#"+invA.Token, invA.Expires); err != nil {
		t.Fatal(err)
	}
	// Controls: B's link back in and an invitation to an address nobody
	// else has.
	reB, err := e.cases.CreateReentry(ctx, e.mediator, e.c.ID, e.landlord.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MailReentry(ctx, e.c.ID, reB.AccountID, reB.Email, joinURL+"/join#"+reB.Token, reB.Expires); err != nil {
		t.Fatal(err)
	}
	invO, err := e.cases.CreateInvite(ctx, e.mediator, e.c.ID, cases.NewInvite{Role: cases.RoleObserver, Name: "Olu Observer", Email: own})
	if err != nil || invO.SharedAddress {
		t.Fatalf("invitation to an own address: shared %v, %v", invO.SharedAddress, err)
	}
	if _, err := e.svc.MailInvite(ctx, e.c.ID, invO.Seat, own, joinURL+"/join#"+invO.Token, invO.Expires); err != nil {
		t.Fatal(err)
	}

	// Before the outbox runs, the mediator invites side B at A's address
	// and at the family address: those invitations are held back.
	for _, addr := range []string{"Alex@example.test", family} {
		inv, err := e.cases.CreateInvite(ctx, e.mediator, e.c.ID, cases.NewInvite{Role: cases.RoleCounsel, Side: "B", Name: "Bea Counsel " + addr[:3], Email: addr})
		if err != nil || !inv.SharedAddress {
			t.Fatalf("invitation for B at %s: shared %v, %v", addr, inv.SharedAddress, err)
		}
	}
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]mail.State{re.Email: mail.Cancelled, family: mail.Cancelled, reB.Email: mail.Sent, own: mail.Sent}
	got := map[string]mail.State{}
	for _, m := range msgs {
		if m.Kind == mail.KindJoin {
			got[m.To] = m.State
		}
	}
	for to, st := range want {
		if got[to] != st {
			t.Errorf("link mail to %s: %q, want %q", to, got[to], st)
		}
	}
}

// readsDown fails every read of an account or an invitation while down
// is set.
type readsDown struct {
	objstore.Store
	down atomic.Bool
}

func (f *readsDown) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if f.down.Load() && (strings.HasPrefix(key, "accounts/") || strings.HasPrefix(key, "invites/")) {
		return nil, objstore.Info{}, errors.New("injected: store down")
	}
	return f.Store.Get(ctx, key, opts)
}

// TestLinkMailCheckFailsClosed: when the seats of the case cannot be read
// just before a link mail is sent, the check says so (an error, so the
// outbox tries again later) and the mail is not sent on it.
func TestLinkMailCheckFailsClosed(t *testing.T) {
	fd := &readsDown{}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { fd.Store = s; return fd })
	ctx := t.Context()
	re, err := e.cases.CreateReentry(ctx, e.mediator, e.c.ID, e.tenant.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MailReentry(ctx, e.c.ID, re.AccountID, re.Email, joinURL+"/join#"+re.Token, re.Expires); err != nil {
		t.Fatal(err)
	}
	inv, err := e.cases.CreateInvite(ctx, e.mediator, e.c.ID, cases.NewInvite{Role: cases.RoleCounsel, Side: "A", Name: "Ari Counsel", Email: "ari@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MailInvite(ctx, e.c.ID, inv.Seat, "ari@example.test", joinURL+"/join#"+inv.Token, inv.Expires); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.Kind != mail.KindJoin {
			continue
		}
		n++
		fd.down.Store(true)
		ok, err := e.svc.Current(ctx, &m)
		fd.down.Store(false)
		if ok || err == nil {
			t.Fatalf("%s with the seats unreadable: current %v, %v", m.ID, ok, err)
		}
		if ok, err := e.svc.Current(ctx, &m); !ok || err != nil {
			t.Fatalf("%s once readable: current %v, %v", m.ID, ok, err)
		}
	}
	if n != 2 {
		t.Fatalf("%d link mails queued, want 2", n)
	}
}
