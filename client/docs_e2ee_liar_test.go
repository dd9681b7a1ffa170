package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// liar is a server that lies: it rewrites the answers it forwards (edit,
// by request path) and keeps, instead of forwarding, the writes it is
// asked to swallow (a lying server accepts anything), for the test to see
// what a device would have given it.
type liar struct {
	next    http.RoundTripper
	edit    func(r *http.Request, resp *http.Response, body []byte) []byte
	swallow func(r *http.Request) bool

	mu   sync.Mutex
	kept [][]byte
}

func (l *liar) RoundTrip(r *http.Request) (*http.Response, error) {
	if l.swallow != nil && l.swallow(r) {
		var b []byte
		if r.Body != nil {
			b, _ = io.ReadAll(r.Body)
			r.Body.Close()
		}
		l.mu.Lock()
		l.kept = append(l.kept, b)
		l.mu.Unlock()
		return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(nil)), Request: r}, nil
	}
	resp, err := l.next.RoundTrip(r)
	if err != nil || l.edit == nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	body = l.edit(r, resp, body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func (l *liar) swallowed() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.kept
}

// through returns p's device talking to the server through l.
func through(p person, l *liar) *client.E2EE {
	l.next = http.DefaultTransport
	c := &client.Client{BaseURL: p.c.BaseURL, Token: p.c.Token, HTTP: &http.Client{Transport: l}}
	return &client.E2EE{C: c, Dir: p.x.Dir, Me: p.x.Me}
}

// TestE2EEDocumentLyingAudienceNoNewcomerWrap: the server reports side A's
// caucus document as shared with the joint room while the mediator's
// device runs its routine `doc keys`. The device checks the audience
// against the signed wrap it opens and refuses: it signs no wrap for side
// B's device (the lying server would have kept it).
func TestE2EEDocumentLyingAudienceNoNewcomerWrap(t *testing.T) {
	t.Parallel()
	tc := seedE2EE(t, nodetest.Embedded(t))
	ctx := context.Background()
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)
	d := uploadE2EE(t, tc.a, tc.caseID, "caucus:A", "evidence", []byte("side A's bottom line"))

	l := &liar{
		edit: func(r *http.Request, _ *http.Response, body []byte) []byte {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/documents") {
				return bytes.ReplaceAll(body, []byte(`"audience":"caucus:A"`), []byte(`"audience":"joint"`))
			}
			return body
		},
		swallow: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/documents/"+d.ID+"/keys")
		},
	}
	med := through(tc.med, l)
	n, err := med.WrapForNewcomers(ctx, tc.caseID)
	for _, raw := range l.swallowed() {
		var req api.DocumentKeysRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			t.Fatal(err)
		}
		for _, w := range req.Wraps {
			if k, err := e2ee.DecodeDocKey(w.Wrap); err == nil && slices.Contains(k.Devices(), tc.b.x.Me.ID) {
				t.Fatalf("the mediator's device wrapped side A's caucus document for side B's device (audience %s)", k.Ctx.Audience)
			}
		}
	}
	if n != 0 || !errors.Is(err, client.ErrAudienceMismatch) {
		t.Fatalf("WrapForNewcomers under a lying audience: %d wraps, %v", n, err)
	}
	if _, err := med.UpgradeDocument(ctx, tc.caseID, d.ID, nil); !errors.Is(err, client.ErrAudienceMismatch) {
		t.Fatalf("UpgradeDocument under a lying audience: %v", err)
	}
	// Told the truth, the same device has nothing to add and no complaint.
	if n, err := tc.med.x.WrapForNewcomers(ctx, tc.caseID); err != nil || n != 0 {
		t.Fatalf("WrapForNewcomers: %d, %v", n, err)
	}
}

// TestE2EEDocumentRolledBackWrapNoNewcomerWrap (review 394 M2): the
// mediator uploads a document to the joint room, then narrows it to side
// A's caucus; side B gains counsel later. The server serves the old joint
// wrap again (keeping the narrowing's back) and reports the document as
// joint. The mediator's device, on its routine newcomer pass, refuses: it
// pinned the narrowing's wrap, newer than the one served, and signs no
// wrap for side B's counsel (the lying server would have kept it). Told
// the truth, the same device has nothing to add and no complaint.
func TestE2EEDocumentRolledBackWrapNoNewcomerWrap(t *testing.T) {
	t.Parallel()
	tc := seedE2EE(t, nodetest.Embedded(t))
	ctx := context.Background()
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.med, tc.caseID, tc.a.id, tc.b.id)
	d := uploadE2EE(t, tc.med, tc.caseID, "joint", "evidence", []byte("the mediator's note, for everyone at first"))
	var joint api.DocumentKeys
	if err := tc.med.c.Do(ctx, http.MethodGet, "/api/v1/cases/"+tc.caseID+"/documents/"+d.ID+"/keys?version=1", nil, &joint); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.med.x.ShareDocumentE2EE(ctx, tc.caseID, d.ID, "caucus:A", false); err != nil {
		t.Fatal(err)
	}
	counsel := joinCounsel(t, tc, "B", "Casey for Blake")
	signedFor(t, tc.med, tc.caseID, counsel.id)

	old, err := json.Marshal(joint)
	if err != nil {
		t.Fatal(err)
	}
	l := &liar{
		edit: func(r *http.Request, _ *http.Response, body []byte) []byte {
			switch {
			case r.Method != http.MethodGet:
			case strings.HasSuffix(r.URL.Path, "/documents/"+d.ID+"/keys"):
				return old
			case strings.Contains(r.URL.Path, "/documents"):
				return bytes.ReplaceAll(body, []byte(`"audience":"caucus:A"`), []byte(`"audience":"joint"`))
			}
			return body
		},
		swallow: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/documents/"+d.ID+"/keys")
		},
	}
	med := through(tc.med, l)
	n, err := med.WrapForNewcomers(ctx, tc.caseID)
	for _, raw := range l.swallowed() {
		var req api.DocumentKeysRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			t.Fatal(err)
		}
		for _, w := range req.Wraps {
			if k, err := e2ee.DecodeDocKey(w.Wrap); err == nil && slices.Contains(k.Devices(), counsel.x.Me.ID) {
				t.Fatalf("the mediator's device wrapped the narrowed document for side B's new counsel (audience %s)", k.Ctx.Audience)
			}
		}
	}
	if n != 0 || !errors.Is(err, client.ErrWrapRolledBack) {
		t.Fatalf("WrapForNewcomers under a rolled-back wrap: %d wraps, %v", n, err)
	}
	// Told the truth: caucus:A's members all hold a copy; nothing to add.
	if n, err := tc.med.x.WrapForNewcomers(ctx, tc.caseID); err != nil || n != 0 {
		t.Fatalf("WrapForNewcomers: %d, %v", n, err)
	}
	if _, err := readE2EE(counsel, tc.caseID, d.ID); err == nil {
		t.Fatal("side B's counsel read the document narrowed to side A's caucus")
	}
}

// TestE2EEDocumentServerEncryptedAnswerRefused: asked for an end-to-end
// encrypted document, the server drops the Parley-Document-E2EE header
// and serves plaintext of its choosing with a matching digest. The device
// refuses it: the document's record marks the version end-to-end
// encrypted; and when the server also drops that flag, the key wraps it
// holds for the version still do.
func TestE2EEDocumentServerEncryptedAnswerRefused(t *testing.T) {
	t.Parallel()
	tc := seedE2EE(t, nodetest.Embedded(t))
	ctx := context.Background()
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)
	d := uploadE2EE(t, tc.a, tc.caseID, "caucus:A", "evidence", []byte("we accept 40,000"))
	forged := []byte("we accept 4,000")
	for _, dropFlag := range []bool{false, true} {
		l := &liar{edit: func(r *http.Request, resp *http.Response, body []byte) []byte {
			switch {
			case strings.HasSuffix(r.URL.Path, "/documents/"+d.ID+"/content"):
				sum := sha256.Sum256(forged)
				resp.Header.Del(api.DocumentE2EEHeader)
				resp.Header.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
				return forged
			case dropFlag && strings.HasSuffix(r.URL.Path, "/documents/"+d.ID):
				return bytes.ReplaceAll(body, []byte(`"e2ee":true`), []byte(`"e2ee":false`))
			}
			return body
		}}
		dl, err := through(tc.med, l).DownloadDocumentE2EE(ctx, tc.caseID, d.ID, 0)
		if err == nil {
			got, _ := io.ReadAll(dl.Body)
			dl.Body.Close()
			t.Fatalf("the device accepted the server's %q as the end-to-end encrypted document (flag dropped: %v)", got, dropFlag)
		}
		if !errors.Is(err, client.ErrIntegrity) {
			t.Fatalf("flag dropped %v: %v", dropFlag, err)
		}
	}
}

// TestUpgradeKeepsPlaintextHash: a mediator's device that upgrades a
// server-encrypted version with other content of the same size (a lying
// client) does not get it past the parties' devices: the server keeps the
// plaintext SHA-256 recorded at upload, and a device checks the decrypted
// bytes against it. The honest upgrade of another version reads back.
func TestUpgradeKeepsPlaintextHash(t *testing.T) {
	t.Parallel()
	tc := seedE2EE(t, nodetest.Embedded(t))
	ctx := context.Background()
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)
	orig, forged := []byte("we accept 40,000 in full settlement"), []byte("we accept 4,000 in full settlement!")
	d, err := tc.med.c.UploadDocument(ctx, tc.caseID, client.Upload{Name: "offer.txt", Audience: "caucus:A", Class: "evidence",
		Body: bytes.NewReader(orig), Size: int64(len(orig))})
	if err != nil {
		t.Fatal(err)
	}
	devs, _, err := tc.med.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := tc.med.x.Statements(ctx, tc.caseID, devs)
	if err != nil {
		t.Fatal(err)
	}
	sess := e2ee.NewSession(tc.med.x.Me, tc.caseID, chain, devs)
	sess.Now = chain.Latest().People
	key := e2ee.NewDocKey()
	wrap, err := sess.WrapDocKey(d.ID, 1, "caucus:A", e2ee.BindName(d.Name, d.MediaType), key, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	w, err := e2ee.NewStreamWriter(&ct, key, e2ee.StreamBinding{Case: tc.caseID, Doc: d.ID, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(forged)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, tc.med.c.BaseURL+"/api/v1/cases/"+tc.caseID+"/documents/"+d.ID+"/upgrade?version=1", &ct)
	req.Header.Set("Authorization", "Bearer "+tc.med.c.Token)
	req.Header.Set(api.DocumentKeyHeader, base64.RawURLEncoding.EncodeToString(wrap))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("upgrade: HTTP %d", res.StatusCode)
	}
	sum := sha256.Sum256(orig)
	after, err := tc.med.c.Document(ctx, tc.caseID, d.ID)
	if err != nil || after.Versions[0].PlainSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("the upgraded version's plaintext hash: %+v (%v)", after.Versions, err)
	}
	got, err := readE2EE(tc.a, tc.caseID, d.ID)
	if err == nil {
		t.Fatalf("side A's device read %q, not what was uploaded", got)
	}
	if !errors.Is(err, client.ErrIntegrity) {
		t.Fatal(err)
	}
}

// TestE2EEDocumentRelabelledRefused (review finding 1): the server shows
// side A's caucus document "offer.pdf" (their bottom line) as "Hearing
// schedule.pdf" of another type, hoping the mediator shares "the
// schedule" with the joint room. The mediator's device checks the name
// and type against the ones side A's device bound into the keys and
// refuses to share it (signing no wrap for side B's device, which the
// lying server would have kept), to give newcomers keys to it, and to
// download it; told the truth, the same device shares under the name it
// checked and side B's device saves it under that name.
func TestE2EEDocumentRelabelledRefused(t *testing.T) {
	t.Parallel()
	tc := seedE2EE(t, nodetest.Embedded(t))
	ctx := context.Background()
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)
	d := uploadE2EE(t, tc.a, tc.caseID, "caucus:A", "evidence", []byte("side A's bottom line: 40,000"))
	if d.Name != "offer.pdf" || d.MediaType != "application/pdf" {
		t.Fatalf("stored as %q (%s)", d.Name, d.MediaType)
	}
	for _, lie := range [][2]string{{`"name":"offer.pdf"`, `"name":"Hearing schedule.pdf"`}, {`"mediaType":"application/pdf"`, `"mediaType":"text/plain"`}} {
		l := &liar{
			edit: func(r *http.Request, _ *http.Response, body []byte) []byte {
				if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/documents") {
					return bytes.ReplaceAll(body, []byte(lie[0]), []byte(lie[1]))
				}
				return body
			},
			swallow: func(r *http.Request) bool {
				return r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/documents/"+d.ID+"/")
			},
		}
		med := through(tc.med, l)
		if _, err := med.VerifiedName(ctx, tc.caseID, d.ID); !errors.Is(err, client.ErrRelabelled) {
			t.Fatalf("%s: the name check: %v", lie[1], err)
		}
		if _, err := med.ShareDocumentE2EE(ctx, tc.caseID, d.ID, "joint", false); !errors.Is(err, client.ErrRelabelled) {
			t.Fatalf("%s: the share: %v", lie[1], err)
		}
		if _, err := med.WrapForNewcomers(ctx, tc.caseID); !errors.Is(err, client.ErrRelabelled) {
			t.Fatalf("%s: wraps for newcomers: %v", lie[1], err)
		}
		if dl, err := med.DownloadDocumentE2EE(ctx, tc.caseID, d.ID, 0); !errors.Is(err, client.ErrRelabelled) {
			if err == nil {
				dl.Body.Close()
			}
			t.Fatalf("%s: the download: %v", lie[1], err)
		}
		if kept := l.swallowed(); len(kept) != 0 {
			t.Fatalf("%s: the device sent %d writes for the relabelled document", lie[1], len(kept))
		}
	}
	// Told the truth: checked, shared, and side B's device saves it under
	// the name side A's device gave it.
	if nc, err := tc.med.x.VerifiedName(ctx, tc.caseID, d.ID); err != nil || !nc.Verified || nc.Name != "offer.pdf" {
		t.Fatalf("the name check: %+v, %v", nc, err)
	}
	sideAllows(t, tc.med, tc.a, tc.caseID, d.ID, "joint")
	if _, err := tc.med.x.ShareDocumentE2EE(ctx, tc.caseID, d.ID, "joint", false); err != nil {
		t.Fatal(err)
	}
	dl, err := tc.b.x.DownloadDocumentE2EE(ctx, tc.caseID, d.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Body.Close()
	if got, err := io.ReadAll(dl.Body); err != nil || string(got) != "side A's bottom line: 40,000" || dl.Name != "offer.pdf" || !dl.NameVerified || dl.MediaType != "application/pdf" {
		t.Fatalf("side B's download: %q as %q (verified %v), %v", got, dl.Name, dl.NameVerified, err)
	}
	// Side B's copy of the key, made by the mediator's re-wrap, binds the
	// uploader's name: shown another, side B's device refuses too.
	l := &liar{edit: func(r *http.Request, _ *http.Response, body []byte) []byte {
		return bytes.ReplaceAll(body, []byte(`"name":"offer.pdf"`), []byte(`"name":"Hearing schedule.pdf"`))
	}}
	if _, err := through(tc.b, l).DownloadDocumentE2EE(ctx, tc.caseID, d.ID, 0); !errors.Is(err, client.ErrRelabelled) {
		t.Fatalf("side B's device under a relabelling server: %v", err)
	}
}
