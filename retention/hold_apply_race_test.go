package retention

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// Holds and uploads racing a retention apply (review 396).

// keyHoldRaceStore forces one interleaving: the apply's Dispose lists the
// case's key records (after reading the vault's case hold: none), then a
// case hold is placed, whose first storage pass reaches the key record
// only after Dispose's bulk delete of it.
type keyHoldRaceStore struct {
	objstore.Store
	prefix      string
	armed       atomic.Bool
	triggered   atomic.Bool
	place       func()
	holdReached chan struct{}
	holdOnce    sync.Once
	deleted     chan struct{}
	delOnce     sync.Once
}

func (s *keyHoldRaceStore) VersionsUnder(ctx context.Context, prefix string, fn func(objstore.Version) error) error {
	err := s.Store.VersionsUnder(ctx, prefix, fn)
	if prefix == s.prefix && s.armed.Load() && s.triggered.CompareAndSwap(false, true) {
		go s.place()
		select {
		case <-s.holdReached:
		case <-time.After(20 * time.Second):
		}
	}
	return err
}

func (s *keyHoldRaceStore) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if on && s.triggered.Load() && strings.HasPrefix(key, s.prefix) {
		s.holdOnce.Do(func() { close(s.holdReached) })
		select {
		case <-s.deleted:
		case <-time.After(20 * time.Second):
		}
	}
	return s.Store.SetLegalHold(ctx, key, versionID, on)
}

func (s *keyHoldRaceStore) DeleteVersions(ctx context.Context, vs []objstore.Info) []error {
	errs := s.Store.DeleteVersions(ctx, vs)
	for _, v := range vs {
		if s.triggered.Load() && strings.HasPrefix(v.Key, s.prefix) {
			s.delOnce.Do(func() { close(s.deleted) })
		}
	}
	return errs
}

// A case hold placed while an apply destroys its documents' keys, whose
// storage pass reaches a key only after the apply deleted it: the
// placement says a disposal overtook it (409, hold.place.overtaken), the
// hold stands on what remains, and the document is certified destroyed
// (crypto-erased), never "held". Before, PlaceHold answered success, the
// audit read [hold.placed, case.hold, doc.key.destroyed] and the outcome
// said held.
func TestCaseHoldDuringKeyDestruction(t *testing.T) {
	onEachStore(t, func(t *testing.T, inner objstore.Store) {
		st := &keyHoldRaceStore{Store: inner, holdReached: make(chan struct{}), deleted: make(chan struct{})}
		e := dueWorld(t, st)
		ctx := t.Context()
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: "evidence", Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
		tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
		p := e.planClosed(t, tc)
		st.prefix = "vault/" + tc.id + "/versions/"
		var h Hold
		var placeErr error
		placed := make(chan struct{})
		st.place = func() {
			defer close(placed)
			h, placeErr = e.ret.PlaceHold(context.Background(), e.records, NewHold{Case: tc.id, Reason: "Subpoena 2026-11", Authority: "Court order 12"})
		}
		st.armed.Store(true)
		d := tc.docs["exhibit"]
		var docOut []Outcome
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, func(pr Progress) {
			for i, it := range pr.Items {
				if it.Doc == d.ID {
					docOut = append(docOut, pr.Outcomes[i])
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		if !st.triggered.Load() {
			t.Fatal("the race was not set up: the apply never listed the key records")
		}
		select {
		case <-placed:
		case <-time.After(30 * time.Second):
			t.Fatal("the hold placement never ended")
		}
		if !errors.Is(placeErr, fault.ErrConflict) || !strings.Contains(placeErr.Error(), "1 document version(s)") {
			t.Fatalf("PlaceHold overtaken by the key destruction answered %v, want a conflict saying 1 version was destroyed", placeErr)
		}
		if holds, err := e.ret.Holds(ctx, e.records, tc.id, false); err != nil || len(holds) != 1 || holds[0].ID != h.ID {
			t.Fatalf("active holds: %v %v, want the one placed (%s)", holds, err, h.ID)
		}
		if held, err := e.vault.CaseHeld(ctx, tc.id); err != nil || !held {
			t.Fatalf("vault case held: %v %v", held, err)
		}
		if len(docOut) != 1 || docOut[0].Result != OutcomeDestroyed {
			t.Fatalf("the exhibit's outcome: %+v, want destroyed (its key is gone)", docOut)
		}
		if n := e.versionsOf(t, versionObject(tc.id, d.ID, 1)); n != 0 {
			t.Fatalf("%d versions of the exhibit's key record left", n)
		}
		if _, err := e.vault.Open(ctx, e.mediator, tc.id, d.ID, 0, nil); err == nil {
			t.Fatal("the exhibit, its key destroyed, still opens")
		}
		var types []string
		for i := range e.log.Size() {
			ev, _ := e.log.Entry(ctx, i)
			if ev.Case == tc.id && strings.HasPrefix(ev.Type, "hold.place") {
				types = append(types, ev.Type)
				if ev.Type == "hold.place.overtaken" && (ev.Attrs["versions"] != "1" || !slices.Equal(ev.Objects, []string{h.ID})) {
					t.Fatalf("hold.place.overtaken: %+v", ev)
				}
			}
		}
		if !slices.Equal(types, []string{"hold.placed", "hold.place.overtaken"}) {
			t.Fatalf("hold entries %v, want hold.placed then hold.place.overtaken", types)
		}
	})
}

type placerKey struct{}

// msgHoldRaceStore: when the apply ends the case's room history (its
// messages step, after it read the vault's case hold: none), a case hold
// is placed, and the apply goes on once the vault's case-hold record is
// written; the placement's look at the history after that record is
// held back until the apply's messages step is over.
type msgHoldRaceStore struct {
	objstore.Store
	caseID   string
	hist     string
	once     sync.Once
	place    func()
	fired    atomic.Bool
	msgsDone chan struct{}
}

func (s *msgHoldRaceStore) wait(ctx context.Context, key string) {
	if ctx.Value(placerKey{}) == nil || !strings.HasPrefix(key, s.hist) {
		return
	}
	if _, err := s.Store.Stat(ctx, vault.CaseHoldKey(s.caseID)); err != nil {
		return // before the vault's record
	}
	select {
	case <-s.msgsDone:
	case <-time.After(20 * time.Second):
	}
}

func (s *msgHoldRaceStore) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	s.wait(ctx, prefix)
	return s.Store.List(ctx, prefix, fn)
}

func (s *msgHoldRaceStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if key == "rooms-ended/"+s.caseID && ctx.Value(placerKey{}) == nil {
		s.once.Do(func() {
			s.fired.Store(true)
			go s.place()
			for range 4000 { // 20 s at most
				if _, err := s.Store.Stat(ctx, vault.CaseHoldKey(s.caseID)); err == nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	return s.Store.Put(ctx, key, r, size, opts)
}

// A case hold placed after the messages step read the case's hold and
// before it deletes the history keeps the history: the step reads the
// hold again right before deleting. Before, every batch was deleted under
// a hold answered as placed.
func TestCaseHoldDuringMessageDeletion(t *testing.T) {
	onEachStore(t, func(t *testing.T, inner objstore.Store) {
		st := &msgHoldRaceStore{Store: inner, msgsDone: make(chan struct{})}
		e := dueWorld(t, st)
		ctx := t.Context()
		tc := e.newCase(t, map[string]vault.Class{})
		hist := caucus.HistoryPrefix(tc.id)
		st.caseID, st.hist = tc.id, hist
		var doneOnce sync.Once
		e.ret.hook = func(step string) error {
			if step == "messages" {
				doneOnce.Do(func() { close(st.msgsDone) })
			}
			return nil
		}
		count := func() (n int) {
			if err := inner.VersionsUnder(ctx, hist, func(objstore.Version) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := count()
		if before == 0 {
			t.Fatal("the case has no message history to keep")
		}
		p := e.planClosed(t, tc)
		var placeErr error
		placed := make(chan struct{})
		st.place = func() {
			defer close(placed)
			_, placeErr = e.ret.PlaceHold(context.WithValue(context.Background(), placerKey{}, true), e.records, NewHold{Case: tc.id, Reason: "Subpoena", Authority: "Court order 12"})
		}
		var msgOut []Outcome
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, func(pr Progress) {
			for i, it := range pr.Items {
				if it.Case == tc.id && it.Class == policy.ClassMessageHistory {
					msgOut = append(msgOut, pr.Outcomes[i])
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		if !st.fired.Load() {
			t.Fatal("the race was not set up: the apply never ended the history")
		}
		select {
		case <-placed:
		case <-time.After(30 * time.Second):
			t.Fatal("the hold placement never ended")
		}
		if placeErr != nil {
			t.Fatalf("PlaceHold: %v", placeErr)
		}
		if after := count(); after != before {
			t.Fatalf("%d of %d message history versions left under a case hold", after, before)
		}
		if len(msgOut) != 1 || msgOut[0].Result != OutcomeHeld {
			t.Fatalf("message history outcome %+v, want held", msgOut)
		}
	})
}

// keyUploadRaceStore: when the case-keys step lists the case's documents
// (none left), an upload to the case (not fenced: its case record is not
// due) runs to completion before the listing is answered.
type keyUploadRaceStore struct {
	objstore.Store
	prefix string
	fired  atomic.Bool
	upload func()
}

func (s *keyUploadRaceStore) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	if prefix == s.prefix && strings.Contains(string(debug.Stack()), "caseKeyDue") && s.fired.CompareAndSwap(false, true) {
		var got []objstore.Info
		err := s.Store.List(ctx, prefix, func(i objstore.Info) error { got = append(got, i); return nil })
		s.upload()
		for _, i := range got {
			if err := fn(i); err != nil {
				return err
			}
		}
		return err
	}
	return s.Store.List(ctx, prefix, fn)
}

// A case whose documents are all due but whose case record is not loses
// its case key, but it is not fenced by the plan and still takes uploads:
// one that raced the case-keys step was answered success and unreadable
// for good. The step fences such a case for its look and the key's
// destruction: an upload either is refused or keeps the key.
func TestUploadDuringCaseKeyStep(t *testing.T) {
	onEachStore(t, func(t *testing.T, inner objstore.Store) {
		st := &keyUploadRaceStore{Store: inner}
		e := newEnv(t, st)
		ctx := t.Context()
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: "evidence", Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
		tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
		p := e.planClosed(t, tc)
		st.prefix = "vault/" + tc.id + "/docs/"
		upload := func(name string) (vault.Document, error) {
			return e.vault.Upload(ctx, e.mediator, tc.id, vault.NewDocument{Name: name, MediaType: "application/pdf",
				Audience: vault.Audience{Kind: policy.AudienceJoint}, Class: vault.ClassAgreement}, bytes.NewReader(content(name)))
		}
		var uploaded []vault.Document
		st.upload = func() {
			d, err := upload("during.pdf")
			if err != nil {
				t.Errorf("upload during the case-keys step: %v", err)
				return
			}
			uploaded = append(uploaded, d)
		}
		pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
		if err != nil || !pr.Done {
			t.Fatalf("apply: done %v, %v", pr.Done, err)
		}
		if !st.fired.Load() || len(uploaded) != 1 {
			t.Fatalf("the race was not set up: fired %v, uploaded %d", st.fired.Load(), len(uploaded))
		}
		if _, err := kms.LoadOrCreateKey(ctx, readOnly{inner}, e.mk, kms.CaseKeyPrefix+tc.id, kms.CaseKeyLabel(tc.id)); err != nil {
			t.Fatalf("the case key, under which a document was uploaded during the step, was destroyed: %v", err)
		}
		d, err := upload("after.pdf")
		if err != nil {
			t.Fatal(err)
		}
		uploaded = append(uploaded, d)
		for _, d := range uploaded {
			dl, err := e.vault.Open(ctx, e.mediator, tc.id, d.ID, 0, nil)
			if err != nil {
				t.Fatalf("%s, uploaded and answered success, does not open: %v", d.Name, err)
			}
			b, err := io.ReadAll(dl.Body)
			dl.Body.Close()
			if err != nil || !bytes.Equal(b, content(d.Name)) {
				t.Fatalf("%s reads %q, %v", d.Name, b, err)
			}
		}
		if n := e.versionsOf(t, docObject(tc.id, tc.docs["exhibit"].ID, 1)); n != 0 {
			t.Fatalf("the due exhibit kept %d ciphertext versions", n)
		}
	})
}

// blockingBody gives its first part, says so, then waits for release
// before the rest: an upload whose streaming spans whatever runs between.
type blockingBody struct {
	first, rest []byte
	started     chan struct{}
	release     chan struct{}
	once        sync.Once
}

func (b *blockingBody) Read(p []byte) (int, error) {
	if len(b.first) > 0 {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	b.once.Do(func() { close(b.started) })
	<-b.release
	if len(b.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

// An upload that loaded the case key before the case-keys step and staged
// its version only after the step had looked, destroyed the key and lifted
// its fence was answered success, and no key opened it (review 406): the
// fence is read after the lift. The upload now checks its data key still
// opens under the case key as stored: it is refused, or it opens.
func TestUploadStreamingAcrossCaseKeyStep(t *testing.T) {
	onEachStore(t, func(t *testing.T, inner objstore.Store) {
		e := newEnv(t, inner)
		ctx := t.Context()
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: "evidence", Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
		tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
		p := e.planClosed(t, tc)
		all := content("spanning.pdf")
		body := &blockingBody{first: all[:8], rest: all[8:], started: make(chan struct{}), release: make(chan struct{})}
		type result struct {
			d   vault.Document
			err error
		}
		done := make(chan result, 1)
		go func() {
			d, err := e.vault.Upload(ctx, e.mediator, tc.id, vault.NewDocument{Name: "spanning.pdf", MediaType: "application/pdf",
				Audience: vault.Audience{Kind: policy.AudienceJoint}, Class: vault.ClassAgreement}, body)
			done <- result{d, err}
		}()
		select {
		case <-body.started:
		case <-time.After(30 * time.Second):
			t.Fatal("the upload never started reading its body")
		}
		pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
		close(body.release)
		if err != nil || !pr.Done {
			t.Fatalf("apply: done %v, %v", pr.Done, err)
		}
		var r result
		select {
		case r = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the upload never ended")
		}
		if r.err != nil {
			if !errors.Is(r.err, vault.ErrKeyDestroyedMeanwhile) {
				t.Fatalf("the upload was refused for another reason: %v", r.err)
			}
			return
		}
		dl, err := e.vault.Open(ctx, e.mediator, tc.id, r.d.ID, 0, nil)
		if err != nil {
			t.Fatalf("the upload was answered success and does not open: %v", err)
		}
		b, err := io.ReadAll(dl.Body)
		dl.Body.Close()
		if err != nil || !bytes.Equal(b, all) {
			t.Fatalf("it reads %q, %v", b, err)
		}
	})
}

// liftFailStore fails the first write of the case record after the case
// key was deleted: the lift of the case-keys step's fence.
type liftFailStore struct {
	objstore.Store
	caseID string
	armed  atomic.Bool
	failed atomic.Bool
}

func (s *liftFailStore) Delete(ctx context.Context, key, versionID string) error {
	err := s.Store.Delete(ctx, key, versionID)
	if key == kms.CaseKeyPrefix+s.caseID {
		s.armed.Store(true)
	}
	return err
}

func (s *liftFailStore) DeleteVersions(ctx context.Context, versions []objstore.Info) []error {
	errs := s.Store.DeleteVersions(ctx, versions)
	for _, v := range versions {
		if v.Key == kms.CaseKeyPrefix+s.caseID {
			s.armed.Store(true)
		}
	}
	return errs
}

func (s *liftFailStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if key == "cases/"+s.caseID+"/case" && s.armed.Load() && s.failed.CompareAndSwap(false, true) {
		return objstore.Info{}, errors.New("injected: the store took no write")
	}
	return s.Store.Put(ctx, key, r, size, opts)
}

// The case-keys step fences a standing case, destroys its key and lifts
// the fence. A lift that failed (or a crash before it) left the fence for
// good: the rerun found the key gone, skipped the case and certified the
// plan, and the standing case refused every change (review 406). The rerun
// now lifts the fence this plan raised.
func TestCaseKeyStepFenceLiftedOnRerun(t *testing.T) {
	onEachStore(t, func(t *testing.T, inner objstore.Store) {
		st := &liftFailStore{Store: inner}
		e := newEnv(t, st)
		ctx := t.Context()
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: "evidence", Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
		tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
		st.caseID = tc.id
		p := e.planClosed(t, tc)
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err == nil && !st.failed.Load() {
			t.Fatal("the lift's write was never failed: the race was not set up")
		}
		if !st.failed.Load() {
			t.Fatal("the lift's write was never failed")
		}
		pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
		if err != nil || !pr.Done {
			t.Fatalf("rerun: done %v, %v", pr.Done, err)
		}
		c, err := e.cases.Load(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Disposing != nil {
			t.Fatalf("the standing case is still fenced by %q after the plan was done", c.DisposingPlan)
		}
		if _, err := e.vault.Upload(ctx, e.mediator, tc.id, vault.NewDocument{Name: "after.pdf", MediaType: "application/pdf",
			Audience: vault.Audience{Kind: policy.AudienceJoint}, Class: vault.ClassAgreement}, bytes.NewReader(content("after.pdf"))); err != nil {
			t.Fatalf("an upload to the standing case after the plan: %v", err)
		}
	})
}
