package cases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// overlapGate is a store whose reads of records picked by match, while
// armed, wait until two of them are in flight at once and record whether
// they ever were: reads one after another never are (the first waits
// 10 s, then the gate disarms).
type overlapGate struct {
	objstore.Store
	mu       sync.Mutex
	match    func(key string) bool // nil: disarmed
	inFlight int
	both     chan struct{} // closed once two were in flight
	overlap  bool
	fail     func(key string) error // nil: no failure
}

func (g *overlapGate) arm(match func(string) bool) {
	g.mu.Lock()
	g.match, g.inFlight, g.both, g.overlap = match, 0, make(chan struct{}), false
	g.mu.Unlock()
}

func (g *overlapGate) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	g.mu.Lock()
	fail := g.fail
	hit := g.match != nil && g.match(key)
	var both chan struct{}
	if hit {
		g.inFlight++
		both = g.both
		if g.inFlight == 2 && !g.overlap {
			g.overlap = true
			close(both)
		}
	}
	g.mu.Unlock()
	if hit {
		select {
		case <-both:
		case <-time.After(10 * time.Second):
			g.mu.Lock()
			g.match = nil // no overlap: the rest read unhindered
			g.mu.Unlock()
		case <-ctx.Done():
		}
		defer func() {
			g.mu.Lock()
			g.inFlight--
			g.mu.Unlock()
		}()
	}
	if fail != nil {
		if err := fail(key); err != nil {
			return nil, objstore.Info{}, err
		}
	}
	return g.Store.Get(ctx, key, opts)
}

func (g *overlapGate) overlapped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.overlap
}

// TestSignInLinkReadsInParallel: the worker reads invitation records and
// case records in parallel (a request in a program with many thousands
// of them fits the worker's time), not one after another: two reads of
// each kind are in flight at once. An error reading one case record that
// is not "gone" still ends the request with no link.
func TestSignInLinkReadsInParallel(t *testing.T) {
	g := &overlapGate{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { g.Store = s; return g })
	e.withoutSeatIndex(t) // the reads of every record
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	var last *Case
	for i := range 4 {
		last = e.newCase(t, med, fmt.Sprintf("Flat %d", i))
		e.joinAs(t, med, last.ID, RoleParty, "A", "Bo", fmt.Sprintf("bo%d@example.test", i))
	}
	const addr = "pat@example.test"
	pat := e.joinAs(t, med, last.ID, RoleParty, "B", "Pat", addr)
	e.confirm(t, pat, last.ID)
	for _, kind := range []string{"invites/", "cases/"} {
		g.arm(func(key string) bool {
			return strings.HasPrefix(key, kind) && (kind == "invites/" || strings.HasSuffix(key, "/case"))
		})
		r, ans, err := e.svc.IssueSignInLink(ctx, addr)
		overlapped := g.overlapped()
		g.arm(nil)
		if err != nil || ans != SignInLinkMade || r.AccountID != pat.ID {
			t.Fatalf("%s: answer %v for %s, %v; want Pat's link", kind, ans, r.AccountID, err)
		}
		if !overlapped {
			t.Errorf("%s records were read one after another, not in parallel", kind)
		}
	}

	broken := errors.New("store unavailable")
	g.mu.Lock()
	g.fail = func(key string) error {
		if key == "cases/"+last.ID+"/case" {
			return broken
		}
		return nil
	}
	g.mu.Unlock()
	before := e.log.Size()
	if r, ans, err := e.svc.IssueSignInLink(ctx, addr); !errors.Is(err, broken) || ans != SignInNone || r.Token != "" {
		t.Fatalf("a case record unreadable: answer %v, link %q, %v; want the error and no link", ans, r.Token, err)
	}
	if n := e.log.Size(); n != before {
		t.Fatalf("%d audit entries written; want none (no link made)", n-before)
	}
}

// manyRecords fills e with n cases, each with an invitation to its own
// address: one in three joined, one in four closed.
func (e *env) manyRecords(t testing.TB, med account.Account, n int) {
	t.Helper()
	for i := range n {
		c := e.newCase(t, med, fmt.Sprintf("Flat %d", i))
		addr := fmt.Sprintf("p%d@example.test", i)
		if i%3 == 0 {
			e.joinAs(t, med, c.ID, RoleParty, "A", "Bo", addr)
		} else {
			e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Bo", Email: addr})
		}
		if i%4 == 0 {
			if _, err := e.svc.SetStage(t.Context(), med, c.ID, StageClosure, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSignInLinkManyRecords: with a few hundred cases and invitations
// the answer is what it is with a few: the one confirmed seat gets its
// link; a second seat anywhere (a pending invitation in one of the
// cases, a joined participant in a closed one) makes it SignInShared;
// with the index of seats by address and reading every record alike.
func TestSignInLinkManyRecords(t *testing.T) {
	t.Run("index", func(t *testing.T) { signInLinkManyRecords(t, true) })
	t.Run("every-record", func(t *testing.T) { signInLinkManyRecords(t, false) })
}

func signInLinkManyRecords(t *testing.T, indexed bool) {
	e := newEnv(t)
	if !indexed {
		e.withoutSeatIndex(t)
	}
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	e.manyRecords(t, med, 200)
	c := e.newCase(t, med, "Flat 3")
	const addr = "pat@example.test"
	pat := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", addr)
	e.confirm(t, pat, c.ID)
	if r, ans, err := e.svc.IssueSignInLink(ctx, addr); err != nil || ans != SignInLinkMade || r.AccountID != pat.ID || r.CaseID != c.ID {
		t.Fatalf("one seat among many: answer %v for %s in %s, %v; want Pat's link", ans, r.AccountID, r.CaseID, err)
	}
	// p3@ joined case 3 (one in three); confirmed, the address is theirs
	// alone.
	var p3 account.Account
	if err := e.meta.List(ctx, "accounts/", func(key string) error {
		var a account.Account
		if _, err := e.meta.Get(ctx, key, &a); err != nil {
			return err
		}
		if a.Email == "p3@example.test" {
			p3 = a
		}
		return nil
	}); err != nil || p3.ID == "" {
		t.Fatalf("p3's account: %+v, %v", p3, err)
	}
	var c3 string
	if err := e.meta.List(ctx, "cases/", func(key string) error {
		id, ok := strings.CutSuffix(strings.TrimPrefix(key, "cases/"), "/case")
		if !ok {
			return nil
		}
		x, err := e.svc.Load(ctx, id)
		if err == nil {
			if _, in := x.Participant(p3.ID); in {
				c3 = id
			}
		}
		return err
	}); err != nil || c3 == "" {
		t.Fatalf("p3's case: %q, %v", c3, err)
	}
	e.confirm(t, p3, c3)
	if r, ans, err := e.svc.IssueSignInLink(ctx, "p3@example.test"); err != nil || ans != SignInLinkMade || r.AccountID != p3.ID {
		t.Fatalf("p3 alone: answer %v for %s, %v; want p3's link", ans, r.AccountID, err)
	}
	// Pat's case invites the other side at Pat's address.
	e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam", Email: addr})
	if r, ans, err := e.svc.IssueSignInLink(ctx, addr); err != nil || ans != SignInShared || r.Token != "" {
		t.Fatalf("a second invitation among many: answer %v, link %q, %v; want SignInShared", ans, r.Token, err)
	}
	// p3@ also in Pat's case, as another party: shared.
	e.joinAs(t, med, c.ID, RoleParty, "B", "Ivo", "p3@example.test")
	if r, ans, err := e.svc.IssueSignInLink(ctx, "p3@example.test"); err != nil || ans != SignInShared || r.Token != "" {
		t.Fatalf("p3 with a second seat: answer %v, link %q, %v; want SignInShared", ans, r.Token, err)
	}
	// p4@ was only invited (case 4, closed): another confirmed holder of
	// p4@ in Pat's case shares it with that invitation.
	p4 := e.joinAs(t, med, c.ID, RoleParty, "B", "Una", "p4@example.test")
	e.confirm(t, p4, c.ID)
	if r, ans, err := e.svc.IssueSignInLink(ctx, "p4@example.test"); err != nil || ans != SignInShared || r.Token != "" {
		t.Fatalf("an invitation in a closed case: answer %v, link %q, %v; want SignInShared", ans, r.Token, err)
	}
}

// BenchmarkIssueSignInLink: one request for a sign-in link among 300
// cases and invitations, on the directory store ("dir") and on the test
// MinIO ("s3", skipped without it: scripts/services.sh), where each read
// is a round trip.
func BenchmarkIssueSignInLink(b *testing.B) {
	dir := func(testing.TB) func(objstore.Store) objstore.Store { return nil }
	s3 := func(b testing.TB) func(objstore.Store) objstore.Store {
		s3, err := objstore.OpenS3(b.Context(), testenv.S3(b))
		if err != nil {
			b.Fatal(err)
		}
		return func(objstore.Store) objstore.Store { return s3 }
	}
	for _, store := range []struct {
		name  string
		store func(testing.TB) func(objstore.Store) objstore.Store
	}{{"dir", dir}, {"s3", s3}} {
		b.Run(store.name, func(b *testing.B) {
			b.Run("index", func(b *testing.B) { benchSignInLink(b, store.store(b), true) })
			b.Run("every-record", func(b *testing.B) { benchSignInLink(b, store.store(b), false) })
		})
	}
}

// benchSignInLink is one of BenchmarkIssueSignInLink's runs: with the
// index of seats by address, or reading every record.
func benchSignInLink(b *testing.B, wrap func(objstore.Store) objstore.Store, indexed bool) {
	e := newEnvWith(b, wrap)
	if !indexed {
		e.withoutSeatIndex(b)
	}
	med := staff(policy.RoleMediator, "Mia")
	e.manyRecords(b, med, 300)
	c := e.newCase(b, med, "Flat 3")
	const addr = "pat@example.test"
	pat := e.joinAs(b, med, c.ID, RoleParty, "A", "Pat", addr)
	e.confirm(b, pat, c.ID)
	for b.Loop() {
		if _, ans, err := e.svc.IssueSignInLink(b.Context(), addr); err != nil || ans != SignInLinkMade {
			b.Fatalf("answer %v, %v", ans, err)
		}
	}
}
