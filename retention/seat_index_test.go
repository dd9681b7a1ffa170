package retention

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// TestDisposalRemovesSeatIndexEntries: a disposed case's entries in the
// index of seats by address (package cases: the invitation's and the
// participant's, and one no record backs, as a crash between an entry
// and its invitation leaves) go with its case record, after it, every stored
// version; the open case's stay. With the index complete, asking for a
// link for the disposed party's address then makes none, and the open
// case's party still gets theirs.
func TestDisposalRemovesSeatIndexEntries(t *testing.T) {
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
		gone, open := tcs[0], tcs[1]
		if err := e.cases.BackfillSeatIndex(ctx); err != nil {
			t.Fatal(err)
		}
		// An invitation in the case to go whose record is not stored (as
		// a crash between its entry and its record leaves it): every
		// version of the record deleted.
		inv, err := e.cases.CreateInvite(ctx, e.mediator, gone.id, cases.NewInvite{Role: cases.RoleParty, Side: "B", Name: "Sam", Email: "sam@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		vs, err := store.Versions(ctx, "invites/"+e.meta.IndexKey("invite", inv.Token))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if err := store.Delete(ctx, v.Key, v.VersionID); err != nil {
				t.Fatal(err)
			}
		}
		all := func(string) bool { return true }
		byCase, err := e.ret.groupRecords(ctx, cases.SeatIndexPrefix, all, func(r tokenRecord) string { return r.CaseID })
		if err != nil {
			t.Fatal(err)
		}
		if len(byCase[gone.id]) != 3 || len(byCase[open.id]) != 2 {
			t.Fatalf("seat index entries by case: %v; want three of the case to go, two of the open one", byCase)
		}
		stored := func(keys []string) int {
			n := 0
			for _, k := range keys {
				vs, err := store.Versions(ctx, k)
				if errors.Is(err, objstore.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				n += len(vs)
			}
			return n
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
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("apply: %v %+v", err, pr)
		}
		if n := stored(byCase[gone.id]); n != 0 {
			t.Fatalf("%d stored versions of the disposed case's seat index entries are left", n)
		}
		if n := stored(byCase[open.id]); n != 2 {
			t.Fatalf("%d stored versions of the open case's seat index entries; want its two", n)
		}
		if _, ok, err := e.cases.IssueSignInLink(ctx, gone.email); ok != cases.SignInNone || err != nil {
			t.Fatalf("a sign-in link for the disposed party's address: ok %v, %v", ok, err)
		}
		if r, ok, err := e.cases.IssueSignInLink(ctx, open.email); ok != cases.SignInLinkMade || err != nil || r.AccountID != open.party {
			t.Fatalf("the open case's party: %+v ok %v, %v", r, ok, err)
		}
	})
}

// TestSeatIndexOutlivesInvitations: under the default schedule a closed
// case's invitations go 30 days after it closes, but its record and its
// participants' accounts stay six years, and their seats still count for
// the emailed sign-in link. The index entries of those seats must stay as
// long: a closed case's party and an open case's party who share an
// address (spouses, family@x) are told "shared" before the invitations'
// disposal and after it, as the reading of every record says; with the
// entries gone with the invitations the open case's party got a link the
// other could open.
func TestSeatIndexOutlivesInvitations(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		tcs := e.newCases(t, map[string]vault.Class{}, map[string]vault.Class{})
		closed, open := tcs[0], tcs[1]
		if err := e.cases.BackfillSeatIndex(ctx); err != nil {
			t.Fatal(err)
		}
		e.close(t, closed)
		// Kim joins the open case with the closed case's party's address,
		// and confirms it.
		inv, err := e.cases.CreateInvite(ctx, e.mediator, open.id, cases.NewInvite{Role: cases.RoleParty, Side: "B", Name: "Kim", Email: closed.email})
		if err != nil {
			t.Fatal(err)
		}
		j, err := e.cases.Join(ctx, inv.Token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.accounts.ConfirmParticipantEmail(ctx, j.Account.ID, closed.email); err != nil {
			t.Fatal(err)
		}
		ask := func(when string) {
			t.Helper()
			if r, ok, err := e.cases.IssueSignInLink(ctx, closed.email); ok != cases.SignInShared || err != nil {
				t.Fatalf("%s: a sign-in link for the shared address: %+v answer %v, %v; want shared", when, r, ok, err)
			}
		}
		ask("before disposal")
		e.clock = e.clock.Add(month)
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("apply: %v %+v", err, pr)
		}
		planned := false
		for _, it := range e.planItems(t, p) {
			planned = planned || (it.Case == closed.id && it.Class == policy.ClassInvitesSessions)
		}
		if !planned {
			t.Fatalf("the closed case's invitations were not due: %+v", e.planItems(t, p))
		}
		if _, err := e.cases.Load(ctx, closed.id); err != nil {
			t.Fatalf("the closed case's record: %v; it stays six years", err)
		}
		ask("after the invitations' disposal (index)")
		// The reading of every record says the same.
		if err := e.meta.Delete(ctx, "seat-index.complete"); err != nil {
			t.Fatal(err)
		}
		ask("after the invitations' disposal (every record)")
	})
}

// TestDisposalRemovesLateSeatIndexEntries: an entry in the index of
// seats by address written for a case while it is being disposed of,
// after the plan's inventory read the index — here by `parley admin
// seat-index` backfilling the case's participant, whose entry was not
// there (a seat stored before the index existed), once the case is
// fenced — goes with the case too, every stored version, before the
// certificate, which counts it on the case record's line with the audit
// entry that recorded it. The apply stopped at each step of that second
// pass (and run again) converges on the same: the entry gone, audited
// once, counted once; the open case's entries stay. The apply run
// through, and stopped at each step, runs on the directory store; on S3
// the apply run through and one stop drawn at random (s3CrashSteps).
func TestDisposalRemovesLateSeatIndexEntries(t *testing.T) {
	t.Parallel()
	stops := []string{"late-seats-journal", "late-seats-audit", "late-seats"}
	onS3 := s3CrashSteps(t, stops, 1)
	onS3[""] = true
	for _, stop := range append([]string{""}, stops...) {
		t.Run("stop="+stop, func(t *testing.T) {
			t.Parallel()
			onEachStoreIf(t, onS3[stop], func(t *testing.T, store objstore.Store) {
				e := newEnv(t, store)
				ctx := t.Context()
				for _, class := range policy.CaseClasses() {
					if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
						t.Fatal(err)
					}
				}
				tcs := e.newCases(t, map[string]vault.Class{}, map[string]vault.Class{})
				gone, open := tcs[0], tcs[1]
				if err := e.cases.BackfillSeatIndex(ctx); err != nil {
					t.Fatal(err)
				}
				all := func(string) bool { return true }
				byAccount, err := e.ret.groupRecords(ctx, cases.SeatIndexPrefix, all, func(r tokenRecord) string { return r.AccountID })
				if err != nil {
					t.Fatal(err)
				}
				byCase, err := e.ret.groupRecords(ctx, cases.SeatIndexPrefix, all, func(r tokenRecord) string { return r.CaseID })
				if err != nil {
					t.Fatal(err)
				}
				if len(byAccount[gone.party]) != 1 || len(byCase[open.id]) != 2 {
					t.Fatalf("seat index entries: by account %v, by case %v", byAccount, byCase)
				}
				// The party's entry is not there when the plan's apply
				// reads the index: as for a seat stored before the index.
				late := byAccount[gone.party][0]
				vs, err := store.Versions(ctx, late)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					if err := store.Delete(ctx, v.Key, v.VersionID); err != nil {
						t.Fatal(err)
					}
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
				// Once the case is fenced and its journal written (the
				// inventory read long before), the operator backfills the
				// index: the case and its party are still stored, so the
				// party's entry is written.
				var backfilled atomic.Bool
				var hookErr error
				e.ret.hook = func(name string) error {
					if name == "case-journal" && !backfilled.Swap(true) {
						if err := e.meta.Delete(ctx, "seat-index.complete"); err != nil {
							hookErr = err
						} else {
							hookErr = e.cases.BackfillSeatIndex(ctx)
						}
					}
					if name == stop {
						return errCrash
					}
					return nil
				}
				_, err = e.ret.ApplyAll(ctx, e.records, p.ID, nil)
				if hookErr != nil {
					t.Fatal(hookErr)
				}
				if !backfilled.Load() {
					t.Fatal("the apply never reached the case's journal")
				}
				if stop != "" {
					if !errors.Is(err, errCrash) {
						t.Fatalf("apply ran through the stop at %s: %v", stop, err)
					}
					e.ret.hook = nil
					_, err = e.ret.ApplyAll(ctx, e.records, p.ID, nil)
				}
				if err != nil {
					t.Fatalf("apply: %v", err)
				}
				if n := e.versionsOf(t, late); n != 0 {
					t.Fatalf("%d stored versions of the entry written during the case's disposal are left", n)
				}
				for _, k := range byCase[gone.id] {
					if n := e.versionsOf(t, k); n != 0 {
						t.Fatalf("%s: %d stored versions left", k, n)
					}
				}
				for _, k := range byCase[open.id] {
					if e.versionsOf(t, k) == 0 {
						t.Fatalf("the open case lost its seat index entry %s", k)
					}
				}
				// Audited once, before the certificate's link, naming the
				// plan and the case.
				var lateAudit []int64
				caseObjects := ""
				for i := range e.log.Size() {
					ev, err := e.log.Entry(ctx, i)
					if err != nil {
						t.Fatal(err)
					}
					if ev.Type == "retention.records.destroyed" && ev.Attrs["part"] == "seat-index" {
						if ev.Case != gone.id || ev.Attrs["plan"] != p.ID || ev.Attrs["objects"] != "1" || ev.Attrs["class"] != policy.ClassCaseRecord {
							t.Fatalf("late seat index entries' audit entry: %+v", ev)
						}
						lateAudit = append(lateAudit, i)
					}
					if ev.Type == "retention.case.destroyed" && ev.Case == gone.id {
						caseObjects = ev.Attrs[policy.ClassCaseRecord]
					}
				}
				if len(lateAudit) != 1 {
					t.Fatalf("%d audit entries for the late seat index entries, want 1", len(lateAudit))
				}
				signed, err := e.ret.SignedCertificate(ctx, e.records, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				c, hash, err := VerifyCertificate(signed, e.signer.VerifierKey())
				if err != nil {
					t.Fatal(err)
				}
				e.checkAudit(t, p.ID, hash)
				found := false
				for _, r := range c.Destroyed {
					if r.Case != gone.id || r.Class != policy.ClassCaseRecord {
						continue
					}
					found = true
					n, err := strconv.Atoi(caseObjects)
					if err != nil {
						t.Fatalf("the case's destruction entry counts %q case-record objects", caseObjects)
					}
					if r.Counts[policy.ClassCaseRecord] != n+1 || !slices.Contains(c.AuditEntries, lateAudit[0]) {
						t.Fatalf("certificate's case record: %+v (audit entries %v); want %d+1 case-record objects and entry %d",
							r, c.AuditEntries, n, lateAudit[0])
					}
				}
				if !found {
					t.Fatalf("the case record is not among the certificate's destroyed: %+v", c.Destroyed)
				}
				if _, ok, err := e.cases.IssueSignInLink(ctx, gone.email); ok != cases.SignInNone || err != nil {
					t.Fatalf("a sign-in link for the disposed party's address: ok %v, %v", ok, err)
				}
			})
		})
	}
}

// TestSweepOrphanedSeatIndex: an entry in the index of seats by address
// that lands after the apply's last listing of the index (a writer that
// read the case before its record went and stalled) — here every stored
// version of the destroyed case's entries written back as they were —
// is residue once its period runs (orphaned-seat-index: no case record
// backs it, and its invitation's record is gone too); the next plan
// destroys it, counted on its certificate. The open case's entries, and
// an entry of the destroyed case whose invitation record is still stored
// (its seat still counts), are not residue.
func TestSweepOrphanedSeatIndex(t *testing.T) {
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
		gone, open := tcs[0], tcs[1]
		if err := e.cases.BackfillSeatIndex(ctx); err != nil {
			t.Fatal(err)
		}
		all := func(string) bool { return true }
		byCase, err := e.ret.groupRecords(ctx, cases.SeatIndexPrefix, all, func(r tokenRecord) string { return r.CaseID })
		if err != nil {
			t.Fatal(err)
		}
		if len(byCase[gone.id]) != 2 || len(byCase[open.id]) != 2 {
			t.Fatalf("seat index entries by case: %v", byCase)
		}
		raw := func(k string) []byte {
			t.Helper()
			rc, _, err := store.Get(ctx, k, objstore.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		// The destroyed case's entries as stored, to write back later,
		// and its invitation's record.
		saved := map[string][]byte{}
		inviteEntry, inviteKey := "", ""
		for _, k := range byCase[gone.id] {
			saved[k] = raw(k)
			var entry struct {
				Invite string `json:"invite"`
			}
			if _, err := e.meta.Get(ctx, k, &entry); err != nil {
				t.Fatal(err)
			}
			if entry.Invite != "" {
				inviteEntry, inviteKey = k, entry.Invite
			}
		}
		if inviteKey == "" {
			t.Fatal("no invitation's entry among the case's")
		}
		savedInvite := raw(inviteKey)
		e.close(t, gone)
		e.clock = e.clock.Add(month)
		apply := func() Plan {
			t.Helper()
			p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
				t.Fatal(err)
			}
			if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
				t.Fatalf("apply: %v %+v", err, pr)
			}
			return p
		}
		p := apply()
		if p.Residue[ResidueSeatIndex] != 0 {
			t.Fatalf("residue before the case was destroyed: %v", p.Residue)
		}
		put := func(k string, b []byte) {
			t.Helper()
			if _, err := store.Put(ctx, k, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for k, b := range saved {
			if n := e.versionsOf(t, k); n != 0 {
				t.Fatalf("%s: %d versions left by the disposal", k, n)
			}
			put(k, b)
		}
		// The invitation's record back too: its entry's seat counts.
		put(inviteKey, savedInvite)
		// Their period (the default residue rule: 30 days from when they
		// were written) runs; the next plan destroys the participant's.
		e.clock = e.clock.Add(month)
		q := apply()
		if q.Residue[ResidueSeatIndex] != 1 {
			t.Fatalf("residue: %v; want 1 %s", q.Residue, ResidueSeatIndex)
		}
		for k := range saved {
			if n := e.versionsOf(t, k); (n != 0) != (k == inviteEntry) {
				t.Fatalf("%s: %d stored versions after the sweep; the invitation's entry stays, the participant's goes", k, n)
			}
		}
		c, err := e.ret.buildCertificate(ctx, mustPlan(t, e, q.ID))
		if err != nil {
			t.Fatal(err)
		}
		if c.Residue[ResidueSeatIndex] != 1 {
			t.Fatalf("certificate residue: %v", c.Residue)
		}
		// Once the invitation's record is gone, its entry goes too.
		vs, err := store.Versions(ctx, inviteKey)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if err := store.Delete(ctx, v.Key, v.VersionID); err != nil {
				t.Fatal(err)
			}
		}
		e.clock = e.clock.Add(time.Hour)
		if r := apply(); r.Residue[ResidueSeatIndex] != 1 || e.versionsOf(t, inviteEntry) != 0 {
			t.Fatalf("residue once the invitation's record is gone: %v; its entry has %d versions", r.Residue, e.versionsOf(t, inviteEntry))
		}
		for _, k := range byCase[open.id] {
			if e.versionsOf(t, k) == 0 {
				t.Fatalf("the open case lost its seat index entry %s", k)
			}
		}
	})
}
