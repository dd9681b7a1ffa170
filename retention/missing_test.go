package retention

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// applyCollect applies plan id to the end and returns its case-record
// item's outcome for caseID, and the plan's verified certificate.
func (e *env) applyCollect(t *testing.T, id, caseID string) (Outcome, Certificate) {
	t.Helper()
	ctx := t.Context()
	var got *Outcome
	pr, err := e.ret.ApplyAll(ctx, e.records, id, func(pr Progress) {
		for i, it := range pr.Items {
			if it.Case == caseID && it.Class == policy.ClassCaseRecord {
				got = &pr.Outcomes[i]
			}
		}
	})
	if err != nil || !pr.Done {
		t.Fatalf("apply %s: %v %+v", id, err, pr)
	}
	if got == nil {
		t.Fatalf("plan %s has no case-record item for %s", id, caseID)
	}
	signed, err := e.ret.SignedCertificate(ctx, e.records, id)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := VerifyCertificate(signed, e.signer.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	return *got, cert
}

// loseOutsideParley deletes every stored version under a case record's
// places, as someone with the bucket's keys might: no plan, no audit
// entry.
func (e *env) loseOutsideParley(t *testing.T, caseID string) {
	t.Helper()
	prefixes, keys := classPlaces(policy.ClassCaseRecord, caseID, &inventory{})
	vs, err := e.ret.storedVersions(t.Context(), prefixes, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("nothing stored of the case record to lose")
	}
	infos := make([]objstore.Info, len(vs))
	for i, v := range vs {
		infos[i] = v.Info
	}
	for _, err := range e.store.DeleteVersions(t.Context(), infos) {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func certCases(rs []CertRecord, class string) []string {
	var out []string
	for _, r := range rs {
		if r.Class == class {
			out = append(out, r.Case)
		}
	}
	return out
}

// A plan reaching a case record that is gone counted it destroyed when
// nothing was left under its places, whatever had removed it: a record
// deleted outside Parley was certified destroyed. Now it is destroyed
// only when the audit log shows a plan's disposal of it completed
// (retention.case.destroyed, not followed by retention.case.paused);
// otherwise the outcome is "missing", saying it was not destroyed by
// Parley, and the certificate lists it apart, not as destroyed.
func TestMissingCaseRecordNotCertifiedDestroyed(t *testing.T) {
	t.Parallel()
	scenarios := map[string]func(t *testing.T, store objstore.Store){
		"destroyed by another plan": func(t *testing.T, store objstore.Store) {
			e := dueWorld(t, store)
			tc := e.newCase(t, nil)
			e.close(t, tc)
			e.clock = e.clock.Add(month)
			p1, p2 := e.planApproved(t), e.planApproved(t)
			if o, _ := e.applyCollect(t, p1.ID, tc.id); o.Result != OutcomeDestroyed {
				t.Fatalf("the first plan's outcome %+v, want destroyed", o)
			}
			o, cert := e.applyCollect(t, p2.ID, tc.id)
			if o.Result != OutcomeDestroyed {
				t.Fatalf("the second plan's outcome %+v: want destroyed (the first plan's disposal is on record)", o)
			}
			if !slices.Contains(certCases(cert.Destroyed, policy.ClassCaseRecord), tc.id) {
				t.Fatalf("the second plan's certificate does not list the case record destroyed: %+v", cert.Destroyed)
			}
		},
		"lost outside Parley": func(t *testing.T, store objstore.Store) {
			e := dueWorld(t, store)
			tc := e.newCase(t, nil)
			e.close(t, tc)
			e.clock = e.clock.Add(month)
			p := e.planApproved(t)
			e.loseOutsideParley(t, tc.id)
			e.wantMissing(t, p.ID, tc.id)
		},
		"paused, then lost outside Parley": func(t *testing.T, store objstore.Store) {
			// The paused disposal stored the stub and audited
			// retention.case.destroyed before it met the storage hold:
			// neither is evidence the record was destroyed.
			e := dueWorld(t, store)
			ctx := t.Context()
			tc := e.newCase(t, nil)
			h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Complaint 2026-07", Authority: "Program rule 12"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.ret.ReleaseHold(ctx, e.records, tc.id, h.ID, "Complaint closed"); err != nil {
				t.Fatal(err)
			}
			key := holdKey(tc.id, h.ID)
			setHold := func(on bool) {
				vs, err := store.Versions(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					if !v.DeleteMarker {
						if err := store.SetLegalHold(ctx, key, v.VersionID, on); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			e.close(t, tc)
			e.clock = e.clock.Add(month)
			p1 := e.planApproved(t)
			setHold(true)
			if o, _ := e.applyCollect(t, p1.ID, tc.id); o.Result != OutcomeHeld {
				t.Fatalf("the first plan's outcome %+v, want held (paused)", o)
			}
			if n := e.entriesOf(t, "retention.case.destroyed", tc.id); n != 1 {
				t.Fatalf("%d retention.case.destroyed entries before the pause, want 1", n)
			}
			setHold(false)
			e.clock = e.clock.Add(time.Hour)
			p2 := e.planApproved(t)
			e.loseOutsideParley(t, tc.id)
			e.wantMissing(t, p2.ID, tc.id)
		},
	}
	for name, f := range scenarios {
		// In parallel, as their stores are: one after another, the last
		// scenario ran alone at the end of the package's run.
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			onEachStore(t, f)
		})
	}
}

// wantMissing applies plan id and checks that the case record's outcome
// is missing, in plain words, and that the certificate does not list it
// destroyed but missing.
func (e *env) wantMissing(t *testing.T, id, caseID string) {
	t.Helper()
	o, cert := e.applyCollect(t, id, caseID)
	if o.Result != OutcomeMissing || !strings.Contains(o.Missing, "not destroyed by Parley") {
		t.Fatalf("the case record lost outside Parley: outcome %+v, want missing, not destroyed by Parley", o)
	}
	if slices.Contains(certCases(cert.Destroyed, policy.ClassCaseRecord), caseID) {
		t.Fatalf("the certificate lists the lost case record as destroyed: %+v", cert.Destroyed)
	}
	if got := certCases(cert.Missing, policy.ClassCaseRecord); !slices.Equal(got, []string{caseID}) ||
		!strings.Contains(cert.Missing[0].Missing, "not destroyed by Parley") {
		t.Fatalf("the certificate's missing records %+v, want the case record, saying it was not destroyed by Parley", cert.Missing)
	}
}

// entryReads is a store (the test MinIO) that counts the reads of each
// audit log entry.
type entryReads struct {
	objstore.Store
	mu    sync.Mutex
	reads map[string]int
}

func (s *entryReads) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if strings.HasPrefix(key, audit.DefaultPrefix+"entries/") {
		s.mu.Lock()
		s.reads[key]++
		s.mu.Unlock()
	}
	return s.Store.Get(ctx, key, opts)
}

func (s *entryReads) ListAfter(ctx context.Context, prefix, startAfter string, fn func(objstore.Info) error) error {
	return objstore.ListAfter(ctx, s.Store, prefix, startAfter, fn)
}

// take returns the reads counted so far and starts counting again.
func (s *entryReads) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reads
	s.reads = map[string]int{}
	return out
}

// A plan reaching case records that are gone looked in the audit log for
// each one's disposal (destroyedByPlan), reading the log from its end
// backwards, the whole of it for a record lost outside Parley: N missing
// records read the whole log N times (third review). Now the records of
// a page are looked for together, and what was read is kept for the
// plan's later pages: no entry of the log is read twice. On real MinIO.
func TestMissingRecordsReadTheLogOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s3, err := objstore.OpenS3(ctx, testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	store := &entryReads{Store: s3, reads: map[string]int{}}
	e := dueWorld(t, store)
	tcs := e.newCases(t, nil, nil, nil, nil)
	for _, tc := range tcs {
		e.close(t, tc)
	}
	e.clock = e.clock.Add(month)
	p := e.planApproved(t)
	for _, tc := range tcs {
		e.loseOutsideParley(t, tc.id)
	}
	before := e.log.Size()
	store.take()
	pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
	if err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	reads := store.take()
	read, twice := 0, 0
	for i := range before {
		switch n := reads[fmt.Sprintf("%sentries/%020d", audit.DefaultPrefix, i)]; {
		case n > 1:
			twice++
			fallthrough
		case n == 1:
			read++
		}
	}
	if twice > 0 {
		t.Fatalf("the apply read %d of the log's %d entries before it more than once (%d read), want each at most once", twice, before, read)
	}
	signed, err := e.ret.SignedCertificate(ctx, e.records, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := VerifyCertificate(signed, e.signer.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if got := certCases(cert.Missing, policy.ClassCaseRecord); len(got) != len(tcs) {
		t.Fatalf("the certificate's missing case records %v, want the %d lost", got, len(tcs))
	}
	if got := certCases(cert.Destroyed, policy.ClassCaseRecord); len(got) != 0 {
		t.Fatalf("the certificate lists lost case records destroyed: %v", got)
	}
}
