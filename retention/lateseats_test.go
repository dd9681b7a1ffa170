package retention

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// TestConcurrentAppliesCertifyOnlyDestroyedLateSeats: two applies of one
// plan. The first lists the index of seats by address again (lateSeats)
// and finds nothing; an entry of the destroyed case is then written back
// (a writer that read the case before its record went, stalled); the
// second apply reaches lateSeats and stops after its audit step, before
// deleting anything; the first goes on to the certificate. The
// certificate must not count the entry as destroyed while it is stored:
// every run follows the first run's stored journal (empty here), and
// none goes past lateSeats before that journal is done. (Before review
// 246 the first run stored no journal for nothing found, the second
// journaled the entry, and the first certified it, left stored.)
func TestConcurrentAppliesCertifyOnlyDestroyedLateSeats(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		for _, class := range policy.CaseClasses() {
			if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
				t.Fatal(err)
			}
		}
		tcs := e.newCases(t, map[string]vault.Class{}, map[string]vault.Class{})
		gone := tcs[0]
		if err := e.cases.BackfillSeatIndex(ctx); err != nil {
			t.Fatal(err)
		}
		all := func(string) bool { return true }
		byAccount, err := e.ret.groupRecords(ctx, cases.SeatIndexPrefix, all, func(r tokenRecord) string { return r.AccountID })
		if err != nil {
			t.Fatal(err)
		}
		if len(byAccount[gone.party]) != 1 {
			t.Fatalf("seat index entries by account: %v", byAccount)
		}
		late := byAccount[gone.party][0]
		rc, _, err := store.Get(ctx, late, objstore.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		e.close(t, gone)
		e.clock = e.clock.Add(month)
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		phase := 0 // 0: the first apply; 1: the second, inside it; 2: the first again
		var hookErr, secondErr error
		e.ret.hook = func(name string) error {
			switch {
			case phase == 0 && name == "late-seats-journal":
				phase = 1
				if _, err := store.Put(ctx, late, bytes.NewReader(raw), int64(len(raw)), objstore.PutOptions{}); err != nil {
					hookErr = err
				}
				_, secondErr = e.ret.ApplyAll(ctx, e.records, p.ID, nil)
				phase = 2
			case phase == 1 && name == "late-seats-audit":
				return errCrash
			}
			return nil
		}
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil {
			t.Fatalf("apply: %v", err)
		}
		e.ret.hook = nil
		if hookErr != nil {
			t.Fatal(hookErr)
		}
		if phase != 2 {
			t.Fatal("the first apply never reached the late seats' journal")
		}
		if !errors.Is(secondErr, errCrash) {
			t.Fatalf("the second apply ran through its stop: %v", secondErr)
		}
		caseObjects := ""
		for i := range e.log.Size() {
			ev, err := e.log.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type == "retention.case.destroyed" && ev.Case == gone.id {
				caseObjects = ev.Attrs[policy.ClassCaseRecord]
			}
		}
		n, err := strconv.Atoi(caseObjects)
		if err != nil {
			t.Fatalf("the case's destruction entry counts %q case-record objects", caseObjects)
		}
		signed, err := e.ret.SignedCertificate(ctx, e.records, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := VerifyCertificate(signed, e.signer.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		stored := e.versionsOf(t, late)
		for _, r := range c.Destroyed {
			if r.Case != gone.id || r.Class != policy.ClassCaseRecord {
				continue
			}
			if counted := r.Counts[policy.ClassCaseRecord] - n; counted > 0 && stored > 0 {
				t.Fatalf("the certificate counts %d late seat index entries destroyed, and the entry has %d stored versions", counted, stored)
			}
		}
	})
}
