package retention

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// pausedWorld is cases on the test MinIO, every class due 30 days after
// closing, the first of them with a released hold's record under a
// storage (legal) hold: its disposal pauses there. hold sets or clears
// that storage hold.
func pausedWorld(t *testing.T, n int) (e *env, tcs []*testCase, hold func(on bool)) {
	t.Helper()
	ctx := t.Context()
	store := minioStore(t)
	e = dueWorld(t, store)
	docs := make([]map[string]vault.Class, n)
	tcs = e.newCases(t, docs...)
	h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tcs[0].id, Reason: "Complaint 2026-07", Authority: "Program rule 12"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ret.ReleaseHold(ctx, e.records, tcs[0].id, h.ID, "Complaint closed"); err != nil {
		t.Fatal(err)
	}
	key := holdKey(tcs[0].id, h.ID)
	hold = func(on bool) {
		vs, err := store.Versions(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if err := store.SetLegalHold(ctx, key, v.VersionID, on); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range tcs {
		e.close(t, tc)
	}
	e.clock = e.clock.Add(month)
	return e, tcs, hold
}

// planApproved makes a plan of what is due now and approves it.
func (e *env) planApproved(t *testing.T) Plan {
	t.Helper()
	p, err := e.ret.MakePlan(t.Context(), e.records, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.approve(t.Context(), e.records2, p.ID); err != nil {
		t.Fatal(err)
	}
	return p
}

// uploadLate uploads a document to a case (a paused one takes it).
func (e *env) uploadLate(t *testing.T, caseID string) vault.Document {
	t.Helper()
	d, err := e.vault.Upload(t.Context(), e.mediator, caseID, vault.NewDocument{Name: "late.pdf", MediaType: "application/pdf",
		Audience: vault.Audience{Kind: policy.AudienceJoint}, Class: vault.ClassEvidence}, bytes.NewReader(content("late")))
	if err != nil {
		t.Fatalf("a paused case refuses an upload: %v", err)
	}
	return d
}

// wantPausedKept: the case and the document are there, the case not
// fenced and still shown paused.
func (e *env) wantPausedKept(t *testing.T, caseID string, d vault.Document) {
	t.Helper()
	c, err := e.cases.Load(t.Context(), caseID)
	if err != nil {
		t.Fatalf("the paused case, which took a document meanwhile, was destroyed: %v", err)
	}
	if n := e.versionsOf(t, versionObject(caseID, d.ID, 1)); n == 0 {
		t.Fatal("the document uploaded during the pause is gone")
	}
	if c.Disposing != nil || c.DisposalPaused == nil {
		t.Fatalf("kept case disposing=%v paused=%v: want unfenced and still paused", c.Disposing, c.DisposalPaused)
	}
}

// H1: page P holds C1 and C2; C1's disposal pauses at a storage hold, C2
// fails. While paused, C1 takes a document. The rerun of P carried out
// C1's journaled disposal without looking again, deleting the document
// (its vault records with the case) unaudited. Now the pause drops the
// journal and the rerun decides again: the case is kept.
func TestRerunAfterPauseLooksAgain(t *testing.T) {
	t.Parallel()
	e, tcs, hold := pausedWorld(t, 2)
	ctx := t.Context()
	e.ret.pageSize = DefaultPageSize // both cases on one page
	p := e.planApproved(t)
	if p.Pages != 1 {
		t.Fatalf("%d pages, want both cases on one", p.Pages)
	}
	hold(true)
	var failed atomic.Bool
	errC2 := errors.New("injected: the second case's disposal failed")
	e.ret.hook = func(step string) error {
		if step == "case-record" && failed.CompareAndSwap(false, true) { // only a case that went all the way (C2)
			return errC2
		}
		return nil
	}
	if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); !errors.Is(err, errC2) {
		t.Fatalf("apply: %v, want the injected failure", err)
	}
	c, err := e.cases.Load(ctx, tcs[0].id)
	if err != nil || c.DisposalPaused == nil || c.Disposing != nil {
		t.Fatalf("the first case is not paused: %v %+v", err, c)
	}
	d := e.uploadLate(t, tcs[0].id)
	hold(false)
	e.ret.hook = nil
	if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
		t.Fatalf("rerun: %v %+v", err, pr)
	}
	e.wantPausedKept(t, tcs[0].id, d)
	if _, err := e.cases.Load(ctx, tcs[1].id); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("the second case survives the rerun: %v", err)
	}
}

// L2: a paused case that the next plan fences and then keeps (a document
// uploaded meanwhile) lost its pause: BeginDisposal cleared it and
// EndDisposal left the case neither paused nor fenced, though its
// participants' accounts were deleted already.
func TestPauseShownWhenNextPlanKeepsCase(t *testing.T) {
	t.Parallel()
	e, tcs, hold := pausedWorld(t, 1)
	ctx := t.Context()
	tc := tcs[0]
	hold(true)
	if pr, err := e.ret.ApplyAll(ctx, e.records, e.planApproved(t).ID, nil); err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	hold(false)
	e.clock = e.clock.Add(time.Hour)
	p2 := e.planApproved(t)
	d := e.uploadLate(t, tc.id) // after planning: the next plan does not list it
	var got []Outcome
	var items []Item
	if pr, err := e.ret.ApplyAll(ctx, e.records, p2.ID, func(pr Progress) {
		items, got = append(items, pr.Items...), append(got, pr.Outcomes...)
	}); err != nil || !pr.Done {
		t.Fatalf("the next plan: %v %+v", err, pr)
	}
	for i, it := range items {
		if it.Case == tc.id && it.Class == policy.ClassCaseRecord && got[i].Result != OutcomeKept {
			t.Fatalf("the case record's outcome is %+v, want kept", got[i])
		}
	}
	e.wantPausedKept(t, tc.id, d)
}

// M3: two plans holding the same case. The second plan took over the
// first one's fence (and either could lift the other's while it
// deleted); now a fence names its plan, another plan's BeginDisposal is
// refused while it stands, and the plan that set it finishes.
func TestOtherPlansFenceRefused(t *testing.T) {
	t.Parallel()
	e, _, tc := outboxWorld(t)
	ctx := t.Context()
	e.close(t, tc)
	e.clock = e.clock.Add(month)
	p1, p2 := e.planApproved(t), e.planApproved(t)
	var crashed atomic.Bool
	e.ret.hook = func(step string) error {
		if step == "case-journal" && crashed.CompareAndSwap(false, true) { // p1 has fenced the case
			return errors.New("injected crash")
		}
		return nil
	}
	if _, err := e.ret.ApplyAll(ctx, e.records, p1.ID, nil); err == nil {
		t.Fatal("want the injected crash")
	}
	e.ret.hook = nil
	// The second plan leaves the case to the first (kept, saying why),
	// rather than failing its page: that left its own fences on the
	// page's other cases while the first plan, in turn, stopped at them.
	var outcomes []Outcome
	pr2, err := e.ret.ApplyAll(ctx, e.records, p2.ID, func(pr Progress) { outcomes = append(outcomes, pr.Outcomes...) })
	if err != nil || !pr2.Done {
		t.Fatalf("another plan's apply while the first one's fence stands: %v %+v, want done, leaving the case to the first", err, pr2)
	}
	if !slices.ContainsFunc(outcomes, func(o Outcome) bool {
		return o.Result == OutcomeKept && strings.Contains(o.Kept, "another retention plan")
	}) {
		t.Fatalf("the second plan's outcomes %+v: want the case record left to the other plan", outcomes)
	}
	c, err := e.cases.Load(ctx, tc.id)
	if err != nil || c.Disposing == nil || c.DisposingPlan != p1.ID {
		t.Fatalf("after the refused plan: %v %+v, want the case there, fenced by the first plan", err, c)
	}
	if pr, err := e.ret.ApplyAll(ctx, e.records, p1.ID, nil); err != nil || !pr.Done {
		t.Fatalf("the first plan, run again: %v %+v", err, pr)
	}
	if _, err := e.cases.Load(ctx, tc.id); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("the case survives the first plan: %v", err)
	}
}

// Review M1: a run fences and journals a case, then stops; the next run
// meets a case hold, lifts the fence, and its page fails after; the case
// takes a document while unfenced; the hold is released. The run after
// carried out the old journal without looking again (the new document
// went with the case, without vault.Dispose). Now a journal whose fence
// was lifted since is dropped and the case decided again: kept.
func TestRerunAfterFenceLiftedLooksAgain(t *testing.T) {
	t.Parallel()
	e, tcs, _ := pausedWorld(t, 1)
	ctx := t.Context()
	caseID := tcs[0].id
	p := e.planApproved(t)
	var crashed atomic.Bool
	e.ret.hook = func(step string) error {
		if step == "case-journal" && crashed.CompareAndSwap(false, true) {
			return errors.New("injected crash after the journal")
		}
		return nil
	}
	if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err == nil {
		t.Fatal("want the injected crash")
	}
	h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: caseID, Reason: "Subpoena 2026-09", Authority: "Court order 7"})
	if err != nil {
		t.Fatal(err)
	}
	e.ret.hook = func(step string) error {
		if step == "messages" {
			return errors.New("injected: the page failed after its holds lifted the fence")
		}
		return nil
	}
	if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err == nil {
		t.Fatal("want the injected page failure")
	}
	if c, err := e.cases.Load(ctx, caseID); err != nil || c.Disposing != nil {
		t.Fatalf("the held case: %v %+v, want there and its fence lifted", err, c)
	}
	if _, err := e.ret.ReleaseHold(ctx, e.records, caseID, h.ID, "Subpoena answered"); err != nil {
		t.Fatal(err)
	}
	d := e.uploadLate(t, caseID)
	e.ret.hook = nil
	if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
		t.Fatalf("the plan, run again: %v %+v", err, pr)
	}
	if _, err := e.cases.Load(ctx, caseID); err != nil {
		t.Fatalf("the case, which took a document while unfenced, was destroyed from the old journal: %v", err)
	}
	if n := e.versionsOf(t, versionObject(caseID, d.ID, 1)); n == 0 {
		t.Fatal("the document uploaded while the fence was lifted is gone")
	}
}
