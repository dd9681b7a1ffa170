package retention

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// transferWorld is one closed case, past every period, with a joint
// exhibit, mediator notes and side A's caucus document, a plan for it
// and an age identity to transfer it to.
type transferWorld struct {
	tc     *testCase
	caucus vault.Document
	plan   Plan
	id     *age.X25519Identity
}

func (e *env) transferWorld(t *testing.T) *transferWorld {
	t.Helper()
	ctx := t.Context()
	for _, class := range append(policy.CaseClasses(), "evidence") {
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
	}
	w := &transferWorld{tc: e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence, "notes": vault.ClassMediatorNotes})}
	var err error
	w.caucus, err = e.vault.Upload(ctx, e.mediator, w.tc.id, vault.NewDocument{Name: "caucus-secret.pdf", MediaType: "application/pdf",
		Audience: vault.Audience{Kind: policy.AudienceCaucus, Side: "A"}, Class: vault.ClassEvidence}, bytes.NewReader(content("caucus-secret")))
	if err != nil {
		t.Fatal(err)
	}
	e.close(t, w.tc)
	e.clock = e.clock.Add(month)
	if w.plan, err = e.ret.MakePlan(ctx, e.records, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if w.id, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestTransferBundle: a case chosen for transfer is bundled, encrypted to
// the recipient, then destroyed. The bundle decrypts with the recipient's
// identity, carries the joint exhibit and not the caucus document nor the
// mediator notes (not their content, not their ids), and every entry of
// its audit excerpt is proven against its signed checkpoint. The
// certificate carries the bundle's SHA-256; the chooser cannot approve.
func TestTransferBundle(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		w := e.transferWorld(t)
		if _, err := e.ret.Choose(ctx, e.admin, w.plan.ID, ChooseAction{Case: w.tc.id, Kind: ActionTransfer,
			Recipient: w.id.Recipient().String(), RecipientName: "State Archives"}); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("admin chose a transfer: %v", err)
		}
		if _, err := e.ret.Choose(ctx, e.records2, w.plan.ID, ChooseAction{Case: w.tc.id, Kind: ActionTransfer,
			Recipient: "age1notakey", RecipientName: "State Archives"}); !isInvalid(err) {
			t.Fatalf("bad recipient: %v", err)
		}
		if _, err := e.ret.Choose(ctx, e.records2, w.plan.ID, ChooseAction{Case: w.tc.id, Kind: ActionTransfer,
			Recipient: w.id.Recipient().String(), RecipientName: "State Archives"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, e.records2, w.plan.ID); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("the chooser approved: %v", err)
		}
		if _, err := e.approve(ctx, staff(policy.RoleRecords), w.plan.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.ApplyAll(ctx, e.records, w.plan.ID, nil); err != nil {
			t.Fatal(err)
		}
		if left := e.objectsOf(t, w.tc.id); len(left) != 0 {
			t.Fatalf("transferred case not destroyed: %v", left)
		}
		signed, err := e.ret.SignedCertificate(ctx, e.records, w.plan.ID)
		if err != nil {
			t.Fatal(err)
		}
		cert, _, err := VerifyCertificate(signed, e.signer.VerifierKey())
		if err != nil || len(cert.Transfers) != 1 {
			t.Fatalf("certificate: %v %+v", err, cert.Transfers)
		}
		tr := cert.Transfers[0]
		if len(tr.Documents) != 1 || tr.Documents[0].Doc != w.tc.docs["exhibit"].ID || tr.Withheld != 2 {
			t.Fatalf("transfer: %+v", tr)
		}
		e.wantCommitted(t, "State Archives")
		rc, _, err := e.ret.TransferBundle(ctx, e.records, w.plan.ID, w.tc.id)
		if err != nil {
			t.Fatal(err)
		}
		bundle, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(bundle)
		if "sha256:"+hex.EncodeToString(sum[:]) != tr.SHA256 {
			t.Fatal("bundle does not match the certificate's hash")
		}
		files := openBundle(t, bundle, w.id)
		checkBundle(t, e, w, files)
	})
}

// openBundle decrypts a bundle and reads its files.
func openBundle(t *testing.T, bundle []byte, id age.Identity) map[string][]byte {
	t.Helper()
	if _, err := age.Decrypt(bytes.NewReader(bundle), mustIdentity(t)); err == nil {
		t.Fatal("bundle opens with another identity")
	}
	r, err := age.Decrypt(bytes.NewReader(bundle), id)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
	return files
}

// noneIn fails t if any of leaks is in a bundle's files: their names,
// their bytes, or an audit entry of the excerpt (base64 in
// audit/entries.jsonl, decoded here).
func noneIn(t *testing.T, files map[string][]byte, leaks ...[]byte) {
	t.Helper()
	texts := map[string][]byte{}
	for name, b := range files {
		texts[name] = b
		texts["name "+name] = []byte(name)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(files["audit/entries.jsonl"])), "\n") {
		var x ExcerptEntry
		if err := json.Unmarshal([]byte(line), &x); err != nil {
			t.Fatal(err)
		}
		data, err := base64.StdEncoding.DecodeString(x.Entry)
		if err != nil {
			t.Fatal(err)
		}
		texts["audit entry "+strconv.Itoa(i)] = data
	}
	for name, b := range texts {
		for _, leak := range leaks {
			if bytes.Contains(b, leak) {
				t.Fatalf("%s holds %q", name, leak)
			}
		}
	}
}

func mustIdentity(t *testing.T) *age.X25519Identity {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func checkBundle(t *testing.T, e *env, w *transferWorld, files map[string][]byte) {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	exhibit := w.tc.docs["exhibit"]
	if m.Case != w.tc.id || len(m.Documents) != 1 || m.Documents[0].Doc != exhibit.ID || m.Withheld != 2 {
		t.Fatalf("manifest: %+v", m)
	}
	if got := files[m.Documents[0].Path]; !bytes.Equal(got, content("exhibit")) {
		t.Fatalf("exhibit in the bundle: %q", got)
	}
	noneIn(t, files, content("caucus-secret"), content("notes"), []byte(w.caucus.ID), []byte(w.tc.docs["notes"].ID), []byte("caucus-secret"))
	cp, err := audit.OpenCheckpoint(files["audit/checkpoint.txt"], strings.TrimSpace(string(files["audit/key.txt"])))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(files["audit/key.txt"])) != e.signer.VerifierKey() {
		t.Fatal("bundle names another key")
	}
	types := map[string]int{}
	lines := strings.Split(strings.TrimSpace(string(files["audit/entries.jsonl"])), "\n")
	for _, line := range lines {
		var x ExcerptEntry
		if err := json.Unmarshal([]byte(line), &x); err != nil {
			t.Fatal(err)
		}
		data, err := base64.StdEncoding.DecodeString(x.Entry)
		if err != nil {
			t.Fatal(err)
		}
		proof := make(tlog.RecordProof, len(x.Proof))
		for i, p := range x.Proof {
			b, err := base64.StdEncoding.DecodeString(p)
			if err != nil || len(b) != len(proof[i]) {
				t.Fatalf("proof hash: %v", err)
			}
			copy(proof[i][:], b)
		}
		if err := tlog.CheckRecord(proof, cp.Size, cp.Hash, x.Index, tlog.RecordHash(data)); err != nil {
			t.Fatalf("entry %d: %v", x.Index, err)
		}
		// A changed entry does not verify.
		if tlog.CheckRecord(proof, cp.Size, cp.Hash, x.Index, tlog.RecordHash(append([]byte(" "), data...))) == nil {
			t.Fatal("a changed entry verifies")
		}
		ev, err := audit.ParseEvent(data)
		if err != nil || ev.Case != w.tc.id {
			t.Fatalf("entry %d: %v %+v", x.Index, err, ev)
		}
		types[ev.Type]++
	}
	if types["case.created"] != 1 || types["doc.upload"] != 1 || types["retention.transfer"] != 1 || m.AuditEntries != len(lines) {
		t.Fatalf("excerpt: %v (%d lines, manifest says %d)", types, len(lines), m.AuditEntries)
	}
}

// TestReviewAndKeep: a record reviewed is kept until its review date, one
// kept permanently for good; both are audited once, listed on the
// certificate with the keyed commitment of their reason and authority
// (never the text), left out of later plans
// (the reviewed one only until its date), and their case record stays.
func TestReviewAndKeep(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		for _, class := range append(policy.CaseClasses(), "evidence", "correspondence") {
			if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
				t.Fatal(err)
			}
		}
		tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence, "letter": vault.ClassCorrespondence})
		e.close(t, tc)
		e.clock = e.clock.Add(month)
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		until := e.clock.Add(365 * 24 * time.Hour)
		letter, exhibit := tc.docs["letter"], tc.docs["exhibit"]
		review := ChooseAction{Case: tc.id, Doc: letter.ID, Version: 1, Kind: ActionReview, Until: &until}
		if _, err := e.ret.Choose(ctx, e.records2, p.ID, review); !isInvalid(err) {
			t.Fatalf("review without a reason: %v", err)
		}
		review.Reason = "Appeal pending in the county court"
		if _, err := e.ret.Choose(ctx, e.records2, p.ID, review); err != nil {
			t.Fatal(err)
		}
		keepIt := ChooseAction{Case: tc.id, Doc: exhibit.ID, Version: 1, Kind: ActionKeep}
		if _, err := e.ret.Choose(ctx, e.records2, p.ID, keepIt); !isInvalid(err) {
			t.Fatalf("keep without an authority: %v", err)
		}
		keepIt.Authority = "Order 2026-221, Superior Court"
		if _, err := e.ret.Choose(ctx, e.records2, p.ID, keepIt); err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, e.admin, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Choose(ctx, e.records2, p.ID, keepIt); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("chose after approval: %v", err)
		}
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil {
			t.Fatal(err)
		}
		e.mustRead(t, tc.id, letter)
		e.mustRead(t, tc.id, exhibit)
		if _, err := e.cases.Load(ctx, tc.id); err != nil {
			t.Fatalf("case record of a case with kept records: %v", err)
		}
		signed, err := e.ret.SignedCertificate(ctx, e.records, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		cert, _, err := VerifyCertificate(signed, e.signer.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		// The certificate, unsealed and never disposed of, carries the
		// keyed commitment of the reason and the authority, as the
		// retention.kept entry it names does, never their text (before:
		// "reviewed: kept until …: Appeal pending in the county court").
		actions := map[string]string{}
		for _, r := range cert.Kept {
			if r.Doc == "" {
				continue
			}
			actions[r.Doc] = r.Action + " " + r.Kept
			if r.Audit == nil {
				t.Fatalf("kept record %s names no retention.kept entry", r.Doc)
			}
			ev, err := e.log.Entry(ctx, *r.Audit)
			if err != nil || ev.Type != "retention.kept" || len(ev.Hashes) == 0 || !strings.HasSuffix(r.Kept, "keyed hash "+ev.Hashes[0]) {
				t.Fatalf("kept record %s: its audit entry %d (%v) is not the retention.kept entry with its commitment: %+v", r.Doc, *r.Audit, err, ev)
			}
		}
		reasonCommit, authorityCommit := e.meta.IndexKey("audit-commit", review.Reason), e.meta.IndexKey("audit-commit", keepIt.Authority)
		if actions[letter.ID] != "reviewed reviewed: kept until "+until.Format("2006-01-02")+"; reason: keyed hash "+reasonCommit ||
			actions[exhibit.ID] != "kept-permanently kept permanently; authority: keyed hash "+authorityCommit {
			t.Fatalf("certificate's kept records: %v", actions)
		}
		rc, _, err := store.Get(ctx, certificateKey(p.ID), objstore.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{review.Reason, keepIt.Authority, "county court", "Superior Court"} {
			if bytes.Contains(bytes.ToLower(raw), bytes.ToLower([]byte(text))) {
				t.Fatalf("the stored certificate holds %q", text)
			}
		}
		kept := 0
		for i := range e.log.Size() {
			ev, err := e.log.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type == "retention.kept" {
				kept++
			}
		}
		if kept != 2 {
			t.Fatalf("%d retention.kept entries, want 2", kept)
		}
		e.wantCommitted(t, review.Reason, keepIt.Authority)
		docsIn := func(asOf time.Time) map[string]bool {
			e.clock = asOf
			out := map[string]bool{}
			p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
			if errors.Is(err, fault.ErrNotFound) || (err != nil && strings.Contains(err.Error(), "nothing")) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range e.planItems(t, p) {
				if it.Doc != "" {
					out[it.Doc] = true
				}
			}
			return out
		}
		if in := docsIn(e.clock.Add(month)); in[letter.ID] || in[exhibit.ID] {
			t.Fatalf("kept records planned again: %v", in)
		}
		if in := docsIn(until.Add(24 * time.Hour)); !in[letter.ID] || in[exhibit.ID] {
			t.Fatalf("after the review date: %v (the letter is due again, the exhibit never)", in)
		}
	})
}

// TestTransferCrashAtEveryStep stops an apply with a transfer at each
// step boundary, reruns it, and checks it converged: one bundle stored
// (one version), one transfer audit entry, the certificate's hash that of
// the stored bundle, which opens, and the case destroyed. Each step
// starts from the same transfer world and plan, a copy of one built once
// on each store (worldTemplate). Every step runs on the directory store,
// two drawn at random on S3 (s3CrashSteps; make soak runs them all there).
func TestTransferCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	steps := []string{"transfer-audit", "transfer-bundle", "transfers", "keys", "case-journal", "page", "certificate"}
	onS3 := s3CrashSteps(t, steps, 2)
	tmpl := newWorldTemplate(t, (*env).transferWorld)
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			onEachStoreFrom(t, tmpl, onS3[step], func(t *testing.T, e *env, w *transferWorld) {
				ctx := t.Context()
				if _, err := e.ret.Choose(ctx, e.records2, w.plan.ID, ChooseAction{Case: w.tc.id, Kind: ActionTransfer,
					Recipient: w.id.Recipient().String(), RecipientName: "County Court"}); err != nil {
					t.Fatal(err)
				}
				if _, err := e.approve(ctx, e.admin, w.plan.ID); err != nil {
					t.Fatal(err)
				}
				e.ret.hook = func(name string) error {
					if name == step {
						return errCrash
					}
					return nil
				}
				if _, err := e.ret.ApplyAll(ctx, e.records, w.plan.ID, nil); !errors.Is(err, errCrash) {
					t.Fatalf("apply ran through the crash at %s: %v", step, err)
				}
				e.ret.hook = nil
				if pr, err := e.ret.ApplyAll(ctx, e.records, w.plan.ID, nil); err != nil || !pr.Done {
					t.Fatalf("rerun: %v %+v", err, pr)
				}
				if n := e.versionsOf(t, bundleKey(w.plan.ID, w.tc.id)); n != 1 {
					t.Fatalf("%d stored bundles", n)
				}
				transfers := 0
				for i := range e.log.Size() {
					ev, err := e.log.Entry(ctx, i)
					if err != nil {
						t.Fatal(err)
					}
					if ev.Type == "retention.transfer" {
						transfers++
					}
				}
				if transfers != 1 {
					t.Fatalf("%d transfer entries", transfers)
				}
				signed, err := e.ret.SignedCertificate(ctx, e.records, w.plan.ID)
				if err != nil {
					t.Fatal(err)
				}
				cert, hash, err := VerifyCertificate(signed, e.signer.VerifierKey())
				if err != nil || len(cert.Transfers) != 1 {
					t.Fatalf("certificate: %v %+v", err, cert.Transfers)
				}
				rc, _, err := e.ret.TransferBundle(ctx, e.records, w.plan.ID, w.tc.id)
				if err != nil {
					t.Fatal(err)
				}
				bundle, _ := io.ReadAll(rc)
				rc.Close()
				sum := sha256.Sum256(bundle)
				if "sha256:"+hex.EncodeToString(sum[:]) != cert.Transfers[0].SHA256 {
					t.Fatal("certificate's hash is not the stored bundle's")
				}
				checkBundle(t, e, w, openBundle(t, bundle, w.id))
				if left := e.objectsOf(t, w.tc.id); len(left) != 0 {
					t.Fatalf("case not destroyed: %v", left)
				}
				e.checkAudit(t, w.plan.ID, hash)
			})
		})
	}
}

func isInvalid(err error) bool {
	var ie *fault.InvalidError
	return errors.As(err, &ie)
}

// TestApproverIndependentOfPlannerLineage: administrator a1 alone made
// records account r1 (and chose its first password). r1 proposes
// shortening the schedule, draws up a plan and chooses to transfer a case
// to a key r1 holds; a1 approves neither the shortening nor the plan, nor
// does another account a1 made, nor one whose lineage is unknown. The
// plan stays unapproved until an independent person approves it.
func TestApproverIndependentOfPlannerLineage(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		a1 := e.newStaff(t, policy.RoleAdmin, nil)
		r1 := e.newStaff(t, policy.RoleRecords, &a1)
		sibling := e.newStaff(t, policy.RoleRecords, &a1)
		unknown := account.Account{ID: ids.New("u"), Role: policy.RoleAdmin} // made before origins were recorded
		tc, p, id := e.planTransferToPlanner(t, r1, map[string]account.Account{"a1": a1, "a1's other records account": sibling, "unknown lineage": unknown})
		if got, err := e.ret.GetPlan(ctx, e.records2, p.ID); err != nil || got.State != StatePlanned || got.Approved != nil {
			t.Fatalf("after refusals: %v %+v", err, got)
		}
		// A plan planned by an independent account but whose transfer r1
		// chose: still not a1's to approve.
		q, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Choose(ctx, r1, q.ID, ChooseAction{Case: tc.id, Kind: ActionTransfer,
			Recipient: id.Recipient().String(), RecipientName: "r1's own key"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, a1, q.ID); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("a1 approved a plan whose transfer r1 chose: %v", err)
		}
		if got, err := e.approve(ctx, e.admin, p.ID); err != nil || got.State != StateApproved || got.Approved.By != e.admin.ID {
			t.Fatalf("independent approval: %v %+v", err, got)
		}
	})
}

// TestUndoingAChoiceMakesAChooser: records clerk K keeps a due version of
// a plan and transfers its case; clerk C, independent of the planner and
// of K, sets both back to destroy. C is then one of the plan's choosers
// and cannot approve the plan that would now destroy what K kept (nor can
// clerk E, who chose destroy for a record nobody had chosen anything
// for); an independent D, who chose nothing, can.
func TestUndoingAChoiceMakesAChooser(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		w := e.transferWorld(t)
		k, c, d, e2 := e.records2, e.newStaff(t, policy.RoleRecords, nil), e.newStaff(t, policy.RoleRecords, nil), e.newStaff(t, policy.RoleRecords, nil)
		exhibit := w.tc.docs["exhibit"]
		if _, err := e.ret.Choose(ctx, k, w.plan.ID, ChooseAction{Case: w.tc.id, Doc: exhibit.ID, Version: 1, Kind: ActionKeep,
			Authority: "Order 2026-221, Superior Court"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Choose(ctx, k, w.plan.ID, ChooseAction{Case: w.tc.id, Kind: ActionTransfer,
			Recipient: w.id.Recipient().String(), RecipientName: "State Archives"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Choose(ctx, c, w.plan.ID, ChooseAction{Case: w.tc.id, Doc: exhibit.ID, Version: 1, Kind: ActionDestroy}); err != nil {
			t.Fatal(err)
		}
		p, err := e.ret.Choose(ctx, c, w.plan.ID, ChooseAction{Case: w.tc.id, Kind: ActionDestroy})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Actions) != 0 || !slices.Contains(p.Choosers, c.ID) {
			t.Fatalf("after C set both back to destroy: actions %v, choosers %v", p.Actions, p.Choosers)
		}
		if _, err := e.approve(ctx, c, w.plan.ID); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("C undid K's keep and transfer, then approved: %v", err)
		}
		// Destroy chosen for a record that had no other choice counts too.
		if _, err := e.ret.Choose(ctx, e2, w.plan.ID, ChooseAction{Case: w.tc.id, Doc: exhibit.ID, Version: 1, Kind: ActionDestroy}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, e2, w.plan.ID); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("E chose destroy, then approved: %v", err)
		}
		if got, err := e.approve(ctx, d, w.plan.ID); err != nil || got.State != StateApproved || got.Approved.By != d.ID {
			t.Fatalf("independent approval: %v %+v", err, got)
		}
	})
}

// TestApprovalIsOfTheChoicesSeen: approver D looks at a plan's choices (a
// transfer to the State Archives' key, a review until a date); then clerk
// K, already a chooser, changes the transfer's key, and later the
// review's date. D's approval of what they saw is refused each time
// (ErrChoicesChanged, a conflict) and the plan stays unapproved; so is an
// approval that names no choices seen. Approved once D has looked again.
func TestApprovalIsOfTheChoicesSeen(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		w := e.transferWorld(t)
		k, d := e.records2, e.newStaff(t, policy.RoleRecords, nil)
		notes := w.tc.docs["notes"]
		until := e.clock.Add(365 * 24 * time.Hour)
		review := ChooseAction{Case: w.tc.id, Doc: notes.ID, Version: 1, Kind: ActionReview, Until: &until, Reason: "Appeal pending"}
		transfer := ChooseAction{Case: w.tc.id, Kind: ActionTransfer, Recipient: w.id.Recipient().String(), RecipientName: "State Archives"}
		for _, c := range []ChooseAction{review, transfer} {
			if _, err := e.ret.Choose(ctx, k, w.plan.ID, c); err != nil {
				t.Fatal(err)
			}
		}
		look := func() string {
			t.Helper()
			p, err := e.ret.GetPlan(ctx, d, w.plan.ID)
			if err != nil {
				t.Fatal(err)
			}
			return p.ActionsDigest()
		}
		refused := func(what, seen string) {
			t.Helper()
			if _, err := e.ret.Approve(ctx, d, w.plan.ID, seen); !errors.Is(err, ErrChoicesChanged) || !errors.Is(err, fault.ErrConflict) {
				t.Fatalf("%s: approved choices D never saw: %v", what, err)
			}
			if p, err := e.ret.GetPlan(ctx, d, w.plan.ID); err != nil || p.State != StatePlanned || p.Approved != nil {
				t.Fatalf("%s: %v %+v", what, err, p)
			}
		}
		seen := look()
		mallory := mustIdentity(t)
		transfer.Recipient = mallory.Recipient().String()
		if _, err := e.ret.Choose(ctx, k, w.plan.ID, transfer); err != nil {
			t.Fatal(err)
		}
		refused("another recipient key", seen)
		seen = look()
		later := until.Add(24 * time.Hour)
		review.Until = &later
		if _, err := e.ret.Choose(ctx, k, w.plan.ID, review); err != nil {
			t.Fatal(err)
		}
		refused("another review date", seen)
		if _, err := e.ret.Approve(ctx, d, w.plan.ID, ""); !isInvalid(err) {
			t.Fatalf("approved without naming the choices seen: %v", err)
		}
		p, err := e.ret.Approve(ctx, d, w.plan.ID, look())
		if err != nil || p.State != StateApproved || p.Actions[w.tc.id].Recipient != transfer.Recipient || !p.Actions[ItemKey(Item{Case: w.tc.id, Doc: notes.ID, Version: 1})].Until.Equal(later) {
			t.Fatalf("approval of what D saw: %v %+v", err, p)
		}
	})
}

// TestRefusedApprovalIsSettledInTheLog: clerk K's choice lands between
// approver D's check of the digest and D's update (the hook). The
// approval is refused (ErrChoicesChanged) and the log says so:
// retention.approve, naming the digest D approved, then
// retention.approve.failed paired with it. Before, retention.approve stood
// alone, as if the plan had been approved.
func TestRefusedApprovalIsSettledInTheLog(t *testing.T) {
	t.Parallel()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dir)
	ctx := t.Context()
	w := e.transferWorld(t)
	k, d := e.records2, e.newStaff(t, policy.RoleRecords, nil)
	until := e.clock.Add(365 * 24 * time.Hour)
	review := ChooseAction{Case: w.tc.id, Doc: w.tc.docs["notes"].ID, Version: 1, Kind: ActionReview, Until: &until, Reason: "Appeal pending"}
	if _, err := e.ret.Choose(ctx, k, w.plan.ID, review); err != nil {
		t.Fatal(err)
	}
	p, err := e.ret.GetPlan(ctx, d, w.plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := p.ActionsDigest()
	e.ret.hook = func(step string) error {
		if step == "approve-recorded" {
			later := until.Add(24 * time.Hour)
			review.Until = &later
			if _, err := e.ret.Choose(ctx, k, w.plan.ID, review); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	from := e.log.Size()
	if _, err := e.ret.Approve(ctx, d, w.plan.ID, seen); !errors.Is(err, ErrChoicesChanged) {
		t.Fatalf("approved choices changed under the approval: %v", err)
	}
	e.ret.hook = nil
	var types []string
	for i := from; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "retention.approve" || ev.Type == "retention.approve.failed" {
			types = append(types, ev.Type)
			if ev.Attrs["actions"] != seen || len(ev.Objects) != 1 || ev.Objects[0] != w.plan.ID {
				t.Fatalf("%s does not name the plan and the digest approved: %+v", ev.Type, ev)
			}
			if ev.Type == "retention.approve.failed" && ev.Attrs["cause"] != "conflict" {
				t.Fatalf("cause = %q, want conflict", ev.Attrs["cause"])
			}
		}
	}
	if !slices.Equal(types, []string{"retention.approve", "retention.approve.failed"}) {
		t.Fatalf("approval entries = %v, want [retention.approve retention.approve.failed]", types)
	}
	if p, err := e.ret.GetPlan(ctx, d, w.plan.ID); err != nil || p.State != StatePlanned {
		t.Fatalf("plan after the refused approval: %v %+v", err, p)
	}
}

// TestRefusedChoiceIsSettledInTheLog: approver D approves the plan
// between clerk K's retention.action entry and K's update of the plan
// (the hook). The choice is refused (409: the plan is approved) and the
// log says so: retention.action, then retention.action.failed paired
// with it (cause conflict). Before, retention.action stood alone, as if
// the record would be reviewed.
func TestRefusedChoiceIsSettledInTheLog(t *testing.T) {
	t.Parallel()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dir)
	ctx := t.Context()
	w := e.transferWorld(t)
	k, d := e.records2, e.newStaff(t, policy.RoleRecords, nil)
	p, err := e.ret.GetPlan(ctx, d, w.plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := p.ActionsDigest()
	e.ret.hook = func(step string) error {
		if step == "action-recorded" {
			if _, err := e.ret.Approve(ctx, d, w.plan.ID, seen); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	until := e.clock.Add(365 * 24 * time.Hour)
	review := ChooseAction{Case: w.tc.id, Doc: w.tc.docs["notes"].ID, Version: 1, Kind: ActionReview, Until: &until, Reason: "Appeal pending"}
	from := e.log.Size()
	if _, err := e.ret.Choose(ctx, k, w.plan.ID, review); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("a choice made after the plan's approval: %v; want a conflict", err)
	}
	e.ret.hook = nil
	var types, ops []string
	for i := from; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "retention.action" || ev.Type == "retention.action.failed" {
			types = append(types, ev.Type)
			ops = append(ops, ev.Attrs[audit.OpAttr])
			if ev.Actor != k.ID || len(ev.Objects) != 1 || ev.Objects[0] != w.plan.ID || ev.Attrs["kind"] != ActionReview {
				t.Fatalf("%s does not name the clerk, the plan and the choice: %+v", ev.Type, ev)
			}
			if ev.Type == "retention.action.failed" && ev.Attrs["cause"] != "conflict" {
				t.Fatalf("cause = %q, want conflict", ev.Attrs["cause"])
			}
		}
	}
	if !slices.Equal(types, []string{"retention.action", "retention.action.failed"}) {
		t.Fatalf("choice entries = %v, want [retention.action retention.action.failed]", types)
	}
	if ops[0] == "" || ops[1] != ops[0] {
		t.Fatalf("ops %v: the correction must name its entry's op", ops)
	}
	if p, err := e.ret.GetPlan(ctx, d, w.plan.ID); err != nil || p.State != StateApproved || len(p.Actions) != 0 {
		t.Fatalf("plan after the refused choice: %v %+v", err, p)
	}
}
