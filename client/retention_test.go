package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/evaluation"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
)

// wholeCase is a closed case with every kind of record, and what names
// its people.
type wholeCase struct {
	id       string
	people   []string // names, emails and the title: none may outlive disposal
	accounts []string // its participants' accounts
	// checkIn is a follow-up check-in's token, open now and valid for
	// weeks: disposal must leave it answering nothing.
	checkIn string
}

// buildWholeCase makes a case with every kind of record Parley stores:
// documents (two versions of one), caucus and joint messages, a proposed
// and consented carry, invitations redeemed and not (with emails), a
// second device for a party, a scheduled session (with its invitation
// mail in the outbox), objectives, a stage note, a disclosure with
// acknowledgements, an outcome and three survey responses; then closes
// it.
func buildWholeCase(t *testing.T, n *nodetest.Node, med person, mark string) *wholeCase {
	t.Helper()
	ctx := context.Background()
	title := "Quintrell-" + mark + " v. Marsh-" + mark
	// With a reference (its index record names the case: it goes too).
	k, err := med.c.CreateCaseWith(ctx, api.CreateCaseRequest{Title: title, Type: "family", ReferralSource: "court",
		Sides: []string{"Quintrell household", "Marsh household"}, Reference: "DISP-" + mark})
	if err != nil {
		t.Fatal(err)
	}
	w := &wholeCase{id: k.ID, people: []string{title}}
	join := func(role, side, name, email string, devices int) person {
		w.people = append(w.people, name, email)
		inv, err := med.c.Invite(ctx, k.ID, role, side, name, email, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pc := client.New(n.URL, "")
		s, err := pc.Join(ctx, inv.Link)
		if err != nil {
			t.Fatal(err)
		}
		p := person{id: s.Account.ID, c: pc}
		w.accounts = append(w.accounts, p.id)
		if devices > 0 {
			p.dir, p.x = newDevice(t, pc, p.id, e2ee.KEMXWing)
		}
		for range devices - 1 {
			// A further device, linked from the first (an unlinked one
			// reads and sends nothing).
			link(t, p.x, newKeys(t, pc, p.id, e2ee.KEMXWing), k.ID)
		}
		return p
	}
	a := join("party", "A", "Avery Quintrell-"+mark, "avery."+mark+"@example.net", 2) // a second device
	b := join("party", "B", "Blake Marsh-"+mark, "blake."+mark+"@example.net", 1)
	counsel := join("counsel", "A", "Casey Counsell-"+mark, "casey."+mark+"@example.net", 0)
	// Someone a mediator took out of the case, after a re-entry link was
	// made for them: their account, and the link's record, go too.
	rory := join("party", "B", "Rory Removed-"+mark, "rory."+mark+"@example.net", 1)
	if _, err := med.c.Reentry(ctx, k.ID, rory.id, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := med.c.RemoveParticipant(ctx, k.ID, rory.id); err != nil {
		t.Fatal(err)
	}
	// An invitation never redeemed.
	w.people = append(w.people, "Drew Absent-"+mark, "drew."+mark+"@example.net")
	if _, err := med.c.Invite(ctx, k.ID, "party", "B", "Drew Absent-"+mark, "drew."+mark+"@example.net", time.Hour); err != nil {
		t.Fatal(err)
	}

	// Messages, and a carry from caucus A to the joint room.
	mc := open(t, med, k.ID, client.SecureOptions{})
	ac := open(t, a, k.ID, client.SecureOptions{})
	bc := open(t, b, k.ID, client.SecureOptions{})
	orig := send(t, ac, "caucus:A", "Avery would settle for the car")
	expect(t, mc, "caucus:A")
	carry, err := mc.ProposeCarry(ctx, "caucus:A", orig.Pos(), "may I share this?")
	if err != nil {
		t.Fatal(err)
	}
	proposal := expect(t, ac, "caucus:A")
	for proposal.Kind != e2ee.KindCarryProposal {
		proposal = expect(t, ac, "caucus:A")
	}
	if proposal.Carry == nil || proposal.Carry.ID != carry {
		t.Fatalf("proposal %+v", proposal)
	}
	if _, err := ac.ApproveCarry(ctx, proposal); err != nil {
		t.Fatal(err)
	}
	expect(t, bc, "joint")
	send(t, bc, "joint", "Blake agrees to talk")

	// Documents.
	doc, err := med.c.UploadDocument(ctx, k.ID, client.Upload{Name: "Quintrell-" + mark + " letter.pdf", MediaType: "application/pdf",
		Audience: "joint", Class: "correspondence", Body: strings.NewReader("letter to Avery Quintrell-" + mark), Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := med.c.UploadVersion(ctx, k.ID, doc.ID, client.Upload{Body: strings.NewReader("second letter"), Size: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := med.c.UploadDocument(ctx, k.ID, client.Upload{Name: "notes.txt", Audience: "mediators", Class: "mediator-notes",
		Body: strings.NewReader("Blake Marsh-" + mark + " seems anxious"), Size: -1}); err != nil {
		t.Fatal(err)
	}
	w.people = append(w.people, "Quintrell-"+mark+" letter.pdf")

	// A settlement agreement (a vault document of class agreement, its
	// record under agreements/<case>/) signed by both parties' devices (in
	// the key directory under keydir/agreements/<case>/).
	if _, err := med.c.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []person{a, b} {
		if _, err := p.x.SignAgreement(ctx, k.ID, 1); err != nil {
			t.Fatal(err)
		}
	}

	// A scheduled session (its invitations go through the outbox).
	start := time.Now().Add(96 * time.Hour).UTC().Format("2006-01-02T15:04")
	if _, err := med.c.AddSession(ctx, k.ID, api.NewSessionRequest{Start: start, TimeZone: "UTC", Minutes: 60}); err != nil {
		t.Fatal(err)
	}
	// The case record's own parts.
	if _, err := med.c.CaseAction(ctx, k.ID, "objectives", map[string]string{"text": "Keep Avery Quintrell-" + mark + " in the house"}); err != nil {
		t.Fatal(err)
	}
	kc, err := med.c.CaseAction(ctx, k.ID, "disclosures", map[string]string{"text": "I once worked with Blake Marsh-" + mark})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []person{a, b} {
		if _, err := p.c.CaseAction(ctx, k.ID, "disclosures/"+kc.Disclosures[0].ID+"/ack", nil); err != nil {
			t.Fatal(err)
		}
	}
	// Everyone who joined accepts the terms (signed acceptances are part of
	// the case record too), or the case cannot open.
	for _, p := range []person{a, b} {
		v, err := p.c.Terms(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.x.AcceptTerms(ctx, k.ID, v.Terms); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.AcceptTerms(t, counsel.c, k.ID)
	if _, err := med.c.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "opening", "note": "Avery Quintrell-" + mark + " arrived late"}); err != nil {
		t.Fatal(err)
	}
	if _, err := med.c.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	out, err := med.c.RecordOutcome(ctx, k.ID, "full-agreement", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Surveys) != 3 {
		t.Fatalf("%d survey links, want 3 (two parties and counsel)", len(out.Surveys))
	}
	for i, s := range out.Surveys {
		scores := map[string]int{}
		for j, item := range cases.SurveyItems {
			scores[item] = 1 + (i+j)%5
		}
		_, token, _ := strings.Cut(s.Link, "#")
		if err := med.c.SubmitSurvey(ctx, token, scores, "Thanks, Casey Counsell-"+mark); err != nil {
			t.Fatal(err)
		}
	}
	// Follow-up check-ins on the agreement: the first is open now (due a
	// day after closure), and one of its links is answered; the second's
	// links and mail wait for day 30.
	fu, err := med.c.SetFollowUps(ctx, k.ID, []int{1, 30})
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for _, l := range fu.Links {
		if _, token, _ := strings.Cut(l.Link, "#"); l.Days == 1 {
			open = append(open, token)
		}
	}
	if len(open) != 3 {
		t.Fatalf("%d check-in links open now, want 3: %+v", len(open), fu.Links)
	}
	if err := submitCheckIn(ctx, med.c, open[0], "Avery Quintrell-"+mark+" paid late"); err != nil {
		t.Fatal(err)
	}
	w.checkIn = open[1]
	return w
}

// submitCheckIn answers a follow-up check-in (no session: the token is
// the capability).
func submitCheckIn(ctx context.Context, c *client.Client, token, comment string) error {
	return c.Do(ctx, "POST", "/api/v1/checkins", api.CheckInRequest{Token: token, Answer: "partly", Comment: comment}, nil)
}

// storedObject is one stored version and what the server could read of
// it: its bytes and, for a sealed record, the record opened with the
// records key (which the master key unwraps).
type storedObject struct {
	key, version string
	plain        []byte
}

// everyObject reads every stored version of every object of the store,
// in the order the store lists them. Several versions are read at once
// (objectReaders): read one after another, the few hundred of a whole
// case on MinIO took 15–25 s under the race detector, several times a
// test.
func everyObject(t *testing.T, n *nodetest.Node) []storedObject {
	t.Helper()
	ctx := context.Background()
	var vs []objstore.Version
	if err := n.Store.VersionsUnder(ctx, "", func(v objstore.Version) error { vs = append(vs, v); return nil }); err != nil {
		t.Fatal(err)
	}
	read := make([]*storedObject, len(vs))
	errs := make([]error, len(vs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range objectReaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				read[i], errs[i] = readVersion(ctx, n, vs[i])
			}
		}()
	}
	for i, v := range vs {
		if !v.DeleteMarker {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	var out []storedObject
	for i, v := range vs {
		if errs[i] != nil {
			t.Fatalf("%s@%s: %v", v.Key, v.VersionID, errs[i])
		}
		if read[i] != nil {
			out = append(out, *read[i])
		}
	}
	return out
}

// objectReaders is how many stored versions everyObject reads at once.
const objectReaders = 8

// readVersion reads one stored version as the server could: its bytes
// and, for a sealed record, the record opened. It returns nil for a
// journal entry compacted since the listing.
func readVersion(ctx context.Context, n *nodetest.Node, v objstore.Version) (*storedObject, error) {
	rc, _, err := n.Store.Get(ctx, v.Key, objstore.GetOptions{VersionID: v.VersionID})
	if errors.Is(err, objstore.ErrNotFound) && strings.HasPrefix(v.Key, "journal/") {
		return nil, nil // compacted since the listing
	}
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	var rec json.RawMessage
	if _, err := n.Meta.GetVersion(ctx, v.Key, v.VersionID, &rec); err == nil {
		b = append(append(b, '\n'), rec...)
	}
	return &storedObject{key: v.Key, version: v.VersionID, plain: b}, nil
}

// disposeAll sets every class's period to 0 days, then plans (records
// staff), approves (another records clerk) and applies the plan, and
// returns its verified certificate.
func disposeAll(t *testing.T, n *nodetest.Node, mark string) retention.Certificate {
	t.Helper()
	ctx := context.Background()
	_, rec := n.Staff(t, policy.RoleRecords, "records-"+mark+"@example.org")
	_, rec2 := n.Staff(t, policy.RoleRecords, "records2-"+mark+"@example.org")
	for _, class := range policy.RecordClasses() {
		trigger := "case-closed"
		if class == policy.ClassStatisticalStub || class == policy.ClassResidue {
			continue
		}
		res, err := rec.SetScheduleRule(ctx, class, trigger, "0d")
		if err != nil {
			t.Fatal(err)
		}
		if res.Pending != nil { // a shortening: the second clerk approves it
			if _, err := rec2.ApproveScheduleChange(ctx, res.Pending.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	p, err := rec.MakePlan(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	pa, err := rec2.PlanActions(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec2.ApprovePlan(ctx, p.ID, pa.ActionsDigest); err != nil {
		t.Fatal(err)
	}
	for range p.Pages + 3 {
		pr, err := rec.ApplyStep(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if pr.Done {
			break
		}
	}
	signed, err := rec.Certificate(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := rec.AuditKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := retention.VerifyCertificate(signed, vkey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newMark(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestDisposeWholeCase is issue 18's done-when, on a local directory
// store: a case with every kind of record is closed and disposed of.
// Afterwards, of every stored version of every object under every prefix
// (opened as the server could), none holds a participant's name or email
// or the case's title; none is of the case but its statistical stub, the
// retention records (plan, certificate: ids and counts) and what the audit
// log's and key directory's proofs need (entries of ids and hashes, and
// the marker that keeps its rooms' history ended); both logs still
// verify; the certificate counts every class; and the evaluation export
// still counts the case.
func TestDisposeWholeCase(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	mark := newMark(t)
	w := disposeWholeCaseWorld(t, n, mark, false)
	checkDisposed(t, n, w)
}

// TestDisposeWholeCaseHeldOnMinIO is the same on MinIO, with a second
// case under a legal hold: nothing of the held case goes, its people are
// still there, and the first case goes as on a directory.
func TestDisposeWholeCaseHeldOnMinIO(t *testing.T) {
	t.Parallel()
	needEnv(t, "PARLEY_TEST_S3_ENDPOINT")
	n := nodetest.Start(t, nodetest.Scale(t))
	mark := newMark(t)
	w := disposeWholeCaseWorld(t, n, mark, true)
	checkDisposed(t, n, w)
}

type disposalWorld struct {
	gone, held *wholeCase
	cert       retention.Certificate
	// heldBefore: every stored version of the held case's records before
	// the plan, by the prefixes and keys that name it or its people.
	heldBefore []string
	// after: every stored version after the plan was applied and the
	// journals settled (settleJournal).
	after []storedObject
}

func disposeWholeCaseWorld(t *testing.T, n *nodetest.Node, mark string, withHold bool) *disposalWorld {
	t.Helper()
	ctx := context.Background()
	medAcct, medC := n.Staff(t, policy.RoleMediator, "med-"+mark+"@example.org")
	med := person{id: medAcct.ID, c: medC}
	med.dir, med.x = newDevice(t, medC, medAcct.ID, e2ee.KEMXWing)
	dw := &disposalWorld{}
	if !withHold {
		dw.gone = buildWholeCase(t, n, med, mark)
	} else {
		// The two cases are built at once, as one mediator's two cases
		// are: one after the other, on MinIO under the race detector,
		// they took 60–70 s of the test's 120–220 s.
		if !t.Run("build", func(t *testing.T) {
			t.Run("gone", func(t *testing.T) {
				t.Parallel()
				dw.gone = buildWholeCase(t, n, med, mark)
			})
			t.Run("held", func(t *testing.T) {
				t.Parallel()
				dw.held = buildWholeCase(t, n, med, newMark(t)) // no name a prefix of the other case's
			})
		}) {
			t.FailNow()
		}
		_, rec := n.Staff(t, policy.RoleRecords, "holder-"+mark+"@example.org")
		if _, err := rec.PlaceHold(ctx, api.NewHold{Case: dw.held.id, Reason: "Appeal pending", Authority: "Order 2026-77"}); err != nil {
			t.Fatal(err)
		}
		dw.heldBefore = heldVersions(settleJournal(t, n), dw.held)
		if len(dw.heldBefore) < 20 {
			t.Fatalf("held case has only %d stored versions: %v", len(dw.heldBefore), dw.heldBefore)
		}
	}
	dw.cert = disposeAll(t, n, mark)
	// Every stored version once what was journaled has been compacted:
	// what checkDisposed looks through, and where the held case must be
	// as it was (compaction after the plan adds to the held case's
	// records only if the plan touched them).
	dw.after = settleJournal(t, n)
	if withHold {
		if after := heldVersions(dw.after, dw.held); !slices.Equal(after, dw.heldBefore) {
			t.Fatalf("held case changed:\nbefore %v\nafter  %v", dw.heldBefore, after)
		}
		if _, err := n.Cases.Load(ctx, dw.held.id); err != nil {
			t.Fatalf("held case record: %v", err)
		}
	}
	return dw
}

// heldVersions lists, of objects, every stored version under every
// prefix named by a case or its participants.
func heldVersions(objects []storedObject, w *wholeCase) []string {
	var out []string
	for _, o := range objects {
		if strings.HasPrefix(o.key, "journal/") {
			continue // a node's journal: transient, compacted within seconds
		}
		if strings.Contains(o.key, w.id) || slices.ContainsFunc(w.accounts, func(a string) bool { return strings.Contains(o.key, a) }) ||
			(!strings.HasPrefix(o.key, "audit/") && !strings.HasPrefix(o.key, "retention/") && bytes.Contains(o.plain, []byte(w.id))) {
			out = append(out, o.key+"@"+o.version)
		}
	}
	slices.Sort(out)
	return out
}

func checkDisposed(t *testing.T, n *nodetest.Node, dw *disposalWorld) {
	t.Helper()
	ctx := context.Background()
	w := dw.gone
	// Where a disposed case's id may still appear: the audit log and the
	// key directory's log (ids and hashes: their proofs), retention's own
	// records (plans and certificates: ids, classes, counts), the stub,
	// the marker that stops a node writing the rooms' history back, and
	// (in its key only, until an apply's ClearStaleFences deletes it
	// once cases.GoneFenceAge old) the fence marker written anew for the
	// nodes' watches once the case record is gone.
	allowedContent := []string{"audit/", keydir.LogPrefix, "retention/plans/", "retention/certificates/", cases.StubsPrefix, "rooms-ended/"}
	allowedKey := []string{"retention/plans/", cases.StubsPrefix, "rooms-ended/", cases.FenceMarkKey("")}
	// Journaled batches are copied to their rooms (or, for an ended room,
	// dropped) and their journal entries deleted once compaction's wait
	// has passed (package messaging: 5 s): dw.after is every stored
	// object once that happened (settleJournal).
	objects := dw.after
	// A node keeps the newest entry of its message journal as its
	// high-water mark (package messaging) until it writes the next one:
	// ciphertext under keys only devices had, a room id and sender ids,
	// no name. It is the one journal entry that may still name the case.
	highWater := journalHighWater(objects)
	var stub bool
	for _, o := range objects {
		for _, s := range w.people {
			if bytes.Contains(bytes.ToLower(o.plain), []byte(strings.ToLower(s))) {
				t.Errorf("%s@%s still holds %q", o.key, o.version, s)
			}
		}
		if o.key == cases.StubKey(w.id) {
			stub = true
		}
		inKey := strings.Contains(o.key, w.id) || slices.ContainsFunc(w.accounts, func(a string) bool { return strings.Contains(o.key, a) })
		if inKey && !slices.ContainsFunc(allowedKey, func(p string) bool { return strings.HasPrefix(o.key, p) }) {
			t.Errorf("%s@%s is of the disposed case", o.key, o.version)
		}
		inContent := bytes.Contains(o.plain, []byte(w.id)) || slices.ContainsFunc(w.accounts, func(a string) bool { return bytes.Contains(o.plain, []byte(a)) })
		if inContent && !slices.ContainsFunc(allowedContent, func(p string) bool { return strings.HasPrefix(o.key, p) }) &&
			highWater[o.key[:max(strings.LastIndex(o.key, "/"), 0)]] != o.key {
			t.Errorf("%s@%s names the disposed case or its people", o.key, o.version)
		}
	}
	// A local journal deletes a segment file once all of it is compacted
	// (no high-water entry is kept): nothing of the case is left there.
	for path, data := range localJournal(t, n) {
		if bytes.Contains(data, []byte(w.id)) {
			t.Errorf("local journal file %s still names the disposed case", path)
		}
	}
	if !stub {
		t.Error("no statistical stub of the disposed case")
	}
	if len(objects) < 30 {
		t.Fatalf("only %d stored objects: the scan saw nothing", len(objects))
	}
	// The certificate counts every class of the case.
	got := map[string]retention.ClassCount{}
	for _, cc := range dw.cert.Classes {
		got[cc.Class] = cc
	}
	for _, class := range []string{"agreement", "correspondence", "mediator-notes", policy.ClassMessageHistory, policy.ClassInvitesSessions,
		policy.ClassCarriesConsents, policy.ClassSurveyResponses, policy.ClassKeyDirectory, policy.ClassCaseRecord} {
		if got[class].Records == 0 {
			t.Errorf("certificate: no %s destroyed: %+v", class, dw.cert.Classes)
		}
	}
	if got[policy.ClassParticipantAccount].Objects != len(w.accounts) {
		t.Errorf("certificate: %d participant accounts, want %d", got[policy.ClassParticipantAccount].Objects, len(w.accounts))
	}
	if len(dw.cert.AuditEntries) == 0 || dw.cert.AuditTo <= dw.cert.AuditFrom {
		t.Errorf("certificate's audit entries: %v [%d, %d)", dw.cert.AuditEntries, dw.cert.AuditFrom, dw.cert.AuditTo)
	}
	for _, i := range dw.cert.AuditEntries {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil || !strings.HasPrefix(ev.Type, "retention.") || ev.Attrs["plan"] != dw.cert.ID {
			t.Errorf("audit entry %d: %+v %v", i, ev, err)
		}
	}
	if dw.held != nil {
		for _, r := range dw.cert.Destroyed {
			if r.Case == dw.held.id {
				t.Errorf("held case's %s destroyed", r.Class)
			}
		}
	}
	// Both logs still verify.
	if _, err := audit.Verify(ctx, n.Store, n.AuditVerifierKey(), nil); err != nil {
		t.Errorf("audit log: %v", err)
	}
	if _, err := audit.VerifyWithPrefix(ctx, n.Store, n.KeyDir.VerifierKey(), nil, keydir.LogPrefix); err != nil {
		t.Errorf("key directory log: %v", err)
	}
	// The export still counts the case.
	var buf bytes.Buffer
	rep, err := evaluation.Run(ctx, n.Cases, &buf, evaluation.Options{From: time.Now().AddDate(-1, 0, 0), To: time.Now().AddDate(1, 0, 0), K: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := 1
	if dw.held != nil {
		want = 2
	}
	if rep.Stubs != 1 || rep.CasesInRange != want {
		t.Errorf("export after disposal: %d stubs, %d cases in range; want 1 and %d", rep.Stubs, rep.CasesInRange, want)
	}
	if errors.Is(err, nil) && bytes.Contains(buf.Bytes(), []byte(w.id)) {
		t.Error("export names the case id")
	}
	// A check-in link of the disposed case, which would still be valid
	// for weeks, answers nothing: refused, and nothing stored under
	// followups/ names the case.
	var gone *client.Error
	if err := submitCheckIn(ctx, client.New(n.URL, ""), w.checkIn, "written after disposal"); !errors.As(err, &gone) || gone.Status != 410 {
		t.Errorf("a check-in answered after disposal: %v, want 410", err)
	}
	if err := n.Store.VersionsUnder(ctx, "followups/", func(v objstore.Version) error {
		if v.DeleteMarker {
			return nil
		}
		o, err := readVersion(ctx, n, v)
		if err == nil && o != nil && bytes.Contains(o.plain, []byte(w.id)) {
			t.Errorf("%s@%s names the disposed case after a check-in was answered", v.Key, v.VersionID)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_ = fmt.Sprint
}

// settleJournal waits (bounded) until every node's journal holds only its
// newest entry: what was journaled has been compacted into its rooms (or
// dropped, for an ended room). It returns every stored object then. It
// polls by listing the journals alone, and reads every object (which
// takes seconds on MinIO) only once they look settled, checking again on
// what it read.
func settleJournal(t *testing.T, n *nodetest.Node) []storedObject {
	t.Helper()
	ctx := context.Background()
	settled := func(objects []storedObject) bool {
		return journalEntries(objects) <= len(journalHighWater(objects)) && len(localJournal(t, n)) == 0
	}
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		var journal []storedObject
		if err := n.Store.VersionsUnder(ctx, "journal/", func(v objstore.Version) error {
			if !v.DeleteMarker {
				journal = append(journal, storedObject{key: v.Key, version: v.VersionID})
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		late := time.Now().After(deadline)
		if !settled(journal) && !late {
			continue
		}
		if objects := everyObject(t, n); settled(objects) || late {
			return objects
		}
	}
}

// localJournal reads the segment files of the node's local journal (the
// embedded store keeps node journals as files in <data>/journal), by path.
func localJournal(t *testing.T, n *nodetest.Node) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	if n.Config.DataDir == "" || n.Config.ScaleMode() {
		return out
	}
	files, err := filepath.Glob(filepath.Join(n.Config.DataDir, "journal", "*", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			out[f] = data
		}
	}
	return out
}

// journalHighWater is each node journal's newest entry, by journal.
func journalHighWater(objects []storedObject) map[string]string {
	highWater := map[string]string{}
	for _, o := range objects {
		if strings.HasPrefix(o.key, "journal/") {
			inc := o.key[:strings.LastIndex(o.key, "/")]
			highWater[inc] = max(highWater[inc], o.key)
		}
	}
	return highWater
}

// journalEntries counts the stored versions of journal entries.
func journalEntries(objects []storedObject) int {
	n := 0
	for _, o := range objects {
		if strings.HasPrefix(o.key, "journal/") {
			n++
		}
	}
	return n
}
