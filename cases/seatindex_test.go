package cases

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// seatStore is the real store, counting the records read and failing the
// writes failPut picks.
type seatStore struct {
	objstore.Store
	mu      sync.Mutex
	reads   []string
	failPut func(key string) bool
}

var errPutFailed = errors.New("store unavailable")

func (s *seatStore) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	s.mu.Lock()
	s.reads = append(s.reads, key)
	s.mu.Unlock()
	return s.Store.Get(ctx, key, opts)
}

func (s *seatStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	s.mu.Lock()
	fail := s.failPut != nil && s.failPut(key)
	s.mu.Unlock()
	if fail {
		return objstore.Info{}, errPutFailed
	}
	return s.Store.Put(ctx, key, r, size, opts)
}

func (s *seatStore) setFailPut(f func(string) bool) {
	s.mu.Lock()
	s.failPut = f
	s.mu.Unlock()
}

// counted returns the reads since the last call.
func (s *seatStore) counted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reads
	s.reads = nil
	return r
}

func newSeatEnv(t testing.TB) (*env, *seatStore) {
	st := &seatStore{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { st.Store = s; return st })
	return e, st
}

func (e *env) listKeys(t testing.TB, prefix string) []string {
	t.Helper()
	var keys []string
	if err := e.meta.List(t.Context(), prefix, func(key string) error { keys = append(keys, key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestSeatIndexWriteFailsNoSeat: a seat is never made without its index
// entry. An invitation whose entry cannot be written is refused and not
// stored; a join whose participant's entry cannot be written is refused
// and the case does not name them. A crash after the entry and before
// the record (the invitation's write failing) leaves an entry no record
// backs, which the request ignores: the holder still gets their link.
func TestSeatIndexWriteFailsNoSeat(t *testing.T) {
	e, st := newSeatEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 1")
	const addr = "family@example.test"
	pat := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", addr)
	e.confirm(t, pat, c.ID)
	other := e.newCase(t, med, "Flat 2")

	invitesBefore := len(e.listKeys(t, "invites/"))
	st.setFailPut(func(key string) bool { return strings.HasPrefix(key, SeatIndexPrefix) })
	if _, err := e.svc.CreateInvite(ctx, med, other.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam", Email: addr}); !errors.Is(err, errPutFailed) {
		t.Fatalf("an invitation made though its index entry failed: %v", err)
	}
	if n := len(e.listKeys(t, "invites/")); n != invitesBefore {
		t.Fatalf("%d invitation records stored; want none without an index entry", n-invitesBefore)
	}

	// A join: the invitation is made (and indexed) first, then the
	// participant's entry fails.
	st.setFailPut(nil)
	inv := e.invite(t, med, other.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam", Email: "sam@example.test"})
	st.setFailPut(func(key string) bool { return strings.HasPrefix(key, SeatIndexPrefix) })
	if _, err := e.svc.Join(ctx, inv.Token); !errors.Is(err, errPutFailed) {
		t.Fatalf("a join though the participant's index entry failed: %v", err)
	}
	if got, err := e.svc.Load(ctx, other.ID); err != nil || len(got.Participants) != 0 {
		t.Fatalf("the case names %d participants after the failed join (%v); want none", len(got.Participants), err)
	}
	// Finished by a retry after the claim's lease.
	st.setFailPut(nil)
	later := time.Now().Add(claimLease + time.Second)
	e.svc.SetClock(func() time.Time { return later })
	if _, err := e.svc.Join(ctx, inv.Token); err != nil {
		t.Fatalf("the join finished later: %v", err)
	}

	// The entry written, the invitation's write failing: nothing backs
	// the entry, and Pat still has the only seat.
	entriesBefore := len(e.listKeys(t, e.svc.seatAddressPrefix(addr)))
	st.setFailPut(func(key string) bool { return strings.HasPrefix(key, "invites/") })
	if _, err := e.svc.CreateInvite(ctx, med, other.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Ann", Email: addr}); !errors.Is(err, errPutFailed) {
		t.Fatalf("the invitation's write failed, yet: %v", err)
	}
	st.setFailPut(nil)
	if n := len(e.listKeys(t, e.svc.seatAddressPrefix(addr))); n != entriesBefore+1 {
		t.Fatalf("%d entries written before the failed invitation; want 1", n-entriesBefore)
	}
	if r, ans, err := e.svc.IssueSignInLink(ctx, addr); err != nil || ans != SignInLinkMade || r.AccountID != pat.ID {
		t.Fatalf("an entry no record backs: answer %v for %s, %v; want Pat's link", ans, r.AccountID, err)
	}
	// The invitation made: the address is shared.
	e.invite(t, med, other.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Ann", Email: " Family@Example.test"})
	if r, ans, err := e.svc.IssueSignInLink(ctx, addr); err != nil || ans != SignInShared || r.Token != "" {
		t.Fatalf("an invitation in another case: answer %v, link %q, %v; want SignInShared", ans, r.Token, err)
	}
}

// TestSignInLinkReadsTheAddressEntries: with the index complete, a
// request reads the address's entries and the records they name — a
// few reads whatever the program's size — and no other case's or
// invitation's record; before the index (every record read), the same
// request reads more than there are cases. An unreadable case record an
// entry names still ends the request with no link.
func TestSignInLinkReadsTheAddressEntries(t *testing.T) {
	e, st := newSeatEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	const cases = 60
	e.manyRecords(t, med, cases)
	c := e.newCase(t, med, "Flat P")
	const addr = "pat@example.test"
	pat := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", addr)
	e.confirm(t, pat, c.ID)

	st.counted()
	if r, ans, err := e.svc.IssueSignInLink(ctx, addr); err != nil || ans != SignInLinkMade || r.AccountID != pat.ID {
		t.Fatalf("answer %v for %s, %v; want Pat's link", ans, r.AccountID, err)
	}
	reads := st.counted()
	// Pat's candidate entry and account, the staff claim, Pat's two
	// entries, invitation and case (and the case's reads on load), the
	// re-entry link's write and audit: a dozen or so.
	if len(reads) > 20 {
		t.Errorf("%d reads with the index; want a few: %v", len(reads), reads)
	}
	for _, k := range reads {
		if strings.HasPrefix(k, "cases/") && !strings.HasPrefix(k, "cases/"+c.ID+"/") {
			t.Errorf("read another case's record: %s", k)
		}
	}
	invReads := 0
	for _, k := range reads {
		if strings.HasPrefix(k, "invites/") {
			invReads++
		}
	}
	if invReads != 1 {
		t.Errorf("%d invitation records read; want Pat's one", invReads)
	}

	e.withoutSeatIndex(t)
	st.counted()
	if r, ans, err := e.svc.IssueSignInLink(ctx, addr); err != nil || ans != SignInLinkMade || r.AccountID != pat.ID {
		t.Fatalf("without the index: answer %v for %s, %v; want Pat's link", ans, r.AccountID, err)
	}
	if n := len(st.counted()); n <= cases {
		t.Errorf("%d reads reading every record; the test does not tell the two apart", n)
	}
	if err := e.svc.BackfillSeatIndex(ctx); err != nil {
		t.Fatal(err)
	}

	broken := errors.New("store unavailable")
	g := &overlapGate{Store: st.Store}
	st.Store = g
	g.mu.Lock()
	g.fail = func(key string) error {
		if key == "cases/"+c.ID+"/case" {
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

// TestSeatIndexBackfill: records stored before the index existed (no
// entries, no marker) are read in full until BackfillSeatIndex indexes
// them; then the index alone gives the same answers — a shared address
// (a participant in a closed case, an invitation in another) stays
// shared, a lone one gets its link. A second backfill reads nothing but
// the marker.
func TestSeatIndexBackfill(t *testing.T) {
	e, st := newSeatEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c1 := e.newCase(t, med, "Flat 1")
	c2 := e.newCase(t, med, "Flat 2")
	c3 := e.newCase(t, med, "Flat 3")
	const shared, lone = "family@example.test", "lone@example.test"
	pat := e.joinAs(t, med, c1.ID, RoleParty, "A", "Pat", shared)
	e.confirm(t, pat, c1.ID)
	e.joinAs(t, med, c2.ID, RoleParty, "B", "Sam", shared)
	if _, err := e.svc.SetStage(ctx, med, c2.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	e.invite(t, med, c3.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Kit", Email: shared})
	lo := e.joinAs(t, med, c3.ID, RoleParty, "B", "Lo", lone)
	e.confirm(t, lo, c3.ID)

	// As stored before the index: no entries, no marker.
	for _, k := range e.listKeys(t, SeatIndexPrefix) {
		if err := e.meta.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	e.withoutSeatIndex(t)
	want := func(stage string) {
		t.Helper()
		if r, ans, err := e.svc.IssueSignInLink(ctx, shared); err != nil || ans != SignInShared || r.Token != "" {
			t.Fatalf("%s: the shared address: answer %v, link %q, %v; want SignInShared", stage, ans, r.Token, err)
		}
		if r, ans, err := e.svc.IssueSignInLink(ctx, lone); err != nil || ans != SignInLinkMade || r.AccountID != lo.ID {
			t.Fatalf("%s: the lone address: answer %v for %s, %v; want Lo's link", stage, ans, r.AccountID, err)
		}
	}
	want("before the backfill")
	if done, err := e.svc.seatIndexComplete(ctx); err != nil || done {
		t.Fatalf("index complete before the backfill: %v %v", done, err)
	}
	if err := e.svc.BackfillSeatIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if done, err := e.svc.seatIndexComplete(ctx); err != nil || !done {
		t.Fatalf("index not complete after the backfill: %v %v", done, err)
	}
	// Pat's invitation and account, Sam's, Kit's invitation.
	if n := len(e.listKeys(t, e.svc.seatAddressPrefix(shared))); n != 5 {
		t.Fatalf("%d entries for the shared address; want 5", n)
	}
	want("after the backfill")
	st.counted()
	if err := e.svc.BackfillSeatIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if reads := st.counted(); len(reads) != 0 {
		t.Fatalf("a second backfill read %v", reads)
	}
}

// TestSeatIndexEntriesOpaque: an entry's key holds neither the address
// nor the case, and its record is sealed.
func TestSeatIndexEntriesOpaque(t *testing.T) {
	e := newEnv(t)
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 1")
	e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", "pat@example.test")
	keys := e.listKeys(t, SeatIndexPrefix)
	if len(keys) != 2 {
		t.Fatalf("entries %v; want the invitation's and the participant's", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "pat") || strings.Contains(k, c.ID) {
			t.Errorf("entry key %s names the address or the case", k)
		}
		raw, _, err := e.meta.Objects().Get(t.Context(), k, objstore.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(raw)
		raw.Close()
		if strings.Contains(string(b), c.ID) {
			t.Errorf("entry %s holds the case id in clear", k)
		}
	}
}
