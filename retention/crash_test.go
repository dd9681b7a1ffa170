package retention

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/policy"
)

// errCrash stands for the process dying at a step boundary: the hook
// stops the apply there, leaving the store exactly as a kill would.
var errCrash = errors.New("crash")

// TestApplyCrashAtEveryStep stops the apply at every step boundary (the
// second time it is reached where there are several, so that earlier
// pages are done and later ones not), checks nothing readable was left
// half-disposed, reruns it, and checks it converged: every due record
// gone, the held ones kept, exactly one certificate, one audit link, and
// an audit log that verifies. Each step starts from the same scenario, a
// copy of one built once on each store (worldTemplate). Every step runs on
// the directory store, two drawn at random on S3 (s3CrashSteps; make soak
// runs them all there).
func TestApplyCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	steps := []struct {
		name string
		hit  int
	}{{"keys", 2}, {"ciphertext", 2}, {"records", 2}, {"messages", 3}, {"page", 1}, {"case-keys", 1}, {"certificate", 1}, {"link", 1}}
	var names []string
	for _, step := range steps {
		names = append(names, step.name)
	}
	onS3 := s3CrashSteps(t, names, 2)
	tmpl := newWorldTemplate(t, (*env).scenario)
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			t.Parallel()
			onEachStoreFrom(t, tmpl, onS3[step.name], func(t *testing.T, e *env, s *scenario) {
				ctx := t.Context()
				p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
					t.Fatal(err)
				}
				hits := 0
				e.ret.hook = func(name string) error {
					if name == step.name {
						if hits++; hits == step.hit {
							return errCrash
						}
					}
					return nil
				}
				if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); !errors.Is(err, errCrash) {
					t.Fatalf("apply ran through the crash at %s: %v", step.name, err)
				}
				e.checkNoHalfDisposed(t, p)
				e.ret.hook = nil
				pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
				if err != nil || !pr.Done {
					t.Fatalf("rerun: %v %+v", err, pr)
				}
				// A third run changes nothing.
				if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
					t.Fatalf("third run: %v", err)
				}
				if left := e.objectsOf(t, s.a.id); len(left) != 0 {
					t.Fatalf("case A: %v left", left)
				}
				e.mustRead(t, s.c.id, s.c.docs["exhibit"])
				e.mustRead(t, s.b.id, s.b.docs["notes"])
				signed, err := e.ret.SignedCertificate(ctx, e.records, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				c, hash, err := VerifyCertificate(signed, e.signer.VerifierKey())
				if err != nil || c.Records != 7 || len(c.Kept) != 3 {
					t.Fatalf("certificate: %v %+v", err, c)
				}
				e.checkAudit(t, p.ID, hash)
			})
		})
	}
}

// checkNoHalfDisposed: for every document version of the plan, either its
// key and ciphertext are both still stored (not reached yet), or its key
// is gone (unreadable) — never a ciphertext deleted while its key stays —
// and whatever has lost its key does not open.
func (e *env) checkNoHalfDisposed(t *testing.T, p Plan) {
	t.Helper()
	for _, it := range e.planItems(t, p) {
		if it.Doc == "" {
			continue
		}
		keys := e.versionsOf(t, versionObject(it.Case, it.Doc, it.Version))
		cipher := e.versionsOf(t, docObject(it.Case, it.Doc, it.Version))
		if keys > 0 && cipher == 0 {
			t.Fatalf("%s v%d: ciphertext deleted before its key", it.Doc, it.Version)
		}
		if keys == 0 {
			if _, err := e.vault.Open(t.Context(), e.mediator, it.Case, it.Doc, it.Version, nil); err == nil {
				t.Fatalf("%s v%d: opens without its key", it.Doc, it.Version)
			}
		}
	}
}

// TestApplyCrashAtEveryCaseStep is the same for the case classes: with
// every class of the scenario's cases due, the apply is stopped at each
// step boundary of a case record's disposal (and of the other classes'),
// then run again. It converges: A's and C's invitations are gone and
// counted once, case A's record and its
// party's account (and its email index entry) are gone, its stub is stored once, one audit entry
// records the case's destruction, the held case B and case C (a document
// held, so its record is kept) keep their records, and there is one
// certificate, which counts the classes. The scenario is built as in
// TestApplyCrashAtEveryStep; three steps drawn at random run on S3 too.
func TestApplyCrashAtEveryCaseStep(t *testing.T) {
	t.Parallel()
	// The scenario, with every case class due 30 days after closing.
	world := func(e *env, t *testing.T) *scenario {
		s := e.scenario(t)
		for _, class := range policy.CaseClasses() {
			if _, err := e.setRule(t.Context(), policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	steps := []string{"case-classes", "case-journal", "stub", "case-audit", "accounts", "case-record-deleted", "seat-index", "case-record", "page", "late-seats-journal", "late-seats-audit", "late-seats", "certificate"}
	onS3 := s3CrashSteps(t, steps, 3)
	tmpl := newWorldTemplate(t, world)
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			onEachStoreFrom(t, tmpl, onS3[step], func(t *testing.T, e *env, s *scenario) {
				ctx := t.Context()
				p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
					t.Fatal(err)
				}
				// Case A's entries in the index of seats by address (its
				// invitation's, its party's): stored while A's record or its
				// party's account is, whatever step the apply stopped at.
				all := func(string) bool { return true }
				seatsOf, err := e.ret.groupRecords(ctx, cases.SeatIndexPrefix, all, func(r tokenRecord) string { return r.CaseID })
				if err != nil {
					t.Fatal(err)
				}
				aSeats := seatsOf[s.a.id]
				if len(aSeats) != 2 || len(seatsOf[s.c.id]) != 2 {
					t.Fatalf("seat index entries by case: %v; want two of A's and two of C's", seatsOf)
				}
				e.ret.hook = func(name string) error {
					if name == step {
						return errCrash
					}
					return nil
				}
				if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); !errors.Is(err, errCrash) {
					t.Fatalf("apply ran through the crash at %s: %v", step, err)
				}
				e.checkNoHalfDisposed(t, p)
				if e.versionsOf(t, "cases/"+s.a.id+"/case") > 0 || e.versionsOf(t, "accounts/"+s.a.party) > 0 {
					for _, k := range aSeats {
						if e.versionsOf(t, k) == 0 {
							t.Fatalf("stopped at %s: case A's record or party stays, its seat index entry %s is gone", step, k)
						}
					}
				}
				e.ret.hook = nil
				if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
					t.Fatalf("rerun: %v %+v", err, pr)
				}
				// The inventory of every token-keyed record (sign-in
				// sessions included) is not kept once the apply is done.
				e.ret.invMu.Lock()
				inventories := len(e.ret.inv)
				e.ret.invMu.Unlock()
				if inventories != 0 {
					t.Fatalf("the service still holds %d plan inventories after the apply finished", inventories)
				}
				if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
					t.Fatalf("third run: %v", err)
				}
				for _, key := range append([]string{"cases/" + s.a.id + "/case", "accounts/" + s.a.party}, aSeats...) {
					if n := e.versionsOf(t, key); n != 0 {
						t.Fatalf("%s: %d stored versions left", key, n)
					}
				}
				// The party's email index entry went with the account;
				// the kept cases' parties keep theirs.
				if left := e.emailIndexOf(t, s.a.email, s.a.party); len(left) != 0 {
					t.Fatalf("case A's party's email index entry stays: %v", left)
				}
				for _, tc := range []*testCase{s.b, s.c} {
					if len(e.emailIndexOf(t, tc.email, tc.party)) == 0 {
						t.Fatalf("the party of kept case %s lost their email index entry", tc.id)
					}
				}
				if n := e.versionsOf(t, cases.StubKey(s.a.id)); n != 1 {
					t.Fatalf("stub of A: %d versions", n)
				}
				for _, tc := range []*testCase{s.b, s.c} {
					if _, err := e.cases.Load(ctx, tc.id); err != nil {
						t.Fatalf("kept case %s: %v", tc.id, err)
					}
					if e.versionsOf(t, "accounts/"+tc.party) == 0 {
						t.Fatalf("party of kept case %s destroyed", tc.id)
					}
				}
				destroyed := 0
				for i := range e.log.Size() {
					ev, err := e.log.Entry(ctx, i)
					if err != nil {
						t.Fatal(err)
					}
					if ev.Type == "retention.case.destroyed" {
						destroyed++
						if ev.Case != s.a.id || !slices.Equal(ev.Objects, []string{s.a.party}) {
							t.Fatalf("case destroyed entry: %+v", ev)
						}
					}
				}
				if destroyed != 1 {
					t.Fatalf("%d case destruction entries, want 1", destroyed)
				}
				signed, err := e.ret.SignedCertificate(ctx, e.records, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				c, hash, err := VerifyCertificate(signed, e.signer.VerifierKey())
				if err != nil {
					t.Fatal(err)
				}
				counts := map[string]ClassCount{}
				for _, cc := range c.Classes {
					counts[cc.Class] = cc
				}
				// Each of the two cases' invitation; case A's record
				// with its two entries in the index of seats by address
				// (the invitation's, the participant's), which go with
				// it, not with the invitations (case C's stay with its
				// kept record).
				if counts[policy.ClassCaseRecord].Records != 1 || counts[policy.ClassParticipantAccount].Objects != 1 ||
					counts[policy.ClassInvitesSessions].Records != 2 || counts[policy.ClassInvitesSessions].Objects != 2 {
					t.Fatalf("certificate classes: %+v", c.Classes)
				}
				for _, k := range seatsOf[s.c.id] {
					if e.versionsOf(t, k) == 0 {
						t.Fatalf("kept case C lost its seat index entry %s", k)
					}
				}
				// Case A's record counts its two index entries among its
				// objects (two of its record's places, two entries).
				if counts[policy.ClassCaseRecord].Objects != 4 {
					t.Fatalf("case record's objects: %+v; want 4", counts[policy.ClassCaseRecord])
				}
				kept := false
				for _, r := range c.Kept {
					kept = kept || (r.Case == s.c.id && r.Class == policy.ClassCaseRecord && r.Kept != "")
				}
				if !kept {
					t.Fatalf("case C's record not listed as kept: %+v", c.Kept)
				}
				e.checkAudit(t, p.ID, hash)
			})
		})
	}
}
