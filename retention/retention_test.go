package retention

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

const month = 31 * 24 * time.Hour

// scenario is the done-when world: A closed and wholly due, B closed and
// under a case hold, C closed with one document held and one due, D open.
type scenario struct {
	a, b, c, d *testCase
	holdB      Hold
	holdC      Hold
}

func (e *env) scenario(t *testing.T) *scenario {
	t.Helper()
	ctx := t.Context()
	for _, class := range []string{"correspondence", "evidence"} {
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
	}
	// This world is about documents and message history; the case's
	// other records (its invitation) are kept a year here, and disposed
	// of in caseclasses_test.go's.
	if _, err := e.setRule(ctx, policy.RetentionRule{Class: policy.ClassInvitesSessions, Trigger: policy.TriggerCaseClosed, Days: 365}); err != nil {
		t.Fatal(err)
	}
	tcs := e.newCases(t,
		map[string]vault.Class{"notes": vault.ClassMediatorNotes, "letter+v2": vault.ClassCorrespondence, "exhibit": vault.ClassEvidence},
		map[string]vault.Class{"notes": vault.ClassMediatorNotes},
		map[string]vault.Class{"notes": vault.ClassMediatorNotes, "exhibit": vault.ClassEvidence},
		map[string]vault.Class{"notes": vault.ClassMediatorNotes})
	s := &scenario{a: tcs[0], b: tcs[1], c: tcs[2], d: tcs[3]}
	for _, tc := range []*testCase{s.a, s.b, s.c} {
		e.close(t, tc)
	}
	var err error
	if s.holdB, err = e.ret.PlaceHold(ctx, e.records, NewHold{Case: s.b.id, Reason: "Complaint to the program", Authority: "Program rule 12"}); err != nil {
		t.Fatal(err)
	}
	if s.holdC, err = e.ret.PlaceHold(ctx, e.records, NewHold{Case: s.c.id, Doc: s.c.docs["exhibit"].ID, Reason: "Subpoena", Authority: "Order 2026-114"}); err != nil {
		t.Fatal(err)
	}
	e.clock = e.clock.Add(month)
	return s
}

// TestDisposeClosedCase is the done-when: a closed case past its
// schedule is planned, approved by someone else, applied; no stored
// version of its records is left and the old wrapped keys open nothing;
// held records survive and are listed as held; records staff never read
// content.
func TestDisposeClosedCase(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		s := e.scenario(t)
		records := []*testCase{s.a, s.b, s.c, s.d}
		canRead := func(when string) {
			for _, tc := range records {
				for _, d := range tc.docs {
					if _, err := e.vault.Open(ctx, e.records, tc.id, d.ID, 0, nil); err == nil {
						t.Fatalf("%s: records staff opened %s", when, d.ID)
					}
				}
			}
		}
		canRead("before planning")

		// A "backup" of case A's version records (the wrapped data keys).
		backup := map[string][]byte{}
		for _, d := range s.a.docs {
			for v := 1; v <= d.Version; v++ {
				k := versionObject(s.a.id, d.ID, v)
				backup[k] = readRaw(t, store, k)
			}
		}

		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		items := e.planItems(t, p)
		due, held := map[string]int{}, map[string]int{}
		for _, it := range items {
			if len(it.Held) > 0 {
				held[it.Case]++
			} else {
				due[it.Case]++
			}
			if it.Case == s.d.id {
				t.Errorf("open case in plan: %+v", it)
			}
		}
		// A: notes, letter v1+v2, exhibit, messages. B: notes, messages
		// (held). C: notes, messages due; exhibit held.
		if due[s.a.id] != 5 || held[s.a.id] != 0 || due[s.b.id] != 0 || held[s.b.id] != 2 || due[s.c.id] != 2 || held[s.c.id] != 1 {
			t.Fatalf("plan: due %v held %v\n%+v", due, held, items)
		}
		if p.Records != 7 || p.Held != 3 || p.Cases != 2 {
			t.Fatalf("plan header: %+v", p)
		}
		for _, it := range items {
			if it.Case == s.b.id && !slices.Contains(it.Held, "hold "+s.holdB.ID) {
				t.Errorf("held item does not say why: %+v", it)
			}
		}
		canRead("after planning")
		raw, _ := json.Marshal(items)
		if bytes.Contains(raw, []byte("CANARY")) || bytes.Contains(raw, []byte(".pdf")) {
			t.Fatal("plan holds names or content")
		}

		if _, err := e.ret.Apply(ctx, e.records2, p.ID); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("apply before approval: %v", err)
		}
		if _, err := e.approve(ctx, e.records, p.ID); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("planner approved own plan: %v", err)
		}
		if _, err := e.approve(ctx, e.mediator, p.ID); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("mediator approved: %v", err)
		}
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		canRead("after approval")
		steps := 0
		pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, func(Progress) { steps++ })
		if err != nil {
			t.Fatal(err)
		}
		if !pr.Done || pr.Plan.State != StateDone || steps != p.Pages+2 {
			t.Fatalf("apply: %+v after %d steps", pr, steps)
		}
		canRead("after apply")

		if left := e.objectsOf(t, s.a.id); len(left) != 0 {
			t.Fatalf("case A: %d object versions left: %v", len(left), left)
		}
		// The backed-up wrapped keys, restored, open nothing: their case
		// key is gone in every version.
		for k, b := range backup {
			if _, err := store.Put(ctx, k, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range s.a.docs {
			if _, err := kms.LoadOrCreateKey(ctx, readOnly{store}, e.mk, kms.CaseKeyPrefix+s.a.id, kms.CaseKeyLabel(s.a.id)); err == nil {
				t.Fatal("case key of A still loads")
			}
			if _, err := e.vault.Open(ctx, e.mediator, s.a.id, d.ID, 0, nil); err == nil {
				t.Fatal("mediator opened a disposed document")
			}
		}
		// B wholly kept; C's held exhibit kept with its case key, its
		// notes and messages gone.
		for _, d := range s.b.docs {
			e.mustRead(t, s.b.id, d)
		}
		e.mustRead(t, s.c.id, s.c.docs["exhibit"])
		if _, err := e.vault.Open(ctx, e.mediator, s.c.id, s.c.docs["notes"].ID, 0, nil); err == nil {
			t.Fatal("C's notes survive")
		}
		if keys, _, _ := e.ret.messageHistory(ctx, s.c.id); len(keys) != 0 {
			t.Fatalf("C's messages survive: %v", keys)
		}
		if keys, _, _ := e.ret.messageHistory(ctx, s.b.id); !hasSegments(keys, "joint", "caucus-A") {
			t.Fatalf("B's messages: %v", keys)
		}
		e.mustRead(t, s.d.id, s.d.docs["notes"])

		// The certificate: verifies, lists what went and what was kept.
		signed, err := e.ret.SignedCertificate(ctx, e.admin, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		c, hash, err := VerifyCertificate(signed, e.signer.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if c.Records != 7 || len(c.Kept) != 3 || c.Planner != e.records.ID || c.Approver != e.records2.ID ||
			!slices.Equal(c.CaseKeys, []string{s.a.id}) || c.Schedule.Version != 3 {
			t.Fatalf("certificate: %+v", c)
		}
		if bytes.Contains(signed, []byte("CANARY")) || bytes.Contains(signed, []byte(".pdf")) {
			t.Fatal("certificate holds names or content")
		}
		tampered := bytes.Replace(signed, []byte(`"records": 7`), []byte(`"records": 6`), 1)
		if _, _, err := VerifyCertificate(tampered, e.signer.VerifierKey()); !errors.Is(err, ErrBadCertificate) {
			t.Fatalf("tampered certificate: %v", err)
		}
		e.checkAudit(t, p.ID, hash)
		if _, err := e.ret.SignedCertificate(ctx, e.party, p.ID); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("party read a certificate: %v", err)
		}

		// Held records are listed as held; releasing the hold makes them
		// plannable.
		hs, err := e.ret.Holds(ctx, e.records, "", false)
		if err != nil || len(hs) != 2 {
			t.Fatalf("holds: %v %+v", err, hs)
		}
		if _, err := e.ret.ReleaseHold(ctx, e.records, s.b.id, s.holdB.ID, "complaint resolved"); err != nil {
			t.Fatal(err)
		}
		p2, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil || p2.Records != 2 || p2.Held != 1 {
			t.Fatalf("plan after release: %v %+v", err, p2)
		}
	})
}

// readOnly makes kms.LoadOrCreateKey only load: a key it cannot find, it
// cannot create either.
type readOnly struct{ objstore.Store }

func (readOnly) Put(context.Context, string, io.Reader, int64, objstore.PutOptions) (objstore.Info, error) {
	return objstore.Info{}, errors.New("read-only")
}

func readRaw(t testing.TB, store objstore.Store, key string) []byte {
	t.Helper()
	rc, _, err := store.Get(t.Context(), key, objstore.GetOptions{})
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

func (e *env) mustRead(t *testing.T, caseID string, d vault.Document) {
	t.Helper()
	dl, err := e.vault.Open(t.Context(), e.mediator, caseID, d.ID, 0, nil)
	if err != nil {
		t.Fatalf("held/kept document %s: %v", d.ID, err)
	}
	defer dl.Body.Close()
	if _, err := io.ReadAll(dl.Body); err != nil {
		t.Fatal(err)
	}
}

func (e *env) planItems(t testing.TB, p Plan) []Item {
	t.Helper()
	var out []Item
	for n := range p.Pages {
		items, err := e.ret.PlanPage(t.Context(), e.records, p.ID, n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, items...)
	}
	return out
}

// checkAudit verifies the whole log and finds exactly one certificate
// link for the plan, with the certificate's hash.
func (e *env) checkAudit(t testing.TB, planID, hash string) {
	t.Helper()
	if _, err := audit.Verify(t.Context(), e.store, e.signer.VerifierKey(), nil); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
	links := 0
	for i := range e.log.Size() {
		ev, err := e.log.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "retention.certificate" && ev.Objects[0] == planID {
			links++
			if ev.Hashes[0] != hash {
				t.Fatalf("link hash %s, certificate %s", ev.Hashes[0], hash)
			}
		}
		raw, _ := json.Marshal(ev)
		if strings.Contains(string(raw), "CANARY") || strings.Contains(string(raw), "Subpoena") {
			t.Fatalf("audit entry %d holds content: %s", i, raw)
		}
	}
	if links != 1 {
		t.Fatalf("%d certificate links for plan %s", links, planID)
	}
	var certs []string
	if err := e.store.List(t.Context(), "retention/certificates/", func(i objstore.Info) error { certs = append(certs, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || e.versionsOf(t, certs[0]) != 1 {
		t.Fatalf("certificates: %v", certs)
	}
}

// TestSchedule: the schedule is data, versioned and audited; policy
// refuses everyone but records staff and admins.
func TestSchedule(t *testing.T) {
	t.Parallel()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	ctx := t.Context()
	s, err := e.ret.Schedule(ctx, e.admin)
	if err != nil || s.Version != 0 || !slices.Equal(s.Rules, policy.DefaultSchedule().Rules) {
		t.Fatalf("default: %v %+v", err, s)
	}
	if _, err := e.ret.SetRule(ctx, e.mediator, policy.RetentionRule{Class: "admin", Trigger: policy.TriggerCreated, Days: 1}); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("mediator set the schedule: %v", err)
	}
	if _, err := e.setRule(ctx, policy.RetentionRule{Class: "poetry", Trigger: policy.TriggerCreated, Days: 1}); err == nil {
		t.Fatal("unknown class accepted")
	}
	for i, days := range []int{10, 20} {
		res, err := e.setRule(ctx, policy.RetentionRule{Class: "admin", Trigger: policy.TriggerCreated, Days: days})
		if err != nil || res.Version != i+1 || res.By != e.records.ID {
			t.Fatalf("set %d: %v %+v", i, err, res)
		}
		ev, err := e.log.Entry(ctx, e.log.Size()-1)
		if err != nil || ev.Type != "retention.schedule.set" || ev.Attrs["version"] != strconv.Itoa(i+1) {
			t.Fatalf("audit: %v %+v", err, ev)
		}
	}
	hist, err := e.ret.ScheduleHistory(ctx, e.records)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %v %d", err, len(hist))
	}
	if r, _ := hist[0].Rule("admin"); r.Days != 10 {
		t.Fatalf("history[0]: %+v", r)
	}
	if cur, _ := e.ret.Schedule(ctx, e.records); cur.Version != 2 {
		t.Fatalf("current: %+v", cur)
	}
	if _, err := e.ret.MakePlan(ctx, e.records, e.clock.Add(time.Hour)); err == nil {
		t.Fatal("plan as of the future accepted")
	}
}

// hasSegments reports whether keys hold message segments of every room.
func hasSegments(keys []string, rooms ...string) bool {
	for _, room := range rooms {
		found := false
		for _, k := range keys {
			found = found || strings.Contains(k, "/"+room+"/e")
		}
		if !found {
			return false
		}
	}
	return true
}
