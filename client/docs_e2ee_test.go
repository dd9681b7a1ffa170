package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/canary"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
)

// signedFor waits (bounded) until the case's verified membership chain,
// as p's device sees it, lists every account in accounts.
func signedFor(t *testing.T, p person, caseID string, accounts ...string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		devs, _, err := p.x.CaseDevices(ctx, caseID)
		if err == nil {
			chain, err := p.x.Statements(ctx, caseID, devs)
			if err == nil && chain.Latest() != nil && !slices.ContainsFunc(accounts, func(a string) bool {
				_, ok := chain.Latest().Person(a)
				return !ok
			}) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no signed membership statement listing %v within 20s (%v)", accounts, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// canaryDoc is a document of three segments starting with mark.
func canaryDoc(mark string) []byte {
	b := make([]byte, 2*e2ee.StreamSegmentSize+333)
	rand.Read(b)
	copy(b, mark)
	copy(b[e2ee.StreamSegmentSize+10:], mark)
	return b
}

func uploadE2EE(t *testing.T, p person, caseID, audience, class string, body []byte) api.Document {
	t.Helper()
	d, err := p.x.UploadDocumentE2EE(context.Background(), caseID, client.Upload{Name: "offer.pdf", MediaType: "application/pdf",
		Audience: audience, Class: class, Body: bytes.NewReader(body), Size: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// readE2EE downloads and decrypts on p's device.
func readE2EE(p person, caseID, docID string) ([]byte, error) {
	dl, err := p.x.DownloadDocumentE2EE(context.Background(), caseID, docID, 0)
	if err != nil {
		return nil, err
	}
	defer dl.Body.Close()
	return io.ReadAll(dl.Body)
}

func problemStatus(err error) int {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// TestE2EEDocumentShareNarrowHold: side A's party uploads a document
// encrypted on their device for their caucus; the mediator reads it, side
// B cannot (policy refuses, and no wrap holds B's device). The server
// records the ciphertext's SHA-256, not the plaintext's; it refuses a
// share that brings no re-wraps (it cannot perform one) and a
// server-encrypted version added to the document. The mediator shares it
// with the joint room by re-wrapping on their device: B reads it. Narrowed
// back to the caucus, B is refused and no wrap holds B's device any more.
// A hold leaves it readable and is released.
func TestE2EEDocumentShareNarrowHold(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	ctx := context.Background()
	tc := seedE2EE(t, n)
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)

	content := canaryDoc("E2EE-DOC-share")
	d := uploadE2EE(t, tc.a, tc.caseID, "caucus:A", "evidence", content)
	plainSum := sha256.Sum256(content)
	if len(d.Versions) != 1 || !d.Versions[0].E2EE || d.Size != int64(len(content)) || d.SHA256 == hex.EncodeToString(plainSum[:]) {
		t.Fatalf("stored version: %+v", d.Versions)
	}
	if got, err := readE2EE(tc.med, tc.caseID, d.ID); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the mediator's device read %d bytes: %v", len(got), err)
	}
	raw, err := tc.med.c.DownloadDocument(ctx, tc.caseID, d.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := io.ReadAll(raw.Body)
	raw.Body.Close()
	ctSum := sha256.Sum256(ct)
	if err != nil || !raw.E2EE || bytes.Contains(ct, []byte("E2EE-DOC-share")) || hex.EncodeToString(ctSum[:]) != d.SHA256 {
		t.Fatalf("the server's answer is not the recorded ciphertext: e2ee %v, %v", raw.E2EE, err)
	}
	if _, err := readE2EE(tc.b, tc.caseID, d.ID); err == nil {
		t.Fatal("side B read side A's caucus document")
	}
	// Side A's party added it: a share to the joint room is refused until
	// side A allows it.
	if _, err := tc.med.c.ShareDocument(ctx, tc.caseID, d.ID, "joint", false); problemStatus(err) != http.StatusForbidden {
		t.Fatalf("a share side A has not allowed: %v", err)
	}
	sideAllows(t, tc.med, tc.a, tc.caseID, d.ID, "joint")
	if _, err := tc.med.c.ShareDocument(ctx, tc.caseID, d.ID, "joint", false); problemStatus(err) != http.StatusConflict {
		t.Fatalf("a share without re-wraps: %v", err)
	}
	body := []byte("a version the server could read")
	if _, err := tc.a.c.UploadVersion(ctx, tc.caseID, d.ID, client.Upload{Body: bytes.NewReader(body), Size: int64(len(body))}); problemStatus(err) != http.StatusConflict {
		t.Fatalf("a server-encrypted version of an E2EE document: %v", err)
	}

	if _, err := tc.med.x.ShareDocumentE2EE(ctx, tc.caseID, d.ID, "joint", false); err != nil {
		t.Fatal(err)
	}
	if got, err := readE2EE(tc.b, tc.caseID, d.ID); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("side B after the share to the joint room: %v", err)
	}
	if _, err := tc.med.x.ShareDocumentE2EE(ctx, tc.caseID, d.ID, "caucus:A", false); err != nil {
		t.Fatal(err)
	}
	if _, err := readE2EE(tc.b, tc.caseID, d.ID); err == nil {
		t.Fatal("side B read the document after it was narrowed to A's caucus")
	}
	var keys api.DocumentKeys
	if err := tc.med.c.Do(ctx, http.MethodGet, "/api/v1/cases/"+tc.caseID+"/documents/"+d.ID+"/keys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	for _, w := range keys.Wraps {
		k, err := e2ee.DecodeDocKey(w)
		if err != nil || k.Ctx.Audience != "caucus:A" || slices.Contains(k.Devices(), tc.b.x.Me.ID) {
			t.Fatalf("after narrowing, a wrap for %s holds devices %v (%v)", k.Ctx.Audience, k.Devices(), err)
		}
	}
	if got, err := readE2EE(tc.a, tc.caseID, d.ID); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the uploader after narrowing: %v", err)
	}

	_, rec := n.Staff(t, policy.RoleRecords, "records-e2ee@example.org")
	if h, err := rec.HoldDocument(ctx, tc.caseID, d.ID, true, "complaint 12", "rule 4"); err != nil || !h.Held {
		t.Fatalf("hold: %v", err)
	}
	if got, err := readE2EE(tc.med, tc.caseID, d.ID); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("held document: %v", err)
	}
	if h, err := rec.HoldDocument(ctx, tc.caseID, d.ID, false, "complaint withdrawn", ""); err != nil || h.Held {
		t.Fatalf("release: %v", err)
	}
}

// TestE2EEDocumentWaitsForSignedRecusal (review 394 M1): a co-mediator
// is admitted, then recused; the server seals the rooms, but no mediator's
// device is open to sign the change. Side A's party uploads a caucus
// document end to end in that window: refused, as a message is (no signed
// membership for the new epoch yet), and nothing is stored. Once a
// mediator's device signs the recusal, the upload goes through and no
// wrap holds the recused mediator's device.
func TestE2EEDocumentWaitsForSignedRecusal(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	ctx := context.Background()
	tc := seedE2EE(t, n)
	m2Acct, m2C := n.Staff(t, policy.RoleMediator, fmt.Sprintf("m2-doc-%d@example.org", time.Now().UnixNano()))
	if _, err := tc.med.c.CaseAction(ctx, tc.caseID, "mediators", map[string]string{"accountId": m2Acct.ID}); err != nil {
		t.Fatal(err)
	}
	_, m2x := newDevice(t, m2C, m2Acct.ID, e2ee.KEMXWing)
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	if err := med.AdmitMediator(ctx, m2Acct.ID); err != nil {
		t.Fatal(err)
	}
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id, m2Acct.ID)
	med.Close() // no mediator's device left to sign what follows

	if _, err := tc.med.c.CaseAction(ctx, tc.caseID, "recusals", map[string]string{"mediatorId": m2Acct.ID, "reason": "conflict"}); err != nil {
		t.Fatal(err)
	}
	body := []byte("side A's bottom line, after the recusal")
	_, err := tc.a.x.UploadDocumentE2EE(ctx, tc.caseID, client.Upload{Name: "offer.pdf", MediaType: "application/pdf",
		Audience: "caucus:A", Class: "evidence", Body: bytes.NewReader(body), Size: int64(len(body))})
	if !errors.Is(err, e2ee.ErrNoStatement) {
		t.Fatalf("an upload before any mediator signed the recusal: %v", err)
	}
	list, err := tc.a.c.Documents(ctx, tc.caseID)
	if err != nil || len(list) != 0 {
		t.Fatalf("documents stored in the window: %d (%v)", len(list), err)
	}

	open(t, tc.med, tc.caseID, client.SecureOptions{}) // signs the recusal
	deadline := time.Now().Add(20 * time.Second)
	var d api.Document
	for {
		d, err = tc.a.x.UploadDocumentE2EE(ctx, tc.caseID, client.Upload{Name: "offer.pdf", MediaType: "application/pdf",
			Audience: "caucus:A", Class: "evidence", Body: bytes.NewReader(body), Size: int64(len(body))})
		if !errors.Is(err, e2ee.ErrNoStatement) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the upload once the recusal is signed: %v", err)
	}
	var keys api.DocumentKeys
	if err := tc.a.c.Do(ctx, http.MethodGet, "/api/v1/cases/"+tc.caseID+"/documents/"+d.ID+"/keys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	for _, w := range keys.Wraps {
		k, err := e2ee.DecodeDocKey(w)
		if err != nil || slices.Contains(k.Devices(), m2x.Me.ID) || !slices.Contains(k.Devices(), tc.med.x.Me.ID) {
			t.Fatalf("the wrap after the signed recusal holds %v (%v)", k.Devices(), err)
		}
	}
}

// TestE2EEDocumentTamperRefused: ciphertext altered in storage (under the
// server's envelope, by whoever holds the master key) fails on the device:
// the server's own layer refuses it, and so would the device's checks.
// Here the server returns a wrap for another version: refused as moved.
func TestE2EEDocumentWrapMovedRefused(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	ctx := context.Background()
	tc := seedE2EE(t, n)
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)
	d1 := uploadE2EE(t, tc.a, tc.caseID, "caucus:A", "evidence", []byte("first"))
	d2 := uploadE2EE(t, tc.a, tc.caseID, "caucus:A", "evidence", []byte("second"))
	sess := func() *e2ee.Session {
		devs, _, err := tc.med.x.CaseDevices(ctx, tc.caseID)
		if err != nil {
			t.Fatal(err)
		}
		chain, err := tc.med.x.Statements(ctx, tc.caseID, devs)
		if err != nil {
			t.Fatal(err)
		}
		return e2ee.NewSession(tc.med.x.Me, tc.caseID, chain, devs)
	}()
	var keys api.DocumentKeys
	if err := tc.med.c.Do(ctx, http.MethodGet, "/api/v1/cases/"+tc.caseID+"/documents/"+d1.ID+"/keys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sess.OpenDocKey(d2.ID, 1, d2.Name, d2.MediaType, keys.Wraps[0]); !errors.Is(err, e2ee.ErrWrongPlace) {
		t.Fatalf("d1's wrap opened as d2's: %v", err)
	}
}

// TestE2EEDocumentDisposed: an end-to-end encrypted document of a closed
// case is disposed of like any other (retention unchanged): afterwards it
// is gone for everyone, its device, its wraps and its ciphertext, and the
// certificate counts it.
func TestE2EEDocumentDisposed(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	ctx := context.Background()
	tc := seedE2EE(t, n)
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)
	d := uploadE2EE(t, tc.a, tc.caseID, "caucus:A", "evidence", canaryDoc("E2EE-DOC-dispose"))
	for _, p := range []person{tc.a, tc.b} {
		v, err := p.c.Terms(ctx, tc.caseID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.x.AcceptTerms(ctx, tc.caseID, v.Terms); err != nil {
			t.Fatal(err)
		}
	}
	for _, stage := range []string{"opening", "closure"} {
		if _, err := tc.med.c.CaseAction(ctx, tc.caseID, "stage", map[string]string{"stage": stage}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tc.med.c.RecordOutcome(ctx, tc.caseID, "full-agreement", 1, 2); err != nil {
		t.Fatal(err)
	}
	cert := disposeAll(t, n, newMark(t))
	if !slices.ContainsFunc(cert.Destroyed, func(r retention.CertRecord) bool { return r.Doc == d.ID && r.Version == 1 }) {
		t.Fatalf("the certificate does not name the E2EE document: %+v", cert.Destroyed)
	}
	if _, err := readE2EE(tc.a, tc.caseID, d.ID); err == nil {
		t.Fatal("the uploader's device read a disposed document")
	}
	for _, o := range everyObject(t, n) {
		if strings.Contains(o.key, d.ID) {
			t.Fatalf("%s survived disposal", o.key)
		}
	}
}

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestColludingAdminsNewMediatorReadsNoEarlierDocument: two administrators
// who collude recuse the case's mediator and assign a mediator account of
// their own; after the notice period the server's policy lets it download
// every document. It still reads no end-to-end encrypted document from
// before: no signed membership statement names it (only a mediator of the
// previous statement signs the next), so no device that holds a key wraps
// it for the newcomer, and the server has none to give.
func TestColludingAdminsNewMediatorReadsNoEarlierDocument(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	clock := &manualClock{t: time.Now()}
	n.Cases.SetClock(clock.Now)
	ctx := context.Background()
	tc := seedE2EE(t, n)
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)
	caucus := canaryDoc("E2EE-DOC-caucus-before")
	joint := canaryDoc("E2EE-DOC-joint-before")
	dA := uploadE2EE(t, tc.a, tc.caseID, "caucus:A", "evidence", caucus)
	dJ := uploadE2EE(t, tc.med, tc.caseID, "joint", "correspondence", joint)

	_, adminA := n.Staff(t, policy.RoleAdmin, "collude-a@example.org")
	_, adminB := n.Staff(t, policy.RoleAdmin, "collude-b@example.org")
	nominee, nomineeC := n.Staff(t, policy.RoleMediator, "their-mediator@example.org")
	var p api.Proposal
	if err := adminA.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/recusal-proposals",
		api.RecusalProposalRequest{MediatorID: tc.med.id, Reason: "unreachable"}, &p); err != nil {
		t.Fatal(err)
	}
	if err := adminB.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/proposals/"+p.ID+"/approve", api.ProposalDecisionRequest{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := adminA.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/assignment-proposals",
		api.AssignmentProposalRequest{AccountID: nominee.ID}, &p); err != nil {
		t.Fatal(err)
	}
	if err := adminB.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/proposals/"+p.ID+"/approve", api.ProposalDecisionRequest{}, nil); err != nil {
		t.Fatal(err)
	}
	clock.Advance(cases.DefaultReassignmentNotice + time.Minute)
	_, nx := newDevice(t, nomineeC, nominee.ID, e2ee.KEMXWing)
	newMed := person{id: nominee.ID, c: nomineeC, x: nx}

	list, err := nomineeC.Documents(ctx, tc.caseID)
	if err != nil || len(list) != 2 {
		t.Fatalf("policy does not let the assigned mediator list the documents (%d, %v): the test proves nothing", len(list), err)
	}
	// A party's device, asked to hand keys to newcomers, wraps nothing
	// for an account no mediator signed into the membership.
	if added, err := tc.a.x.WrapForNewcomers(ctx, tc.caseID); err != nil || added != 0 {
		t.Fatalf("A's device wrapped %d keys for newcomers: %v", added, err)
	}
	for _, d := range []api.Document{dA, dJ} {
		if got, err := readE2EE(newMed, tc.caseID, d.ID); err == nil || bytes.Contains(got, []byte("E2EE-DOC")) {
			t.Fatalf("the colluding admins' mediator read %s: %v", d.Audience, err)
		}
		dl, err := nomineeC.DownloadDocument(ctx, tc.caseID, d.ID, 0)
		if err != nil {
			t.Fatalf("policy refused the download of %s: the test proves nothing (%v)", d.Audience, err)
		}
		ct, _ := io.ReadAll(dl.Body)
		dl.Body.Close()
		if bytes.Contains(ct, []byte("E2EE-DOC")) || len(ct) == 0 {
			t.Fatalf("the server handed the new mediator %d bytes holding the plaintext", len(ct))
		}
		var keys api.DocumentKeys
		if err := nomineeC.Do(ctx, http.MethodGet, "/api/v1/cases/"+tc.caseID+"/documents/"+d.ID+"/keys", nil, &keys); err != nil {
			t.Fatal(err)
		}
		for _, w := range keys.Wraps {
			if k, _ := e2ee.DecodeDocKey(w); k == nil || slices.Contains(k.Devices(), nx.Me.ID) {
				t.Fatal("a wrap holds the new mediator's device")
			}
		}
	}
}

// TestE2EEDocumentCanary is the done-when canary: a document encrypted on
// a device travels through two nodes on MinIO and Redis, is shared,
// narrowed and read; then neither its plaintext nor its content key (raw
// or encoded) is in any file MinIO keeps for the nodes' bucket
// (scanMinIO), nor in either node's log at debug level. An unencrypted
// control message sent through the same store proves the search finds
// what is there.
func TestE2EEDocumentCanary(t *testing.T) {
	t.Parallel()
	minioData := needEnv(t, "PARLEY_TEST_MINIO_DATA")
	cfg := nodetest.Scale(t)
	logs := []*syncBuffer{{}, {}}
	cfg.Log = slog.New(slog.NewJSONHandler(logs[0], &slog.HandlerOptions{Level: slog.LevelDebug}))
	n1 := nodetest.Start(t, cfg)
	cfg.Log = slog.New(slog.NewJSONHandler(logs[1], &slog.HandlerOptions{Level: slog.LevelDebug}))
	n2 := nodetest.Start(t, cfg)
	ctx := context.Background()
	mark := newMark(t)
	tc := seedE2EE(t, n1, n2.URL, n1.URL, n2.URL)
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)

	secret := "CANARY-DOC-" + mark + "-bottom-line-4000"
	content := canaryDoc(secret)
	d := uploadE2EE(t, tc.a, tc.caseID, "caucus:A", "evidence", content)
	sideAllows(t, tc.med, tc.a, tc.caseID, d.ID, "joint")
	if _, err := tc.med.x.ShareDocumentE2EE(ctx, tc.caseID, d.ID, "joint", false); err != nil {
		t.Fatal(err)
	}
	if got, err := readE2EE(tc.b, tc.caseID, d.ID); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("B: %v", err)
	}
	if _, err := tc.med.x.ShareDocumentE2EE(ctx, tc.caseID, d.ID, "caucus:A", false); err != nil {
		t.Fatal(err)
	}
	// What the server streams with its own envelope removed: the
	// client's ciphertext.
	served, err := tc.med.c.DownloadDocument(ctx, tc.caseID, d.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := io.ReadAll(served.Body)
	served.Body.Close()
	if err != nil || len(ct) == 0 {
		t.Fatalf("server-side view: %v", err)
	}
	if f := canary.Find(ct, []string{secret}); len(f) > 0 {
		t.Fatal("the server's own view of the document (its layer removed) holds the plaintext")
	}
	devs, _, err := tc.med.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := tc.med.x.Statements(ctx, tc.caseID, devs)
	if err != nil {
		t.Fatal(err)
	}
	key, err := tc.med.x.DocumentKey(ctx, e2ee.NewSession(tc.med.x.Me, tc.caseID, chain, devs), tc.caseID, d.ID, 1, d.Name, d.MediaType)
	if err != nil {
		t.Fatal(err)
	}
	control := "CONTROL-DOC-" + mark + "-sent-without-encryption"
	raw, err := tc.b.c.Chat(ctx, tc.caseID, map[string]*messaging.Position{"joint": nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Send(ctx, "joint", "control", []byte(control)); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	// The key's 32 bytes, and a second segment's marker, searched raw and
	// in every encoding canary.Forms knows.
	all := []string{control, secret, string(key), hex.EncodeToString(key)}
	deadline := time.Now().Add(20 * time.Second)
	var hits map[string][]string
	for {
		hits = scanMinIO(t, minioData, cfg.S3.Bucket, all)
		found := false
		for _, f := range hits {
			found = found || slices.Contains(f, control)
		}
		if found || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the control is journaled, then compacted
	}
	assertOnlyControl(t, "MinIO data directory", hits, control)
	// What the server itself can open: every stored version of every
	// object, sealed records opened with the records key, and the
	// document with the server's envelope removed (what it streams).
	for _, o := range everyObject(t, n1) {
		if f := canary.Find(o.plain, all[1:]); len(f) > 0 {
			t.Fatalf("%s, opened as the server can, holds a document canary or its key", o.key)
		}
	}
	if f := canary.Find(ct, all[1:]); len(f) > 0 {
		t.Fatal("the server's own view of the document (its layer removed) holds the plaintext or the key")
	}
	for i, l := range logs {
		if f := canary.Find(l.Bytes(), all); len(f) > 0 {
			t.Fatalf("node %d's log holds a document canary or its key", i+1)
		}
		if len(l.Bytes()) == 0 {
			t.Fatalf("node %d logged nothing: is the log captured?", i+1)
		}
	}
}

// TestUpgradeServerEncryptedDocument: a document stored before end-to-end
// encryption stays readable; the mediator's client upgrades it (both
// versions, with progress), after which its audience reads it on their
// devices, and no stored object the server can open — ciphertext copies
// or records, every stored version — holds its plaintext any more. A held
// document is refused (its stored bytes may not change).
func TestUpgradeServerEncryptedDocument(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	ctx := context.Background()
	tc := seedE2EE(t, n)
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)
	mark := "LEGACY-" + newMark(t)
	v1, v2 := canaryDoc(mark+"-v1"), canaryDoc(mark+"-v2")
	d, err := tc.med.c.UploadDocument(ctx, tc.caseID, client.Upload{Name: "old.pdf", Audience: "caucus:A", Class: "evidence",
		Body: bytes.NewReader(v1), Size: int64(len(v1))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.med.c.UploadVersion(ctx, tc.caseID, d.ID, client.Upload{Body: bytes.NewReader(v2), Size: int64(len(v2))}); err != nil {
		t.Fatal(err)
	}
	if got, err := readE2EE(tc.a, tc.caseID, d.ID); err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("a server-encrypted document through the E2EE client: %v", err)
	}
	held, err := tc.med.c.UploadDocument(ctx, tc.caseID, client.Upload{Name: "held.pdf", Audience: "joint", Class: "evidence",
		Body: bytes.NewReader(v1), Size: int64(len(v1))})
	if err != nil {
		t.Fatal(err)
	}
	_, rec := n.Staff(t, policy.RoleRecords, "records-upgrade@example.org")
	if _, err := rec.HoldDocument(ctx, tc.caseID, held.ID, true, "complaint 7", "rule 4"); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.med.x.UpgradeDocument(ctx, tc.caseID, held.ID, nil); problemStatus(err) != http.StatusConflict {
		t.Fatalf("upgrading a held document: %v", err)
	}
	if _, err := tc.a.x.UpgradeDocument(ctx, tc.caseID, d.ID, nil); err == nil {
		t.Fatal("a party upgraded a document (mediators only)")
	}

	var last map[int]int64 = map[int]int64{}
	count, err := tc.med.x.UpgradeDocument(ctx, tc.caseID, d.ID, func(doc string, v int, done, total int64) {
		if doc != d.ID || done > total {
			t.Errorf("progress %s v%d %d/%d", doc, v, done, total)
		}
		last[v] = done
	})
	if err != nil || count != 2 {
		t.Fatalf("upgrade: %d versions, %v", count, err)
	}
	if last[1] != int64(len(v1)) || last[2] != int64(len(v2)) {
		t.Fatalf("progress ended at %v", last)
	}
	after, err := tc.med.c.Document(ctx, tc.caseID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range after.Versions {
		if !v.E2EE {
			t.Fatalf("version %d not upgraded", v.Version)
		}
	}
	for _, want := range []struct {
		v    int
		body []byte
	}{{1, v1}, {2, v2}} {
		dl, err := tc.a.x.DownloadDocumentE2EE(ctx, tc.caseID, d.ID, want.v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(dl.Body)
		dl.Body.Close()
		if err != nil || !dl.E2EE || !bytes.Equal(got, want.body) {
			t.Fatalf("version %d after the upgrade: e2ee %v, %v", want.v, dl.E2EE, err)
		}
	}
	if _, err := readE2EE(tc.b, tc.caseID, d.ID); err == nil {
		t.Fatal("side B read the upgraded caucus document")
	}
	// What the server can open of this document: no plaintext left.
	for _, o := range everyObject(t, n) {
		if strings.Contains(o.key, d.ID) && len(canary.Find(o.plain, []string{mark})) > 0 {
			t.Fatalf("%s@%s still holds the plaintext", o.key, o.version)
		}
	}
	// The server's ciphertext of the plaintext, and the record with its
	// data key, are gone in every stored version: one copy of each is
	// left, the upgraded one.
	for _, key := range []string{"docs/" + tc.caseID + "/" + d.ID + "/1", "docs/" + tc.caseID + "/" + d.ID + "/2",
		fmt.Sprintf("vault/%s/versions/%s/%010d", tc.caseID, d.ID, 1), fmt.Sprintf("vault/%s/versions/%s/%010d", tc.caseID, d.ID, 2)} {
		vs, err := n.Store.Versions(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, v := range vs {
			if !v.DeleteMarker {
				live++
			}
		}
		if live != 1 {
			t.Fatalf("%s: %d stored versions after the upgrade, want 1 (the server could still read the old one)", key, live)
		}
	}
	dl, err := tc.med.c.DownloadDocument(ctx, tc.caseID, d.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := io.ReadAll(dl.Body)
	dl.Body.Close()
	if bytes.Contains(ct, []byte(mark)) {
		t.Fatal("the server's own view of an upgraded version holds the plaintext")
	}
}

// sideAllows has the mediator ask, and a party of the document's side
// allow, sharing docID with to: what a share of a document a party added
// to their caucus needs first.
func sideAllows(t *testing.T, med, party person, caseID, docID, to string) {
	t.Helper()
	ctx := context.Background()
	r, err := med.c.AskToShare(ctx, caseID, docID, to)
	if err != nil {
		t.Fatalf("ask to share: %v", err)
	}
	if r, err = party.x.AnswerShareRequest(ctx, caseID, r, true); err != nil || r.Status != "approved" {
		t.Fatalf("allow the share: %+v %v", r, err)
	}
}
