package cases

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// auditDown fails every write under audit/ while down is set: the audit
// log's store is briefly unavailable, the case records' is not.
// With slow set (nanoseconds), every write under audit/ takes that long
// first: a slow audit store.
type auditDown struct {
	objstore.Store
	down atomic.Bool
	slow atomic.Int64
	// leave, if set, is called once a case record has been written: the
	// caller goes (a closed tab) right after its change landed.
	leave atomic.Pointer[context.CancelFunc]
}

func (f *auditDown) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, "audit/") || strings.HasPrefix(key, unauditedPrefix) {
		if err := ctx.Err(); err != nil {
			return objstore.Info{}, err // a caller that left writes nothing more
		}
	}
	if strings.HasPrefix(key, "audit/") {
		if f.down.Load() {
			return objstore.Info{}, errors.New("injected: audit store down")
		}
		if d := time.Duration(f.slow.Load()); d > 0 {
			time.Sleep(d)
		}
	}
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if err == nil && strings.HasPrefix(key, "cases/") && strings.HasSuffix(key, "/case") {
		if leave := f.leave.Swap(nil); leave != nil {
			(*leave)()
		}
	}
	return info, err
}

// skewClock sets the service's clock to the real time plus an offset the
// test moves (past StaleAfter, say).
type skewClock struct{ skew atomic.Int64 }

func (c *skewClock) now() time.Time          { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *skewClock) advance(d time.Duration) { c.skew.Add(int64(d)) }

// outboxEnv is an env whose audit store fails or slows on demand and
// whose clock the test moves.
func outboxEnv(t *testing.T) (*env, *auditDown, *skewClock) {
	fo := &auditDown{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { fo.Store = s; return fo })
	clk := &skewClock{}
	e.svc.SetClock(clk.now)
	return e, fo, clk
}

func (e *env) raw(t *testing.T, id string) Case {
	t.Helper()
	var c Case
	if _, err := e.meta.Get(t.Context(), caseKey(id), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) marked(t *testing.T, id string) bool {
	t.Helper()
	var v struct{}
	_, err := e.meta.Get(t.Context(), unauditedKey(id), &v)
	return err == nil
}

// entryTypes returns the types of the audit entries from index from on.
func (e *env) entryTypes(t *testing.T, from int64) []string {
	t.Helper()
	var out []string
	for i := from; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Type)
	}
	return out
}

func count(types []string, typ string) int {
	n := 0
	for _, x := range types {
		if x == typ {
			n++
		}
	}
	return n
}

// A disclosure whose audit entry cannot be written when it is made stands,
// and the request says so (success: the event is safe in the record, and a
// retry would only disclose twice). Its entry reaches the log once the
// store is back: exactly once, ahead of the case's next change once it is
// stale. Before the outbox the disclosure stood with no entry, ever.
func TestDisclosureAuditedAfterAuditStoreRecovers(t *testing.T) {
	e, fo, clk := outboxEnv(t)
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	before := e.log.Size()

	fo.down.Store(true)
	if _, err := e.svc.Disclose(t.Context(), med, c.ID, "I once worked with Lee"); err != nil {
		t.Fatalf("Disclose with the audit store down: %v; want success, its event pending", err)
	}
	fo.down.Store(false)
	raw := e.raw(t, c.ID)
	if len(raw.Disclosures) != 1 || len(raw.Unaudited) != 1 || raw.Unaudited[0].Event.Type != "case.disclosure" || raw.Unaudited[0].Nonce == "" {
		t.Fatalf("stored case: %d disclosures, pending %+v; want the disclosure and its event, one write", len(raw.Disclosures), raw.Unaudited)
	}
	if !e.marked(t, c.ID) {
		t.Fatal("no sweep marker for the case with a pending event")
	}

	clk.advance(StaleAfter + time.Second)
	if _, err := e.svc.AddObjective(t.Context(), med, c.ID, KindObjective, "agree on repairs"); err != nil {
		t.Fatal(err)
	}
	types := e.entryTypes(t, before)
	if n := count(types, "case.disclosure"); n != 1 {
		t.Fatalf("entries since the case opened = %v: %d case.disclosure, want exactly 1", types, n)
	}
	d, o := -1, -1
	for i, typ := range types {
		switch typ {
		case "case.disclosure":
			d = i
		case "case.objective":
			o = i
		}
	}
	if o < 0 || d > o {
		t.Fatalf("entries = %v: want case.disclosure ahead of case.objective", types)
	}
	if raw := e.raw(t, c.ID); len(raw.Unaudited) != 0 {
		t.Fatalf("still pending: %+v", raw.Unaudited)
	}
}

// A stale pending event that cannot be appended blocks the case's next
// change (503), which does not stand; a young one blocks nothing.
func TestStalePendingEventRefusesChangeWhileLogDown(t *testing.T) {
	e, fo, clk := outboxEnv(t)
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")

	fo.down.Store(true)
	if _, err := e.svc.Disclose(t.Context(), med, c.ID, "I once worked with Lee"); err != nil {
		t.Fatal(err)
	}
	clk.advance(StaleAfter + time.Second)
	if _, err := e.svc.AddObjective(t.Context(), med, c.ID, KindObjective, "agree on repairs"); !errors.Is(err, fault.ErrUnavailable) {
		t.Fatalf("a change behind a stale event the log refuses: err = %v, want ErrUnavailable", err)
	}
	if raw := e.raw(t, c.ID); len(raw.Objectives) != len(c.Objectives) || len(raw.Unaudited) != 1 {
		t.Fatalf("stored case: %d objectives (%d before), %d pending; want the refused one absent and 1 pending", len(raw.Objectives), len(c.Objectives), len(raw.Unaudited))
	}
}

// Reads append nothing: a pending event is its own request's while young,
// and the next change's or the sweep's once stale. The sweep appends the
// stale event of a case no one changes, once, and drops the marker.
func TestStalePendingEventFlushedBySweep(t *testing.T) {
	e, fo, clk := outboxEnv(t)
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	before := e.log.Size()

	fo.down.Store(true)
	if _, err := e.svc.Disclose(t.Context(), med, c.ID, "I once worked with Lee"); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Get(t.Context(), med, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Unaudited != nil || got.Redacted().Unaudited != nil {
		t.Fatal("Get hands out the pending audit events")
	}
	fo.down.Store(false)

	for range 2 {
		if _, err := e.svc.Get(t.Context(), med, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Load(t.Context(), c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if types := e.entryTypes(t, before); count(types, "case.disclosure") != 0 {
		t.Fatalf("entries = %v: a read appended the pending event", types)
	}
	if _, err := e.svc.SweepOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if types := e.entryTypes(t, before); count(types, "case.disclosure") != 0 || !e.marked(t, c.ID) {
		t.Fatalf("entries = %v, marked %v: the sweep took a young event", types, e.marked(t, c.ID))
	}

	clk.advance(StaleAfter + time.Second)
	for range 2 {
		if _, err := e.svc.SweepOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if types := e.entryTypes(t, before); count(types, "case.disclosure") != 1 {
		t.Fatalf("entries = %v, want exactly one case.disclosure", types)
	}
	if raw := e.raw(t, c.ID); len(raw.Unaudited) != 0 {
		t.Fatalf("still pending after the sweep: %+v", raw.Unaudited)
	}
	if e.marked(t, c.ID) {
		t.Fatal("the sweep kept the marker of a case with nothing pending")
	}
}

// H1: concurrent changes of one case, nothing down, all succeed. Each
// loaded record may hold another request's event for the few milliseconds
// before its own flush; that is no reason to refuse.
func TestConcurrentChangesOfOneCase(t *testing.T) {
	e, _, _ := outboxEnv(t)
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	before := e.log.Size()

	var wg sync.WaitGroup
	var failed atomic.Int32
	errs := make(chan error, 20)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				if _, err := e.svc.AddObjective(t.Context(), med, c.ID, KindObjective, strings.Repeat("x", g+1)+string(rune('a'+i))); err != nil {
					failed.Add(1)
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of 20 concurrent changes refused, first: %v", n, <-errs)
	}
	raw := e.raw(t, c.ID)
	if len(raw.Objectives) != len(c.Objectives)+20 || len(raw.Unaudited) != 0 {
		t.Fatalf("stored: %d objectives (%d before), %d pending; want 20 more and 0", len(raw.Objectives), len(c.Objectives), len(raw.Unaudited))
	}
	if n := count(e.entryTypes(t, before), "case.objective"); n != 20 {
		t.Fatalf("%d case.objective entries, want 20", n)
	}
}

// H2: reads overlapping the window between a change's write and its
// event's removal append nothing: exactly one entry per change.
func TestReadsDuringChangesAppendNoDuplicates(t *testing.T) {
	e, fo, _ := outboxEnv(t)
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	before := e.log.Size()
	fo.slow.Store(int64(20 * time.Millisecond))

	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 6 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.svc.Load(t.Context(), c.ID); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for i := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			if _, err := e.svc.Disclose(t.Context(), med, c.ID, "disclosure "+string(rune('a'+i))); err != nil {
				t.Error(err)
			}
		}()
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	fo.slow.Store(0)
	types := e.entryTypes(t, before)
	if n := count(types, "case.disclosure"); n != 3 {
		t.Fatalf("entries = %v: %d case.disclosure for 3 disclosures, want exactly 3", types, n)
	}
}

// M2: a recusal whose record write lands while the audit log is down still
// has its consequences (the rooms hear of it: sealed, sockets re-checked),
// the request succeeds (a retry would only be told "already recused"), and
// the recusal entry lands exactly once when the store is back.
func TestRecusalWithAuditDownStillChangesMembership(t *testing.T) {
	e, fo, clk := outboxEnv(t)
	ctx := t.Context()
	m1 := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m1, "recusal")
	m2, err := e.accounts.Create(ctx, account.NewAccount{Email: "max@example.com", Name: "Max", Role: policy.RoleMediator, Password: "Max-password-123456"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddMediator(ctx, m1, c.ID, m2.ID); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var changes []MembershipChange
	e.svc.OnMembership = func(_ context.Context, _ string, ch MembershipChange) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, ch)
	}
	before := e.log.Size()

	fo.down.Store(true)
	if _, err := e.svc.Recuse(ctx, m1, c.ID, m2.ID, "former client of side B"); err != nil {
		t.Fatalf("Recuse with the audit store down: %v; want success once the recusal is written", err)
	}
	mu.Lock()
	got := append([]MembershipChange(nil), changes...)
	mu.Unlock()
	if len(got) != 1 || got[0].Kind != "mediator.recused" || got[0].Account != m2.ID {
		t.Fatalf("membership changes = %+v, want the recusal of %s", got, m2.ID)
	}
	fo.down.Store(false)

	clk.advance(StaleAfter + time.Second)
	if _, err := e.svc.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(e.entryTypes(t, before), "case.recusal"); n != 1 {
		t.Fatalf("%d case.recusal entries, want exactly 1", n)
	}
}

// A change's caller that goes right after the change landed (a closed
// tab cancels the request) must not keep its event from the log: the
// append that follows the write runs on a context of its own.
func TestChangeAuditedWhenItsCallerLeaves(t *testing.T) {
	e, fo, _ := outboxEnv(t)
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	before := e.log.Size()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	fo.leave.Store(&cancel)
	if _, err := e.svc.AddObjective(ctx, med, c.ID, KindObjective, "a quiet settlement"); err != nil {
		t.Fatalf("a change that landed: %v", err)
	}
	if fo.leave.Load() != nil {
		t.Fatal("the test never saw the case record written")
	}
	if n := count(e.entryTypes(t, before), "case.objective"); n != 1 {
		t.Fatalf("%d case.objective entries after the caller left, want 1", n)
	}
	if raw := e.raw(t, c.ID); len(raw.Unaudited) != 0 {
		t.Fatalf("%d events still pending", len(raw.Unaudited))
	}
}

// unsettledCase makes a marked case the sweep cannot settle: a valid id
// whose record is not a sealed record (unreadable), under a marker. Its
// id is "c_" and 22 "2"s (the lowest base32 digit) then n in 4 letters,
// so it sorts before any id ids.New makes.
func (e *env) unsettledCase(t *testing.T, n int) string {
	t.Helper()
	suffix := []byte("aaaa")
	for i := 3; i >= 0; i-- {
		suffix[i] = byte('a' + n%26)
		n /= 26
	}
	id := "c_" + strings.Repeat("2", 22) + string(suffix)
	junk := []byte("not a sealed record")
	if _, err := e.meta.Objects().Put(t.Context(), caseKey(id), bytes.NewReader(junk), int64(len(junk)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.meta.Create(t.Context(), unauditedKey(id), struct{}{}); err != nil {
		t.Fatal(err)
	}
	return id
}

// The sweep reaches every marked case, however many markers before it
// cannot be settled. Before, each pass took the first SweepBatch markers
// in key order: with that many unreadable cases sorting first, a case
// behind them had its stale event appended by no pass, ever (starvation).
// Now a pass resumes after the last marker the one before reached, and
// wraps round at the end: a case is reached within
// ceil(markers/SweepBatch) passes, and the unsettled ones stay marked and
// are tried again.
func TestSweepReachesMarkersPastUnsettledOnes(t *testing.T) {
	e, fo, clk := outboxEnv(t)
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	before := e.log.Size()
	var stuck []string
	for n := range SweepBatch {
		stuck = append(stuck, e.unsettledCase(t, n))
	}
	if stuck[len(stuck)-1] >= c.ID {
		t.Fatalf("test setup: %s does not sort before %s", stuck[len(stuck)-1], c.ID)
	}

	fo.down.Store(true)
	if _, err := e.svc.Disclose(t.Context(), med, c.ID, "I once worked with Lee"); err != nil {
		t.Fatal(err)
	}
	fo.down.Store(false)
	if !e.marked(t, c.ID) {
		t.Fatal("no sweep marker for the case with a pending event")
	}
	clk.advance(StaleAfter + time.Second)

	// SweepBatch+1 markers: two passes reach them all. The first meets
	// only unreadable records.
	if _, err := e.svc.SweepOnce(t.Context()); err == nil {
		t.Fatal("first pass: no error for the unreadable cases")
	}
	e.svc.SweepOnce(t.Context())
	if n := count(e.entryTypes(t, before), "case.disclosure"); n != 1 {
		t.Fatalf("after 2 sweeps: %d case.disclosure entries, want 1 (the sweep never reached the case behind %d unsettled markers)", n, SweepBatch)
	}
	if e.marked(t, c.ID) {
		t.Fatal("the settled case is still marked")
	}
	// The unsettled ones stay marked and are tried again: the next pass
	// starts again from the first marker, which now settles (its case
	// gone, as after a disposal).
	for _, id := range []string{stuck[0], stuck[len(stuck)-1]} {
		if !e.marked(t, id) {
			t.Fatalf("the marker of unsettled case %s was dropped", id)
		}
	}
	if err := e.meta.Delete(t.Context(), caseKey(stuck[0])); err != nil {
		t.Fatal(err)
	}
	e.svc.SweepOnce(t.Context())
	if e.marked(t, stuck[0]) || !e.marked(t, stuck[1]) {
		t.Fatalf("third pass: first marker kept %v, second kept %v; want the pass to start again from the first", e.marked(t, stuck[0]), e.marked(t, stuck[1]))
	}
}
