package cases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// readCounter counts the reads of case records made through it.
type readCounter struct {
	objstore.Store
	caseGets atomic.Int64
}

func (r *readCounter) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if strings.HasPrefix(key, "cases/") {
		r.caseGets.Add(1)
	}
	return r.Store.Get(ctx, key, opts)
}

// A party's case list reads their own case only, however many cases the
// program holds (before, GET /api/v1/cases read every case record for
// anyone: 2.8 s with 1,001 cases, 5.3 s with 2,001). A participant
// account from before the case was recorded on it still gets its case
// (every record read), and a mediator still sees every case of theirs.
func TestPartyCaseListReadsOneCase(t *testing.T) {
	rc := &readCounter{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { rc.Store = s; return rc })
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	const others = 30
	for range others {
		e.newCase(t, med, "Another")
	}
	mine := e.newCase(t, med, "Flat 12")
	party := e.join(t, med, mine.ID, RoleParty, "A", "Pat")
	if party.CaseID != mine.ID {
		t.Fatalf("the joined account records case %q, want %q", party.CaseID, mine.ID)
	}

	rc.caseGets.Store(0)
	list, err := e.svc.List(ctx, party)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != mine.ID || list[0].Title != "Flat 12" || list[0].Relation != string(RoleParty) {
		t.Fatalf("the party's list: %+v", list)
	}
	if n := rc.caseGets.Load(); n > 2 {
		t.Fatalf("the party's list read %d case objects with %d cases stored, want at most 2", n, others+1)
	}

	// An account from before CaseID: its case is found by reading all.
	old := party
	old.CaseID = ""
	if list, err := e.svc.List(ctx, old); err != nil || len(list) != 1 || list[0].ID != mine.ID {
		t.Fatalf("a participant account without its case recorded: %v %+v", err, list)
	}
	if list, err := e.svc.List(ctx, med); err != nil || len(list) != others+1 {
		t.Fatalf("the mediator's list: %v, %d cases, want %d", err, len(list), others+1)
	}
}

// crowdGate is a store whose reads of case records, while armed, wait
// until want of them are in flight at once (or 10 s have passed: then
// it disarms, and the rest read unhindered), and which records the most
// ever in flight. A read of the key gone is preceded by the deletion of
// that key (a case disposed of between the listing and its read).
type crowdGate struct {
	objstore.Store
	mu       sync.Mutex
	want     int // 0: disarmed
	inFlight int
	peak     int
	crowd    chan struct{} // closed once want were in flight
	gone     string
	fail     func(key string) error // nil: no failure
}

func (g *crowdGate) arm(want int) {
	g.mu.Lock()
	g.want, g.inFlight, g.peak, g.crowd = want, 0, 0, make(chan struct{})
	g.mu.Unlock()
}

func (g *crowdGate) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if !strings.HasPrefix(key, "cases/") || !strings.HasSuffix(key, "/case") {
		return g.Store.Get(ctx, key, opts)
	}
	g.mu.Lock()
	g.inFlight++
	g.peak = max(g.peak, g.inFlight)
	armed, crowd, fail, gone := g.want > 0, g.crowd, g.fail, g.gone
	if armed && g.inFlight == g.want {
		close(g.crowd)
		g.want = 0
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	if armed {
		select {
		case <-crowd:
		case <-time.After(10 * time.Second):
			g.mu.Lock()
			if g.crowd == crowd && g.want > 0 {
				g.want = 0 // never crowded: the rest read unhindered
				close(g.crowd)
			}
			g.mu.Unlock()
		case <-ctx.Done():
		}
	}
	if key == gone {
		if err := g.Store.Delete(ctx, key, ""); err != nil {
			return nil, objstore.Info{}, err
		}
	}
	if fail != nil {
		if err := fail(key); err != nil {
			return nil, objstore.Info{}, err
		}
	}
	return g.Store.Get(ctx, key, opts)
}

func (g *crowdGate) peakInFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

// A staff case list reads the case records listParallel (16) at a time,
// never more, not one after another (with 1,000 cases on MinIO it took
// 2.9 s, 2,000 5.1 s: docs/operations.md, "Sizing"), on the directory
// store and MinIO. What it shows is still what policy answers on each
// case's record: a mediator their own cases and not another's, a
// records clerk every case's summary, an administrator none. A case
// disposed of between the listing and its read is left out (before, the
// whole list failed); any other error reading a case record fails the
// list.
func TestStaffCaseListReadsInParallel(t *testing.T) {
	t.Run("dir", func(t *testing.T) { staffCaseListReadsInParallel(t, nil) })
	t.Run("s3", func(t *testing.T) {
		s3, err := objstore.OpenS3(t.Context(), testenv.S3(t))
		if err != nil {
			t.Fatal(err)
		}
		staffCaseListReadsInParallel(t, s3)
	})
}

// forgetListed empties the node's cache of the records case lists read
// (caseListCache), so that the next list reads every record.
func (s *Service) forgetListed() {
	s.listCache.mu.Lock()
	defer s.listCache.mu.Unlock()
	s.listCache.entries, s.listCache.bytes = nil, 0
}

// staffCaseListReadsInParallel is TestStaffCaseListReadsInParallel on
// store (nil: the directory store). Between lists it empties the node's
// cache of records read (forgetListed), so that each list reads them.
func staffCaseListReadsInParallel(t *testing.T, store objstore.Store) {
	g := &crowdGate{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store {
		if store != nil {
			s = store
		}
		g.Store = s
		return g
	})
	ctx := t.Context()
	mia := staff(policy.RoleMediator, "Mia")
	ned := staff(policy.RoleMediator, "Ned")
	admin := staff(policy.RoleAdmin, "Ada")
	clerk := staff(policy.RoleRecords, "Rae")
	const miaCases, nedCases = 40, 3
	mine := map[string]bool{}
	first := e.newCase(t, mia, "Flat 1")
	e.joinAs(t, mia, first.ID, RoleParty, "A", "Pat", "pat@example.test")
	mine[first.ID] = true
	for i := range miaCases - 1 {
		mine[e.newCase(t, mia, fmt.Sprintf("Flat %d", i+2)).ID] = true
	}
	theirs := map[string]bool{}
	for i := range nedCases {
		theirs[e.newCase(t, ned, fmt.Sprintf("House %d", i+1)).ID] = true
	}

	g.arm(listParallel)
	list, err := e.svc.List(ctx, mia)
	if err != nil {
		t.Fatal(err)
	}
	if peak := g.peakInFlight(); peak != listParallel {
		t.Errorf("at most %d case records were read at once, want %d", peak, listParallel)
	}
	if len(list) != miaCases {
		t.Errorf("Mia's list has %d cases, want her %d", len(list), miaCases)
	}
	for i, l := range list {
		if !mine[l.ID] || l.Relation != "mediator" || l.Title == "" {
			t.Errorf("Mia's list shows %s (%q, relation %q), not one of her cases", l.ID, l.Title, l.Relation)
		}
		if i > 0 && l.Created.After(list[i-1].Created) {
			t.Errorf("Mia's list is not newest first at %d", i)
		}
	}

	e.svc.forgetListed()
	g.arm(listParallel)
	all, err := e.svc.List(ctx, clerk)
	if err != nil {
		t.Fatal(err)
	}
	if peak := g.peakInFlight(); peak != listParallel {
		t.Errorf("the records clerk's list read at most %d at once, want %d", peak, listParallel)
	}
	if len(all) != miaCases+nedCases {
		t.Errorf("the records clerk's list has %d cases, want %d", len(all), miaCases+nedCases)
	}
	shown := map[string]bool{}
	for _, l := range all {
		shown[l.ID] = true
		if l.Relation != "records" || l.Title != "" {
			t.Errorf("the records clerk sees %s as %q, titled %q; want its summary only", l.ID, l.Relation, l.Title)
		}
	}
	for id := range theirs {
		if !shown[id] {
			t.Errorf("the records clerk's list lacks Ned's case %s", id)
		}
	}
	// An administrator reads no case, so lists none.
	if none, err := e.svc.List(ctx, admin); err != nil || len(none) != 0 {
		t.Errorf("the administrator's list: %d cases, %v; want none", len(none), err)
	}

	// Mia's first case is disposed of between the listing and its read.
	e.svc.forgetListed()
	g.mu.Lock()
	g.gone = caseKey(first.ID)
	g.mu.Unlock()
	list, err = e.svc.List(ctx, mia)
	if err != nil {
		t.Fatalf("a case gone between the listing and its read: %v, want the others listed", err)
	}
	if len(list) != miaCases-1 || slices.ContainsFunc(list, func(l Listed) bool { return l.ID == first.ID }) {
		t.Fatalf("with one of Mia's cases gone, her list has %d cases, want %d without it", len(list), miaCases-1)
	}

	// An error reading one case record fails the list.
	broken := errors.New("store unavailable")
	var last string
	for id := range mine {
		if id != first.ID {
			last = id
		}
	}
	g.mu.Lock()
	g.gone = ""
	g.fail = func(key string) error {
		if key == caseKey(last) {
			return broken
		}
		return nil
	}
	g.mu.Unlock()
	e.svc.forgetListed()
	if list, err := e.svc.List(ctx, mia); !errors.Is(err, broken) || list != nil {
		t.Fatalf("a case record unreadable: %d cases, %v; want the error and no list", len(list), err)
	}
}

// A case list reads again only the case records whose stored version
// changed since this node last read them: the next list of unchanged
// cases reads none (before, every one each time), for any staff account
// (what each is shown is still policy's answer, per account, on each
// record). A change on any record (a stage moved, a mediator's recusal)
// is read and decided on at the next list — the recused mediator no
// longer sees the case — and a record gone is left out and forgotten.
// On the directory store and MinIO.
func TestCaseListReadsOnlyChangedRecords(t *testing.T) {
	t.Run("dir", func(t *testing.T) { caseListReadsOnlyChangedRecords(t, nil) })
	t.Run("s3", func(t *testing.T) {
		s3, err := objstore.OpenS3(t.Context(), testenv.S3(t))
		if err != nil {
			t.Fatal(err)
		}
		caseListReadsOnlyChangedRecords(t, s3)
	})
}

// caseListReadsOnlyChangedRecords is TestCaseListReadsOnlyChangedRecords
// on store (nil: the directory store).
func caseListReadsOnlyChangedRecords(t *testing.T, store objstore.Store) {
	rc := &readCounter{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store {
		if store != nil {
			s = store
		}
		rc.Store = s
		return rc
	})
	ctx := t.Context()
	mia := staff(policy.RoleMediator, "Mia")
	ned := staff(policy.RoleMediator, "Ned")
	clerk := staff(policy.RoleRecords, "Rae")
	const miaCases, nedCases = 10, 2
	var mine []string
	for i := range miaCases {
		mine = append(mine, e.newCase(t, mia, fmt.Sprintf("Flat %d", i+1)).ID)
	}
	for i := range nedCases {
		e.newCase(t, ned, fmt.Sprintf("House %d", i+1))
	}
	// list lists as who, and checks the count shown and the case records
	// read.
	list := func(who account.Account, wantShown, wantReads int) []Listed {
		t.Helper()
		rc.caseGets.Store(0)
		l, err := e.svc.List(ctx, who)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != wantShown {
			t.Errorf("%s's list shows %d cases, want %d", who.Name, len(l), wantShown)
		}
		if n := rc.caseGets.Load(); n != int64(wantReads) {
			t.Errorf("%s's list read %d case records, want %d", who.Name, n, wantReads)
		}
		return l
	}
	list(mia, miaCases, miaCases+nedCases) // the node's first list reads all
	list(mia, miaCases, 0)
	for _, l := range list(ned, nedCases, 0) {
		if l.Relation != "mediator" || strings.HasPrefix(l.Title, "Flat") {
			t.Errorf("Ned's list shows %q (%s)", l.Title, l.Relation)
		}
	}
	list(clerk, miaCases+nedCases, 0)

	// A stage moved on one case: that record alone is read again.
	if _, err := e.svc.SetStage(ctx, mia, mine[0], StageOpening, ""); err != nil {
		t.Fatal(err)
	}
	l := list(mia, miaCases, 1)
	if i := slices.IndexFunc(l, func(l Listed) bool { return l.ID == mine[0] }); i < 0 || l[i].Stage != StageOpening {
		t.Errorf("after the stage moved, Mia's list (%d cases) lacks the case at its new stage", len(l))
	}

	// Mia recuses herself from another: read again, and no longer shown
	// to her (the record kept from before showed her as its mediator).
	if _, err := e.svc.Recuse(ctx, mia, mine[1], "", "a conflict"); err != nil {
		t.Fatal(err)
	}
	l = list(mia, miaCases-1, 1)
	if slices.ContainsFunc(l, func(l Listed) bool { return l.ID == mine[1] }) {
		t.Errorf("Mia's list still shows the case she recused herself from")
	}
	list(mia, miaCases-1, 0)

	// A case record gone (disposed of): left out, and forgotten.
	if err := e.meta.Delete(ctx, caseKey(mine[2])); err != nil {
		t.Fatal(err)
	}
	list(mia, miaCases-2, 0)
	e.svc.listCache.mu.Lock()
	_, kept := e.svc.listCache.entries[caseKey(mine[2])]
	n := len(e.svc.listCache.entries)
	e.svc.listCache.mu.Unlock()
	if kept || n != miaCases+nedCases-1 {
		t.Errorf("the cache keeps %d records (the one gone among them: %v), want %d", n, kept, miaCases+nedCases-1)
	}
}
