package retention

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// lateWrites is a real store whose write under an armed prefix (after
// skip others) is held back: the call answers context.DeadlineExceeded
// at once, having written nothing, and the write is made later, as sent
// (create-only too), when the test calls it — a request the store carries
// out after its caller gave up.
type lateWrites struct {
	objstore.Store
	mu      sync.Mutex
	prefix  string
	skip    int // writes under prefix that pass before the held-back one
	pending func() error
}

func (s *lateWrites) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	s.mu.Lock()
	hit := s.prefix != "" && strings.HasPrefix(key, s.prefix)
	if hit && s.skip > 0 {
		s.skip--
		hit = false
	}
	if hit {
		s.prefix = ""
	}
	s.mu.Unlock()
	if !hit {
		return s.Store.Put(ctx, key, r, size, opts)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return objstore.Info{}, err
	}
	s.mu.Lock()
	s.pending = func() error {
		_, err := s.Store.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)), opts)
		return err
	}
	s.mu.Unlock()
	return objstore.Info{}, context.DeadlineExceeded
}

// lateDir is a store in a temporary directory and lateWrites over it.
func lateDir(t *testing.T) (*objstore.Dir, *lateWrites) {
	t.Helper()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir, &lateWrites{Store: dir}
}

// arm holds back the write under prefix after skip others pass.
func (s *lateWrites) arm(prefix string, skip int) {
	s.mu.Lock()
	s.prefix, s.skip = prefix, skip
	s.mu.Unlock()
}

// held is the write held back, to be made when the test calls it.
func (s *lateWrites) held(t *testing.T) func() error {
	t.Helper()
	s.mu.Lock()
	land := s.pending
	s.mu.Unlock()
	if land == nil {
		t.Fatal("no write was held back")
	}
	return land
}

// closeRules keeps every class of case for 30 days after it closes.
func closeRules(t *testing.T, e *env) {
	t.Helper()
	for _, class := range policy.CaseClasses() {
		if _, err := e.setRule(t.Context(), policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
	}
}

// lateUpload opens a case (title) and uploads a document to it whose
// record write late holds back.
func lateUpload(t *testing.T, e *env, late *lateWrites, title string) *cases.Case {
	t.Helper()
	ctx := t.Context()
	c, err := e.cases.Create(ctx, e.mediator, cases.NewCase{Title: title, Type: "workplace", SideLabels: []string{"Employee", "Employer"}})
	if err != nil {
		t.Fatal(err)
	}
	late.arm("vault/"+c.ID+"/docs/", 0)
	_, err = e.vault.Upload(ctx, e.mediator, c.ID, vault.NewDocument{Name: "late.pdf", MediaType: "application/pdf",
		Audience: vault.Audience{Kind: policy.AudienceJoint}, Class: vault.ClassEvidence}, bytes.NewReader(content("late")))
	if !errors.Is(err, vault.ErrUnconfirmed) {
		t.Fatalf("upload whose record write was held back: %v, want ErrUnconfirmed", err)
	}
	return c
}

// residueCase makes residue due at once and opens a case with one
// document, mediator notes.
func residueCase(t *testing.T, e *env) (*testCase, vault.Document) {
	t.Helper()
	if _, err := e.setRule(t.Context(), policy.RetentionRule{Class: policy.ClassResidue, Trigger: policy.TriggerCreated, Days: 0}); err != nil {
		t.Fatal(err)
	}
	tc := e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes})
	return tc, tc.docs["notes"]
}

// lateVersion adds version 2 to document docID of tc, its record write
// held back by late.
func lateVersion(t *testing.T, e *env, late *lateWrites, tc *testCase, docID string) {
	t.Helper()
	late.arm("vault/"+tc.id+"/docs/"+docID, 1) // the first write reserves the number
	if _, err := e.vault.AddVersion(t.Context(), e.mediator, tc.id, docID, vault.NewVersion{}, bytes.NewReader(content("v2"))); !errors.Is(err, vault.ErrUnconfirmed) {
		t.Fatalf("AddVersion whose record write was held back: %v, want ErrUnconfirmed", err)
	}
}

// abandonedPlan is a plan made once a staged version is abandoned.
func (e *env) abandonedPlan(t *testing.T) Plan {
	t.Helper()
	e.clock = e.clock.Add(AbandonedAfter + time.Hour)
	p, err := e.ret.MakePlan(t.Context(), e.records, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// docRecords lists the document records of case caseID in dir.
func docRecords(t *testing.T, dir objstore.Store, caseID string) []string {
	t.Helper()
	var docs []string
	if err := dir.List(t.Context(), "vault/"+caseID+"/docs/", func(i objstore.Info) error { docs = append(docs, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return docs
}

// TestUnconfirmedUploadLandingLateKeepsItsCase: an upload whose document
// record write is answered with an error (vault.ErrUnconfirmed) and
// carried out by the store only after retention fenced the case, found no
// document in it, and disposed of it. Before, the record then landed in
// the destroyed case: a document record (name, media type, hashes) of a
// case certified destroyed. Now retention counts the staged version
// after its fence (vault.RecordsAndStaged) and keeps the case, so the
// late record lands in a case that still exists and takes additions
// again.
func TestUnconfirmedUploadLandingLateKeepsItsCase(t *testing.T) {
	t.Parallel()
	dir, late := lateDir(t)
	e := newEnv(t, late)
	ctx := t.Context()
	closeRules(t, e)
	c := lateUpload(t, e, late, "Quiet v. Late")
	tc := &testCase{id: c.ID}
	p := e.planClosed(t, tc)
	if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	land := late.held(t)
	if err := land(); err != nil {
		t.Fatalf("the held-back document record write: %v", err)
	}
	docs := docRecords(t, dir, c.ID)
	if len(docs) != 1 {
		t.Fatalf("document records after the late write = %v, want the one it wrote", docs)
	}
	kept, err := e.cases.Load(ctx, c.ID)
	if err != nil {
		t.Fatalf("the case a late document record landed in: %v (a document record outlives its case)", err)
	}
	if err := cases.RefuseAdditions(kept); err != nil {
		t.Fatalf("the kept case is still fenced: %v", err)
	}
}

// TestHeldStagedVersionIsSweptOnceReleased: a new version staged in a
// held case (its storage hold set before its record write) whose record
// write then failed without a refusal stays staged, under its storage
// hold, for a write that may still land. Once the case hold is released
// and the version is abandoned, the sweep clears that storage hold and
// deletes it. Before, the sweep's delete was refused by the store (the
// release clears only the versions documents list), and the apply
// stopped at its residue step, plan after plan.
func TestHeldStagedVersionIsSweptOnceReleased(t *testing.T) {
	t.Parallel()
	_, late := lateDir(t)
	e := newEnv(t, late)
	ctx := t.Context()
	tc, doc := residueCase(t, e)
	h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Subpoena", Authority: "Order 2026-114"})
	if err != nil {
		t.Fatal(err)
	}
	lateVersion(t, e, late, tc, doc.ID)
	staged := []string{docObject(tc.id, doc.ID, 2), versionObject(tc.id, doc.ID, 2)}
	for _, k := range staged {
		if e.versionsOf(t, k) == 0 {
			t.Fatalf("%s: the staged version is not kept", k)
		}
	}
	if _, err := e.ret.ReleaseHold(ctx, e.records, tc.id, h.ID, "Subpoena withdrawn"); err != nil {
		t.Fatal(err)
	}
	p := e.abandonedPlan(t)
	if p.Residue[ResidueCiphertext] != 1 || p.Residue[ResidueUpload] != 1 {
		t.Fatalf("residue = %v, want the staged version's ciphertext and record", p.Residue)
	}
	if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, k := range staged {
		if n := e.versionsOf(t, k); n != 0 {
			t.Errorf("%s: %d stored versions remain", k, n)
		}
	}
}

// clearHook is a real store that runs hook once, before the first call
// turning a storage hold off under prefix is carried out.
type clearHook struct {
	objstore.Store
	mu     sync.Mutex
	prefix string
	hook   func()
}

func (s *clearHook) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	s.mu.Lock()
	var hook func()
	if !on && s.hook != nil && s.prefix != "" && strings.HasPrefix(key, s.prefix) {
		hook, s.hook = s.hook, nil
	}
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return s.Store.SetLegalHold(ctx, key, versionID, on)
}

// TestStagedVersionHeldDuringTheSweepIsKept: the sweep found a staged
// version of an unheld case abandoned (its upload answered
// vault.ErrUnconfirmed), and a case hold is placed while it clears the
// version's storage hold, the hold's pass (vault holdStored) having set
// it just before. Before, the sweep, having checked once, cleared that
// storage hold and deleted the version under the case hold. Now it
// checks again once the storage hold is cleared, sets it back and keeps
// the version.
func TestStagedVersionHeldDuringTheSweepIsKept(t *testing.T) {
	t.Parallel()
	dir, late := lateDir(t)
	hooked := &clearHook{Store: late}
	e := newEnv(t, hooked)
	ctx := t.Context()
	tc, doc := residueCase(t, e)
	lateVersion(t, e, late, tc, doc.ID)
	staged := []string{docObject(tc.id, doc.ID, 2), versionObject(tc.id, doc.ID, 2)}
	p := e.abandonedPlan(t)
	if p.Residue[ResidueCiphertext] != 1 || p.Residue[ResidueUpload] != 1 {
		t.Fatalf("residue = %v, want the staged version's ciphertext and record", p.Residue)
	}
	if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
		t.Fatal(err)
	}
	var holdErr error
	placed := false
	hooked.mu.Lock()
	hooked.prefix = "docs/" + tc.id + "/"
	hooked.hook = func() {
		placed = true
		_, holdErr = e.ret.PlaceHold(context.Background(), e.records, NewHold{Case: tc.id, Reason: "Subpoena", Authority: "Order 2026-115"})
	}
	hooked.mu.Unlock()
	_, applyErr := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
	if holdErr != nil {
		t.Fatal(holdErr)
	}
	if !placed {
		t.Fatal("the sweep cleared no storage hold under the staged ciphertext")
	}
	if applyErr != nil {
		t.Errorf("apply: %v", applyErr)
	}
	for _, k := range staged {
		vs, err := dir.Versions(ctx, k)
		if err != nil && !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("%s: %v", k, err)
		}
		if len(vs) == 0 {
			t.Errorf("%s: deleted under the case hold placed during the sweep", k)
		}
		for _, v := range vs {
			if v.DeleteMarker {
				continue
			}
			if on, err := dir.LegalHold(ctx, k, v.VersionID); err != nil {
				t.Fatal(err)
			} else if !on {
				t.Errorf("%s: kept without its storage hold under the case hold", k)
			}
		}
	}
}

// landBetweenReads is a real store that, once armed, lands a held-back
// write right after the first List under docs that follows a write of
// fence (the case record: retention's fence).
type landBetweenReads struct {
	objstore.Store
	mu          sync.Mutex
	fence, docs string
	fenced      bool
	land        func() error
	landed      bool
	landErr     error
}

func (s *landBetweenReads) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := s.Store.Put(ctx, key, r, size, opts)
	s.mu.Lock()
	if err == nil && s.fence != "" && key == s.fence {
		s.fenced = true
	}
	s.mu.Unlock()
	return info, err
}

func (s *landBetweenReads) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	err := s.Store.List(ctx, prefix, fn)
	s.mu.Lock()
	var land func() error
	if s.fenced && !s.landed && s.land != nil && prefix == s.docs {
		land, s.landed = s.land, true
	}
	s.mu.Unlock()
	if land != nil {
		lerr := land()
		s.mu.Lock()
		s.landErr = lerr
		s.mu.Unlock()
	}
	return err
}

// TestLateRecordLandingBetweenRetentionsReadsKeepsItsCase: an upload
// answered vault.ErrUnconfirmed whose document record the store carries
// out just after retention, having fenced the case, read its documents
// (none). Before, retention read the documents a second time to find
// staged versions no document lists: that read saw the late record
// listing the version, so neither read counted it and the case was
// destroyed, the late document record with it or outliving it. Now the
// version records are listed first and the documents read once: the
// version staged before the fence is counted, and the case kept.
func TestLateRecordLandingBetweenRetentionsReadsKeepsItsCase(t *testing.T) {
	t.Parallel()
	dir, late := lateDir(t)
	between := &landBetweenReads{Store: late}
	e := newEnv(t, between)
	ctx := t.Context()
	closeRules(t, e)
	c := lateUpload(t, e, late, "Between v. Reads")
	tc := &testCase{id: c.ID}
	land := late.held(t)
	p := e.planClosed(t, tc)
	between.mu.Lock()
	between.fence, between.docs, between.land = cases.RecordKey(c.ID), "vault/"+c.ID+"/docs/", land
	between.mu.Unlock()
	if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	between.mu.Lock()
	landed, landErr := between.landed, between.landErr
	between.mu.Unlock()
	if !landed {
		t.Fatal("the held-back document record did not land during the apply")
	}
	if landErr != nil {
		t.Fatalf("the held-back document record write: %v", landErr)
	}
	kept, err := e.cases.Load(ctx, c.ID)
	if err != nil {
		t.Fatalf("the case a late document record landed in: %v (destroyed under it)", err)
	}
	if err := cases.RefuseAdditions(kept); err != nil {
		t.Fatalf("the kept case is still fenced: %v", err)
	}
	docs := docRecords(t, dir, c.ID)
	if len(docs) != 1 {
		t.Fatalf("document records after the late write = %v, want the one it wrote", docs)
	}
}

// holdCycler is a real store whose storage hold calls on key, while
// cycles last, place a hold before a clear is carried out (place) and
// release it after a set is (release). Calls made by place and release
// themselves pass straight through.
type holdCycler struct {
	objstore.Store
	mu             sync.Mutex
	key            string
	cycles         int
	busy           bool
	place, release func()
}

func (s *holdCycler) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	s.mu.Lock()
	run := key == s.key && !s.busy && s.cycles > 0
	if run {
		s.busy = true
		if on {
			s.cycles--
		}
	}
	s.mu.Unlock()
	if !run {
		return s.Store.SetLegalHold(ctx, key, versionID, on)
	}
	defer func() { s.mu.Lock(); s.busy = false; s.mu.Unlock() }()
	if !on {
		s.place()
		return s.Store.SetLegalHold(ctx, key, versionID, on)
	}
	err := s.Store.SetLegalHold(ctx, key, versionID, on)
	s.release()
	return err
}

// TestStagedVersionHoldsCyclingDuringTheSweepEndHeld: while the sweep
// clears the storage hold of an abandoned staged version, a case hold is
// placed each time it clears it and released each time it sets it back.
// The sweep stops after a bounded number of rounds, keeping the version
// under its storage hold with a WARN. Before, it checked once and deleted
// the version under the hold placed while it cleared it.
func TestStagedVersionHoldsCyclingDuringTheSweepEndHeld(t *testing.T) {
	t.Parallel()
	dir, late := lateDir(t)
	cycler := &holdCycler{Store: late}
	e := newEnv(t, cycler)
	var logs bytes.Buffer
	e.ret.logger = slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	ctx := t.Context()
	tc, doc := residueCase(t, e)
	lateVersion(t, e, late, tc, doc.ID)
	p := e.abandonedPlan(t)
	if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
		t.Fatal(err)
	}
	ciphertext := docObject(tc.id, doc.ID, 2)
	var hookErr error
	holdID := ""
	cycler.mu.Lock()
	cycler.key, cycler.cycles = ciphertext, 100
	cycler.place = func() {
		h, err := e.ret.PlaceHold(context.Background(), e.records, NewHold{Case: tc.id, Reason: "Subpoena", Authority: "Order 2026-116"})
		holdID, hookErr = h.ID, errors.Join(hookErr, err)
	}
	cycler.release = func() {
		if holdID != "" {
			_, err := e.ret.ReleaseHold(context.Background(), e.records, tc.id, holdID, "Withdrawn")
			holdID, hookErr = "", errors.Join(hookErr, err)
		}
	}
	cycler.mu.Unlock()
	if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if hookErr != nil {
		t.Fatal(hookErr)
	}
	cycler.mu.Lock()
	rounds := 100 - cycler.cycles
	cycler.key = ""
	cycler.mu.Unlock()
	vs, err := dir.Versions(ctx, ciphertext)
	if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("the staged ciphertext was deleted while holds were placed on its case")
	}
	for _, v := range vs {
		if on, err := dir.LegalHold(ctx, ciphertext, v.VersionID); err != nil {
			t.Fatal(err)
		} else if !on && !v.DeleteMarker {
			t.Error("the staged ciphertext was kept without its storage hold")
		}
	}
	if rounds < 2 {
		t.Errorf("holds placed and released %d times, want the sweep to go round", rounds)
	}
	if !strings.Contains(logs.String(), "a staged version was kept under storage hold") {
		t.Errorf("no WARN that it was kept under storage hold; log:\n%s", logs.String())
	}
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
