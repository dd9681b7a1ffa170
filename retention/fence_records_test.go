package retention

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// crashingStore stands for a node that dies while deleting a
// participant's account: the first DeleteVersions call that names a key
// under prefix deletes only the first version it lists, and from then on
// every delete fails (nothing more is deleted, no marker taken back)
// until down is cleared. Reads keep working, as for any other node.
type crashingStore struct {
	objstore.Store
	prefix string
	armed  atomic.Bool
	down   atomic.Bool
}

var errDeletesDown = errors.New("injected: the node died while deleting")

func (c *crashingStore) Delete(ctx context.Context, key, versionID string) error {
	if c.down.Load() {
		return errDeletesDown
	}
	return c.Store.Delete(ctx, key, versionID)
}

func (c *crashingStore) DeleteVersions(ctx context.Context, versions []objstore.Info) []error {
	errs := make([]error, len(versions))
	if c.down.Load() {
		for i := range errs {
			errs[i] = errDeletesDown
		}
		return errs
	}
	hit := false
	for _, v := range versions {
		hit = hit || strings.HasPrefix(v.Key, c.prefix)
	}
	if !hit || !c.armed.Load() {
		return c.Store.DeleteVersions(ctx, versions)
	}
	c.armed.Store(false)
	c.down.Store(true)
	errs[0] = c.Store.DeleteVersions(ctx, versions[:1])[0]
	for i := 1; i < len(errs); i++ {
		errs[i] = errDeletesDown
	}
	return errs
}

// dueWorld is a store with every case class due 30 days after closing.
func dueWorld(t *testing.T, store objstore.Store) *env {
	t.Helper()
	e := newEnv(t, store)
	for _, class := range policy.CaseClasses() {
		if _, err := e.setRule(t.Context(), policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// A participant's account was deleted newest version first: a disposal
// stopped after the newest went left the one before it current — here
// the account as it was before its sessions were revoked, so a revoked
// sign-in worked again until the apply was run again. Now its records
// are hidden first, as the case record is.
func TestAccountDisposalNeverExposesOlderVersion(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, inner objstore.Store) {
		st := &crashingStore{Store: inner}
		e := dueWorld(t, st)
		ctx := t.Context()
		c, err := e.cases.Create(ctx, e.mediator, cases.NewCase{Title: "Okafor v. Lind", Type: "workplace", SideLabels: []string{"Employee", "Employer"}})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := e.cases.CreateInvite(ctx, e.mediator, c.ID, cases.NewInvite{Role: cases.RoleParty, Side: "A", Name: "Ola Okafor"})
		if err != nil {
			t.Fatal(err)
		}
		j, err := e.cases.Join(ctx, inv.Token)
		if err != nil {
			t.Fatal(err)
		}
		party := j.Account.ID
		// The session is revoked (a stolen laptop): the account's newest
		// version says so, the one before it does not.
		if err := e.accounts.RevokeSessions(ctx, party); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.accounts.Authenticate(ctx, j.Token); !errors.Is(err, fault.ErrUnauthenticated) {
			t.Fatalf("a revoked session signs in: %v", err)
		}
		if n := e.versionsOf(t, "accounts/"+party); n < 2 {
			t.Fatalf("the account has %d versions; the test needs an older one", n)
		}
		p := e.planClosed(t, &testCase{id: c.ID, party: party})
		st.prefix = "accounts/" + party
		st.armed.Store(true)
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); !errors.Is(err, errDeletesDown) {
			t.Fatalf("apply ran through the crash: %v", err)
		}
		if a, _, err := e.accounts.Authenticate(ctx, j.Token); err == nil {
			t.Fatalf("after a disposal stopped part way, the revoked session signs in again as %s (an older account version is current)", a.ID)
		}
		if _, err := e.accounts.Get(ctx, party); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("the account being disposed of is readable: %v", err)
		}
		st.down.Store(false)
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("rerun: %v %+v", err, pr)
		}
		if n := e.versionsOf(t, "accounts/"+party); n != 0 {
			t.Fatalf("%d versions of the account left after the rerun", n)
		}
	})
}

// A storage (legal) hold met part way through a case record's disposal
// — on a participant's account, or on a record of the case-record class
// (a released hold's record) — pauses the disposal: what is left is kept,
// readable and unfenced (the mediator can work on the case: no 410), the
// case says it is paused, the pause is audited, and the next plan after
// the hold is released finishes the disposal.
func TestStorageHoldPausesDisposal(t *testing.T) {
	t.Parallel()
	for _, on := range []string{"account", "released-hold"} {
		t.Run(on, func(t *testing.T) {
			t.Parallel()
			store, err := objstore.OpenS3(t.Context(), testenv.S3(t))
			if err != nil {
				t.Fatal(err)
			}
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
			heldKey := holdKey(tc.id, h.ID)
			if on == "account" {
				heldKey = "accounts/" + tc.party
			}
			setHold := func(on bool) {
				vs, err := store.Versions(ctx, heldKey)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					if err := store.SetLegalHold(ctx, heldKey, v.VersionID, on); err != nil {
						t.Fatal(err)
					}
				}
			}
			p := e.planClosed(t, tc)
			// The storage hold arrives once the case is fenced and its
			// destruction audited, before anything of it is deleted.
			e.ret.hook = func(step string) error {
				if step == "case-audit" {
					e.ret.hook = nil
					setHold(true)
				}
				return nil
			}
			var got []Outcome
			var items []Item
			pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, func(pr Progress) {
				items, got = append(items, pr.Items...), append(got, pr.Outcomes...)
			})
			if err != nil || !pr.Done {
				t.Fatalf("apply: %v %+v", err, pr)
			}
			held := false
			for i, it := range items {
				if it.Case == tc.id && it.Class == policy.ClassCaseRecord {
					held = got[i].Result == OutcomeHeld && len(got[i].Held) == 1 && got[i].Held[0] == "storage hold"
				}
			}
			if !held {
				t.Fatalf("the case record's outcome is not held by a storage hold: %+v %+v", items, got)
			}
			c, err := e.cases.Load(ctx, tc.id)
			if err != nil {
				t.Fatalf("what the hold keeps of the case is gone: %v", err)
			}
			if c.Disposing != nil || c.DisposalPaused == nil {
				t.Fatalf("case disposing=%v paused=%v: want the fence replaced by the paused state", c.Disposing, c.DisposalPaused)
			}
			if _, err := e.cases.Disclose(ctx, e.mediator, tc.id, "I once advised the employer"); err != nil {
				t.Fatalf("a paused case refuses the mediator's change: %v", err)
			}
			if n := e.entriesOf(t, "retention.case.paused", tc.id); n != 1 {
				t.Fatalf("%d retention.case.paused entries, want 1", n)
			}
			if n := e.versionsOf(t, heldKey); n == 0 {
				t.Fatalf("the held record %s was deleted", heldKey)
			}

			// The hold is released; the next retention pass finishes.
			setHold(false)
			e.clock = e.clock.Add(time.Hour)
			p2, err := e.ret.MakePlan(ctx, e.records, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			page, err := e.ret.loadPage(ctx, p2.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			paused := false
			for _, it := range page {
				paused = paused || (it.Case == tc.id && it.Class == policy.ClassCaseRecord && it.Paused != nil)
			}
			if !paused {
				t.Fatalf("the next plan does not say the case's disposal was paused: %+v", page)
			}
			if _, err := e.approve(ctx, e.records2, p2.ID); err != nil {
				t.Fatal(err)
			}
			if pr, err := e.ret.ApplyAll(ctx, e.records, p2.ID, nil); err != nil || !pr.Done {
				t.Fatalf("the next plan: %v %+v", err, pr)
			}
			if _, err := e.cases.Load(ctx, tc.id); !errors.Is(err, fault.ErrNotFound) {
				t.Fatalf("the case record is still there after the next plan: %v", err)
			}
			for _, k := range []string{heldKey, "accounts/" + tc.party, cases.RecordKey(tc.id)} {
				if n := e.versionsOf(t, k); n != 0 {
					t.Fatalf("%d versions of %s left after the next plan", n, k)
				}
			}
		})
	}
}

// The sweep destroyed a signed-out session's record newest version
// first: its newest is the sign-out's delete marker, so a node dying
// after deleting it left the session as it was before the sign-out
// current, and signing in, until the apply was run again. Now the older
// versions go first and the newest last.
func TestSignedOutSessionResidueNeverSignsInAgain(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, inner objstore.Store) {
		st := &crashingStore{Store: inner, prefix: "sessions/"}
		e := newEnv(t, st)
		ctx := t.Context()
		token, _, err := e.accounts.NewSession(ctx, e.mediator)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.accounts.Logout(ctx, token); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.accounts.Authenticate(ctx, token); err == nil {
			t.Fatal("a signed-out session signs in")
		}
		e.clock = e.clock.Add(2 * month)
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Residue[ResidueSession] != 1 {
			t.Fatalf("residue %v: want the signed-out session", p.Residue)
		}
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		st.armed.Store(true)
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); !errors.Is(err, errDeletesDown) {
			t.Fatalf("apply ran through the crash: %v", err)
		}
		if a, _, err := e.accounts.Authenticate(ctx, token); err == nil {
			t.Fatalf("after the sweep stopped part way, the signed-out session signs in again as %s", a.ID)
		}
		st.down.Store(false)
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("rerun: %v %+v", err, pr)
		}
		if _, _, err := e.accounts.Authenticate(ctx, token); err == nil {
			t.Fatal("the signed-out session signs in after the sweep")
		}
	})
}
