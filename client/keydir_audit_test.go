package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestKeyDirectoryChangesAuditedFirst: a mediator's admission of a
// party's device, a membership statement and a device linked to an
// account each change who can read a room, so each is audited before it
// is stored: while the audit log takes no writes, each is refused (503)
// and does not stand (before, it was stored and its entry appended after,
// its failure ignored: the device read the caucus with no entry saying
// who let it). Once the log takes writes again the same request goes
// through, audited once. A registration, which counts for nobody until
// linked or admitted, still goes through while the log is down.
func TestKeyDirectoryChangesAuditedFirst(t *testing.T) {
	t.Parallel()
	fo := &auditDown{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	tc := seedE2EE(t, n)
	ctx := context.Background()
	stored := func(prefix string) int {
		c := 0
		if err := fo.List(ctx, prefix, func(objstore.Info) error { c++; return nil }); err != nil {
			t.Fatal(err)
		}
		return c
	}
	entries := func(typ string) int {
		c := 0
		for i := int64(0); i < n.Audit.Size(); i++ {
			ev, err := n.Audit.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type == typ && (ev.Case == "" || ev.Case == tc.caseID) {
				c++
			}
		}
		return c
	}

	// A membership statement: the case's first, by its mediator.
	st := e2ee.StatementFor(tc.caseID, []e2ee.Person{{Account: tc.med.id, Role: e2ee.RoleMediator}}, []string{"Parent 1", "Parent 2"},
		map[string]int64{"joint": 1, "mediators": 1})
	st.Seq = 1
	raw, err := st.Sign(tc.med.x.Me)
	if err != nil {
		t.Fatal(err)
	}
	post := func() error {
		var p keydir.Proven
		return tc.med.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/e2ee/statements", api.RecordRequest{Record: raw}, &p)
	}
	fo.down.Store(true)
	if err := post(); status(err) != http.StatusServiceUnavailable {
		t.Errorf("a statement posted with the audit log unwritable: %v; want 503", err)
	}
	fo.down.Store(false)
	if c := stored("keydir/statements/" + tc.caseID + "/"); c != 0 {
		t.Errorf("%d unaudited statement(s) stand", c)
	} else if err := post(); err != nil {
		t.Fatalf("the statement once the log takes writes: %v", err)
	}
	if c := entries("e2ee.membership"); c != 1 {
		t.Errorf("%d e2ee.membership entries, want 1", c)
	}

	// An admission of a party's new device.
	fo.down.Store(true)
	fresh := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMXWing)
	if err := fresh.Register(ctx); err != nil {
		t.Fatalf("a registration with the audit log unwritable: %v", err)
	}
	if err := tc.med.x.AdmitDevice(ctx, tc.caseID, tc.a.id, fresh.Me.ID); status(err) != http.StatusServiceUnavailable {
		t.Errorf("an admission with the audit log unwritable: %v; want 503", err)
	}
	fo.down.Store(false)
	if c := stored("keydir/endorsements/" + tc.a.id + "/" + fresh.Me.ID + "/"); c != 0 {
		t.Errorf("%d unaudited admission(s) stand", c)
	}
	if pending, err := tc.med.x.PendingDevices(ctx, tc.caseID); err != nil || len(pending[tc.a.id]) != 1 {
		t.Errorf("the device counts without an admission: pending %v, %v", pending, err)
	}
	if err := tc.med.x.AdmitDevice(ctx, tc.caseID, tc.a.id, fresh.Me.ID); err != nil {
		t.Fatalf("the admission once the log takes writes: %v", err)
	}
	if c := entries("e2ee.device.admitted"); c != 1 {
		t.Errorf("%d e2ee.device.admitted entries, want 1", c)
	}

	// A device linked to party B's account from B's first device.
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nw := newKeys(t, tc.b.c, tc.b.id, e2ee.KEMX25519)
	p, err := tc.b.x.StartPairing(lctx)
	if err != nil {
		t.Fatal(err)
	}
	claimed, oldRec, err := nw.ClaimPairing(lctx, strings.ToLower(p.Code))
	if err != nil {
		t.Fatal(err)
	}
	newRec, err := tc.b.x.WaitClaimed(lctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	fo.down.Store(true)
	if _, err := tc.b.x.CompletePairing(lctx, p.ID, newRec, nil); status(err) != http.StatusServiceUnavailable {
		t.Errorf("a link with the audit log unwritable: %v; want 503", err)
	}
	fo.down.Store(false)
	if c := stored("keydir/endorsements/" + tc.b.id + "/" + nw.Me.ID + "/"); c != 0 {
		t.Errorf("%d unaudited link(s) stand", c)
	} else if _, err := tc.b.x.CompletePairing(lctx, p.ID, newRec, nil); err != nil {
		t.Fatalf("the link once the log takes writes: %v", err)
	}
	if _, err := nw.CollectPairing(lctx, claimed.ID, oldRec); err != nil {
		t.Fatal(err)
	}
	if c := entries("e2ee.device.linked"); c != 1 {
		t.Errorf("%d e2ee.device.linked entries, want 1", c)
	}
	for _, typ := range []string{"e2ee.membership.failed", "e2ee.device.admitted.failed", "e2ee.device.linked.failed"} {
		if c := entries(typ); c != 0 {
			t.Errorf("%d %s entries for changes never tried", c, typ)
		}
	}
}

// failPuts fails every write under prefix while down is set.
type failPuts struct {
	objstore.Store
	prefix string
	down   atomic.Bool
}

func (f *failPuts) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.down.Load() && strings.HasPrefix(key, f.prefix) {
		return objstore.Info{}, errors.New("injected: statements down")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestFailedStatementIsCorrectedInTheLog: a membership statement audited
// first whose write then fails is followed in the log by
// e2ee.membership.failed naming the same op, so the log does not say a
// statement was posted that never was; the retry is audited anew.
func TestFailedStatementIsCorrectedInTheLog(t *testing.T) {
	t.Parallel()
	fo := &failPuts{prefix: "keydir/statements/"}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	tc := seedE2EE(t, n)
	ctx := context.Background()
	st := e2ee.StatementFor(tc.caseID, []e2ee.Person{{Account: tc.med.id, Role: e2ee.RoleMediator}}, []string{"Parent 1", "Parent 2"},
		map[string]int64{"joint": 1, "mediators": 1})
	st.Seq = 1
	raw, err := st.Sign(tc.med.x.Me)
	if err != nil {
		t.Fatal(err)
	}
	post := func() error {
		var p keydir.Proven
		return tc.med.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/e2ee/statements", api.RecordRequest{Record: raw}, &p)
	}
	from := n.Audit.Size()
	fo.down.Store(true)
	if err := post(); err == nil {
		t.Fatal("a statement whose write failed was answered as posted")
	}
	fo.down.Store(false)
	if err := post(); err != nil {
		t.Fatal(err)
	}
	var got, ops []string
	for i := from; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(ev.Type, "e2ee.membership") {
			got = append(got, ev.Type)
			ops = append(ops, ev.Attrs[audit.OpAttr])
			if ev.Type == "e2ee.membership.failed" && ev.Attrs["cause"] == "" {
				t.Errorf("no cause: %+v", ev)
			}
		}
	}
	if want := "e2ee.membership e2ee.membership.failed e2ee.membership"; strings.Join(got, " ") != want {
		t.Fatalf("entries %v, want %s", got, want)
	}
	if ops[0] == "" || ops[1] != ops[0] || ops[2] == ops[0] {
		t.Fatalf("ops %v: the correction must name its entry's op, the retry a new one", ops)
	}
}

// TestRepeatedAdmissionAuditsNoStrayEntry: a mediator's admission posted
// again (Admit clicked again after a lost answer: signed again, so other
// bytes) is answered with the admission stored first and audits nothing
// new, so every e2ee.device.admitted entry names the hash of an
// admission that is stored (before, the repeat was audited first with
// its own hash, then found the first one stored and was answered as
// admitted: its entry named a record that exists nowhere).
func TestRepeatedAdmissionAuditsNoStrayEntry(t *testing.T) {
	t.Parallel()
	fo := &auditDown{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	tc := seedE2EE(t, n)
	ctx := context.Background()
	fresh := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMXWing)
	if err := fresh.Register(ctx); err != nil {
		t.Fatal(err)
	}
	devs, _, err := tc.med.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := devs.Record(tc.a.id, fresh.Me.ID)
	if !ok {
		t.Fatal("the new device is not listed")
	}
	now := time.Now()
	var answers [][]byte
	for i := range 2 {
		end, err := tc.med.x.Me.Endorse(rec, tc.caseID, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var p keydir.Proven
		if err := tc.med.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/e2ee/admissions", api.RecordRequest{Record: end}, &p); err != nil {
			t.Fatalf("admission %d: %v", i+1, err)
		}
		if len(p.Endorsements) != 1 {
			t.Fatalf("admission %d answered with %d endorsements", i+1, len(p.Endorsements))
		}
		answers = append(answers, p.Endorsements[0].Record)
	}
	if string(answers[0]) != string(answers[1]) {
		t.Error("the repeat was not answered with the admission stored first")
	}
	stored := map[string]bool{}
	err = fo.List(ctx, "keydir/endorsements/"+tc.a.id+"/"+fresh.Me.ID+"/", func(info objstore.Info) error {
		rc, _, err := fo.Get(ctx, info.Key, objstore.GetOptions{})
		if err != nil {
			return err
		}
		defer rc.Close()
		var st struct{ Record []byte }
		if err := json.NewDecoder(rc).Decode(&st); err != nil {
			return err
		}
		e, err := e2ee.DecodeEndorsement(st.Record)
		if err != nil {
			return err
		}
		stored[fmt.Sprintf("sha256:%x", e.Hash())] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 {
		t.Fatalf("%d admissions stored, want 1", len(stored))
	}
	admitted := 0
	for i := int64(0); i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != "e2ee.device.admitted" || ev.Case != tc.caseID {
			continue
		}
		admitted++
		for _, h := range ev.Hashes {
			if !stored[h] {
				t.Errorf("an e2ee.device.admitted entry names %s, stored nowhere", h)
			}
		}
	}
	if admitted != 1 {
		t.Errorf("%d e2ee.device.admitted entries, want 1", admitted)
	}
}

// TestFirstDeviceAuditedFirst: an account's first device is the root of
// its own chain and counts at once, so it is audited before it is
// stored: while the audit log takes no writes it is refused (503) and
// not stored (before, it was stored and its entry appended after, on the
// claim that a registered device counts for no one until linked,
// admitted or named). A later device, which counts for no one until
// linked or admitted, still registers while the log is down (a WARN).
func TestFirstDeviceAuditedFirst(t *testing.T) {
	t.Parallel()
	fo := &auditDown{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	ctx := context.Background()
	acct, c := n.Staff(t, policy.RoleMediator, fmt.Sprintf("first-%d@example.org", time.Now().UnixNano()))
	devices := func() int {
		k := 0
		if err := fo.List(ctx, "keydir/devices/"+acct.ID+"/", func(objstore.Info) error { k++; return nil }); err != nil {
			t.Fatal(err)
		}
		return k
	}
	first := newKeys(t, c, acct.ID, e2ee.KEMX25519)
	fo.down.Store(true)
	if err := first.Register(ctx); status(err) != http.StatusServiceUnavailable {
		t.Errorf("an account's first device registered with the audit log unwritable: %v; want 503", err)
	}
	fo.down.Store(false)
	if k := devices(); k != 0 {
		t.Fatalf("%d unaudited first device(s) stand", k)
	}
	if err := first.Register(ctx); err != nil {
		t.Fatalf("the first device once the log takes writes: %v", err)
	}
	entries := 0
	for i := int64(0); i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(ev.Type, "e2ee.device") && ev.Actor == acct.ID {
			entries++
			if ev.Type != "e2ee.device" || len(ev.Objects) != 1 || ev.Objects[0] != first.Me.ID {
				t.Errorf("entry %+v, want e2ee.device naming the first device", ev)
			}
		}
	}
	if entries != 1 {
		t.Errorf("%d e2ee.device entries, want 1", entries)
	}
	fo.down.Store(true)
	second := newKeys(t, c, acct.ID, e2ee.KEMX25519)
	if err := second.Register(ctx); err != nil {
		t.Errorf("a second device with the audit log unwritable: %v; want it registered", err)
	}
	fo.down.Store(false)
	if k := devices(); k != 2 {
		t.Errorf("%d devices stored, want 2", k)
	}
}

// auditRefusals is auditDown that counts the audit writes it refused.
type auditRefusals struct {
	auditDown
	refused atomic.Int64
}

func (f *auditRefusals) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.down.Load() && strings.HasPrefix(key, "audit/") {
		f.refused.Add(1)
	}
	return f.auditDown.Put(ctx, key, r, size, opts)
}

// TestStatementRefusedAsUnavailableIsTriedAgain: a membership statement
// the server refuses with 503 (its audit log takes no writes) is tried
// again by the mediator's chat, a few times, so once the log takes
// writes it lands with nobody acting (before, the chat showed a notice
// and tried nothing more: a party who joined then stayed out of every
// room until a mediator acted or opened the case again).
func TestStatementRefusedAsUnavailableIsTriedAgain(t *testing.T) {
	t.Parallel()
	fo := &auditRefusals{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	tc := seedE2EE(t, n)
	ctx := context.Background()
	statements := func() int {
		k := 0
		if err := fo.List(ctx, "keydir/statements/"+tc.caseID+"/", func(objstore.Info) error { k++; return nil }); err != nil {
			t.Fatal(err)
		}
		return k
	}
	fo.down.Store(true)
	open(t, tc.med, tc.caseID, client.SecureOptions{}) // signs the case's first statement
	for deadline := time.Now().Add(30 * time.Second); fo.refused.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the statement was not tried within 30s")
		}
		time.Sleep(20 * time.Millisecond) // bounded poll
	}
	if k := statements(); k != 0 {
		t.Fatalf("%d statement(s) stored while the audit log took no writes", k)
	}
	fo.down.Store(false)
	for deadline := time.Now().Add(30 * time.Second); statements() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the refused statement was not tried again within 30s")
		}
		time.Sleep(50 * time.Millisecond) // bounded poll
	}
}
