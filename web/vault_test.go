package web_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/objstore/storetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/vault"
)

// vaultCast is a case on a running node with a signed-in client for every
// role of the authorization matrix.
type vaultCast struct {
	node   *nodetest.Node
	caseID string
	as     map[string]*client.Client
	id     map[string]string
	devs   map[string]*client.E2EE // registered devices, made by device
}

// device is who's device, made and registered the first time it is asked
// for (for a party, their account's first device: one of their own).
func (k *vaultCast) device(t *testing.T, who string) *client.E2EE {
	t.Helper()
	if x, ok := k.devs[who]; ok {
		return x
	}
	x := newRegisteredDevice(t, k.as[who], k.id[who])
	k.devs[who] = x
	return x
}

func newRegisteredDevice(t *testing.T, c *client.Client, account string) *client.E2EE {
	t.Helper()
	dir := t.TempDir()
	if _, err := client.InitDevice(dir, account, e2ee.KEMX25519); err != nil {
		t.Fatal(err)
	}
	x, err := c.E2EE(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Register(t.Context()); err != nil {
		t.Fatal(err)
	}
	return x
}

func newVaultCast(t *testing.T, n *nodetest.Node) *vaultCast {
	t.Helper()
	ctx := t.Context()
	k := &vaultCast{node: n, as: map[string]*client.Client{}, id: map[string]string{}, devs: map[string]*client.E2EE{}}
	for who, role := range map[string]policy.Role{"mediator": policy.RoleMediator, "recused": policy.RoleMediator, "records": policy.RoleRecords, "admin": policy.RoleAdmin} {
		a, c := n.Staff(t, role, who+"@example.org")
		k.as[who], k.id[who] = c, a.ID
	}
	med := k.as["mediator"]
	c, err := med.CreateCase(ctx, "Vault v. HTTP", "commercial", "", []string{"Buyer", "Seller"})
	if err != nil {
		t.Fatal(err)
	}
	k.caseID = c.ID
	for who, inv := range map[string][2]string{"partyA": {"party", "A"}, "partyB": {"party", "B"}, "counselA": {"counsel", "A"}, "observer": {"observer", ""}} {
		link, err := med.Invite(ctx, c.ID, inv[0], inv[1], "Person "+who, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pc := client.New(n.URL, "")
		s, err := pc.Join(ctx, link.Link)
		if err != nil {
			t.Fatal(err)
		}
		k.as[who], k.id[who] = pc, s.Account.ID
	}
	// The co-mediator joins once the people are in: a case with two
	// mediators and no signed membership yet takes no invitation from
	// either (cases.ErrNotOpenYet).
	if _, err := med.CaseAction(ctx, c.ID, "mediators", map[string]string{"accountId": k.id["recused"]}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.as["recused"].CaseAction(ctx, c.ID, "recusals", map[string]string{"reason": "conflict"}); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *vaultCast) upload(t *testing.T, who, name, audience, class string, content []byte) api.Document {
	t.Helper()
	d, err := k.as[who].UploadDocument(t.Context(), k.caseID, client.Upload{Name: name, MediaType: "text/plain; charset=utf-8",
		Audience: audience, Class: class, Body: bytes.NewReader(content), Size: int64(len(content))})
	if err != nil {
		t.Fatalf("upload %s as %s: %v", name, who, err)
	}
	return d
}

func status(err error) int {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	if err != nil {
		return -1
	}
	return 200
}

// TestVaultMatrixOverHTTP is a slice of the vault's authorization matrix
// (vault/matrix_test.go has all of it), through the real HTTP API: every
// refusal is a 403 or 404 problem, every permission works end to end.
func TestVaultMatrixOverHTTP(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	ctx := t.Context()
	auds := []string{"joint", "caucus:A", "mediators"}
	// L list, M metadata, D download, U new version, S share, H hold.
	want := map[string][3]string{
		//           joint   caucus:A  mediators
		"mediator": {"LMDUS", "LMDUS", "LMDUS"},
		"recused":  {"", "", ""},
		"records":  {"LMH", "LMH", "LMH"},
		"admin":    {"", "", ""},
		"partyA":   {"LMD", "LMDU", ""},
		"counselA": {"LMD", "LMDU", ""},
		"partyB":   {"LMD", "", ""},
		"observer": {"LMD", "", ""},
	}
	docs := map[string]api.Document{}
	for _, aud := range auds {
		docs[aud] = k.upload(t, "mediator", "Memo for "+aud+".txt", aud, "evidence", []byte("memo "+aud))
	}
	var wrong []string
	for who, row := range want {
		c := k.as[who]
		list, listErr := c.Documents(ctx, k.caseID)
		for i, aud := range auds {
			d := docs[aud]
			results := map[byte]error{}
			results['L'] = listErr
			if listErr == nil && !slices.ContainsFunc(list, func(x api.Document) bool { return x.ID == d.ID }) {
				results['L'] = &client.Error{Status: 404}
			}
			_, results['M'] = c.Document(ctx, k.caseID, d.ID)
			dl, err := c.DownloadDocument(ctx, k.caseID, d.ID, 1) // others add versions meanwhile
			if err == nil {
				var got []byte
				got, err = io.ReadAll(dl.Body)
				dl.Body.Close()
				if err == nil && string(got) != "memo "+aud {
					err = errors.New("wrong content")
				}
			}
			results['D'] = err
			_, results['S'] = c.ShareDocument(ctx, k.caseID, d.ID, "joint", true)
			if _, err := c.HoldDocument(ctx, k.caseID, d.ID, true, "Subpoena", "Order 2026-114"); err == nil {
				c.HoldDocument(ctx, k.caseID, d.ID, false, "Order lifted", "")
				results['H'] = nil
			} else {
				results['H'] = err
			}
			_, results['U'] = c.UploadVersion(ctx, k.caseID, d.ID, client.Upload{Body: strings.NewReader("v"), Size: 1})
			for _, letter := range []byte("LMDSHU") {
				allowed := strings.IndexByte(row[i], letter) >= 0
				st := status(results[letter])
				if allowed && st != 200 || !allowed && st != 403 && st != 404 {
					wrong = append(wrong, fmt.Sprintf("%s %s %c: status %d (%v), want allowed=%v", who, aud, letter, st, results[letter], allowed))
				}
			}
		}
	}
	slices.Sort(wrong)
	if len(wrong) > 0 {
		t.Fatalf("%d answers differ from the table:\n%s", len(wrong), strings.Join(wrong, "\n"))
	}
}

func rawRequest(t *testing.T, method, url, token string, body io.Reader, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func problemOf(t *testing.T, res *http.Response) api.Problem {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d with Content-Type %q, want a problem", res.StatusCode, ct)
	}
	var p api.Problem
	json.NewDecoder(res.Body).Decode(&p)
	return p
}

func TestVaultUploadLimits(t *testing.T) {
	const limit = 200_000
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), MaxDocumentSize: limit})
	k := newVaultCast(t, n)
	base := n.URL + "/api/v1/cases/" + k.caseID + "/documents?audience=joint&class=evidence"
	name := map[string]string{api.DocumentNameHeader: url.PathEscape("big.bin")}

	// A declared length over the limit is refused before any byte is read.
	res := rawRequest(t, http.MethodPost, base, k.as["mediator"].Token, io.LimitReader(rand.Reader, limit+1), name)
	if res.StatusCode != http.StatusRequestEntityTooLarge || problemOf(t, res).Type != "urn:parley:problem:too-large" {
		t.Fatalf("declared oversize: %d", res.StatusCode)
	}
	// A streamed (chunked) body is cut off when it passes the limit.
	res = rawRequest(t, http.MethodPost, base, k.as["mediator"].Token, struct{ io.Reader }{io.LimitReader(rand.Reader, 3*limit)}, name)
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("streamed oversize: %d", res.StatusCode)
	}
	// Nothing half-written is visible.
	if l, err := k.as["mediator"].Documents(t.Context(), k.caseID); err != nil || len(l) != 0 {
		t.Fatalf("after refused uploads: %v %v", l, err)
	}
	var left []string
	n.Store.List(t.Context(), "docs/", func(i objstore.Info) error { left = append(left, i.Key); return nil })
	if len(left) != 0 {
		t.Fatalf("refused uploads left objects %v", left)
	}
	// Exactly the limit, streamed, is fine; so is a multipart form refused.
	res = rawRequest(t, http.MethodPost, base, k.as["mediator"].Token, struct{ io.Reader }{io.LimitReader(rand.Reader, limit)}, name)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("upload at the limit: %d %+v", res.StatusCode, problemOf(t, res))
	}
	res = rawRequest(t, http.MethodPost, base, k.as["mediator"].Token, strings.NewReader("x"),
		map[string]string{api.DocumentNameHeader: "a", "Content-Type": "multipart/form-data; boundary=x"})
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("multipart upload: %d", res.StatusCode)
	}
	// The name is required, and comes back exactly, Unicode and all.
	res = rawRequest(t, http.MethodPost, base, k.as["mediator"].Token, strings.NewReader("x"), nil)
	if res.StatusCode != http.StatusBadRequest || problemOf(t, res).Errors[0].Field != "name" {
		t.Fatalf("upload without a name: %d", res.StatusCode)
	}
}

func TestVaultDownloadOverHTTP(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	content := make([]byte, 3*vault.SegmentSize+777)
	rand.Read(content)
	const name = "Ōkafor — witness statement \"final\".pdf"
	d := k.upload(t, "mediator", name, "caucus:A", "evidence", content)
	url := n.URL + "/api/v1/cases/" + k.caseID + "/documents/" + d.ID + "/content"
	tok := k.as["partyA"].Token

	res := rawRequest(t, http.MethodGet, url, tok, nil, nil)
	body, err := io.ReadAll(res.Body)
	sum := sha256.Sum256(content)
	if err != nil || res.StatusCode != 200 || !bytes.Equal(body, content) {
		t.Fatalf("whole download: %d %v", res.StatusCode, err)
	}
	for h, want := range map[string]string{
		"Content-Type":            "application/octet-stream",
		"Repr-Digest":             "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":",
		api.DocumentVersionHeader: "1",
		"Accept-Ranges":           "bytes",
		"Content-Length":          fmt.Sprint(len(content)),
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "sandbox; default-src 'none'",
		"Content-Disposition":     `attachment; filename="_kafor _ witness statement _final_.pdf"; filename*=UTF-8''%C5%8Ckafor%20%E2%80%94%20witness%20statement%20%22final%22.pdf`,
	} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	dl, err := k.as["partyA"].DownloadDocument(t.Context(), k.caseID, d.ID, 0)
	if err != nil || dl.Name != name {
		t.Fatalf("client sees name %q (%v)", dl.Name, err)
	}
	dl.Body.Close()
	for _, odd := range []string{"a;b=c, (d) 'e'.pdf", "100% *sure* @home:now.txt", `back\slash "quoted".txt`} {
		od := k.upload(t, "mediator", odd, "joint", "evidence", []byte("x"))
		dl, err := k.as["observer"].DownloadDocument(t.Context(), k.caseID, od.ID, 0)
		if err != nil || dl.Name != odd {
			t.Fatalf("name %q came back as %q (%v)", odd, dl.Name, err)
		}
		dl.Body.Close()
	}

	// Ranges decrypt only what they need and answer 206.
	etag := res.Header.Get("ETag")
	for rg, want := range map[string][2]int{
		"bytes=0-9":         {0, 10},
		"bytes=65530-65545": {65530, 16},
		"bytes=-100":        {len(content) - 100, 100},
		"bytes=131072-":     {131072, len(content) - 131072},
	} {
		res := rawRequest(t, http.MethodGet, url, tok, nil, map[string]string{"Range": rg, "If-Range": etag})
		got, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusPartialContent || !bytes.Equal(got, content[want[0]:want[0]+want[1]]) {
			t.Fatalf("%s: %d %v (%d bytes)", rg, res.StatusCode, err, len(got))
		}
		if cr := fmt.Sprintf("bytes %d-%d/%d", want[0], want[0]+want[1]-1, len(content)); res.Header.Get("Content-Range") != cr {
			t.Fatalf("%s: Content-Range %q, want %q", rg, res.Header.Get("Content-Range"), cr)
		}
	}
	res = rawRequest(t, http.MethodGet, url, tok, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(content))})
	if res.StatusCode != http.StatusRequestedRangeNotSatisfiable || res.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(content)) {
		t.Fatalf("unsatisfiable range: %d %q", res.StatusCode, res.Header.Get("Content-Range"))
	}
	// A stale If-Range (another version) gets the whole current version.
	res = rawRequest(t, http.MethodGet, url, tok, nil, map[string]string{"Range": "bytes=0-9", "If-Range": `"` + d.ID + `.7"`})
	if got, _ := io.ReadAll(res.Body); res.StatusCode != 200 || len(got) != len(content) {
		t.Fatalf("stale If-Range: %d", res.StatusCode)
	}

	// Tampering: damage at the start is a clear problem before any byte;
	// damage later cuts the stream short, which the client reports.
	key := "docs/" + k.caseID + "/" + d.ID + "/1"
	orig := storetest.ReadObject(t, n.Store, key)
	storetest.WriteObject(t, n.Store, key, flipAt(orig, vault.HeaderSize+10))
	res = rawRequest(t, http.MethodGet, url, tok, nil, nil)
	if res.StatusCode != 500 || problemOf(t, res).Type != api.ProblemTypeBase+string(api.ProblemIntegrityFailure) {
		t.Fatalf("damaged first segment: %d", res.StatusCode)
	}
	storetest.WriteObject(t, n.Store, key, flipAt(orig, len(orig)-5))
	dl, err = k.as["partyA"].DownloadDocument(t.Context(), k.caseID, d.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(dl.Body)
	dl.Body.Close()
	if !errors.Is(err, client.ErrIntegrity) || len(got) >= len(content) {
		t.Fatalf("damaged last segment: %d bytes, err %v", len(got), err)
	}
}

func flipAt(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 1
	return out
}

func TestVaultShareOverHTTP(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	d := k.upload(t, "mediator", "Offer.txt", "caucus:A", "correspondence", []byte("offer"))
	url := n.URL + "/api/v1/cases/" + k.caseID + "/documents/" + d.ID + "/share"
	res := rawRequest(t, http.MethodPost, url+"?dryRun=true", k.as["mediator"].Token, strings.NewReader(`{"audience":"joint"}`),
		map[string]string{"Content-Type": "application/json"})
	var preview api.ShareResult
	if err := json.NewDecoder(res.Body).Decode(&preview); err != nil || res.StatusCode != 200 {
		t.Fatalf("preview: %d %v", res.StatusCode, err)
	}
	var gaining []string
	for _, p := range preview.Gaining {
		gaining = append(gaining, p.Name)
	}
	slices.Sort(gaining)
	if !preview.DryRun || !slices.Equal(gaining, []string{"Person observer", "Person partyB"}) {
		t.Fatalf("preview: %+v", preview)
	}
	if _, err := k.as["partyB"].Document(t.Context(), k.caseID, d.ID); status(err) != 404 {
		t.Fatalf("party B before the share: %v", err)
	}
	res2, err := k.as["mediator"].ShareDocument(t.Context(), k.caseID, d.ID, "joint", false)
	if err != nil || res2.DryRun || len(res2.Gaining) != 2 {
		t.Fatalf("share: %+v %v", res2, err)
	}
	if _, err := k.as["partyB"].Document(t.Context(), k.caseID, d.ID); err != nil {
		t.Fatalf("party B after the share: %v", err)
	}
	// Bad audiences are named.
	_, err = k.as["mediator"].ShareDocument(t.Context(), k.caseID, d.ID, "everyone", false)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 400 || ce.Problem.Errors[0].Field != "audience" {
		t.Fatalf("bad audience: %v", err)
	}
}

func TestVaultRangeHeaderParsing(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	d := k.upload(t, "mediator", "r.txt", "joint", "evidence", []byte("0123456789"))
	url := n.URL + "/api/v1/cases/" + k.caseID + "/documents/" + d.ID + "/content"
	for h, want := range map[string]struct {
		status int
		body   string
	}{
		"bytes=2-4":     {206, "234"},
		"bytes=8-100":   {206, "89"},
		"bytes=-3":      {206, "789"},
		"bytes=-30":     {200, "0123456789"}, // the whole document: a plain 200
		"bytes=0-0,5-6": {200, "0123456789"}, // several ranges: ignored
		"bytes=abc":     {200, "0123456789"}, // invalid: ignored
		"bytes=5-2":     {200, "0123456789"},
		"items=0-1":     {200, "0123456789"},
		"bytes=10-":     {416, ""},
		"bytes=-0":      {416, ""},
	} {
		res := rawRequest(t, http.MethodGet, url, k.as["observer"].Token, nil, map[string]string{"Range": h})
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != want.status || (want.status != 416 && string(body) != want.body) {
			t.Errorf("Range %q: %d %q, want %d %q", h, res.StatusCode, body, want.status, want.body)
		}
	}
}

// TestUploadLimitsAreTheirOwnProblems: a document refused because its
// case holds the most documents one case holds, and a version refused
// because its document holds the most versions, are 409 problems of types
// of their own (document-limit, version-limit), so a client can say which
// limit was met rather than "it changed meanwhile"; the detail names the
// limit in words. Before, both were the generic conflict.
func TestUploadLimitsAreTheirOwnProblems(t *testing.T) {
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	k := newVaultCast(t, n)
	ctx := t.Context()
	token := k.as["mediator"].Token
	docs := n.URL + "/api/v1/cases/" + k.caseID + "/documents"
	name := map[string]string{api.DocumentNameHeader: "Offer.pdf"}
	res := rawRequest(t, http.MethodPost, docs+"?audience=joint&class=evidence", token, strings.NewReader("v1"), name)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %+v", res.StatusCode, problemOf(t, res))
	}
	var d api.Document
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	for v := 2; v <= vault.MaxVersionsPerDocument; v++ {
		if res := rawRequest(t, http.MethodPost, docs+"/"+d.ID+"/versions", token, strings.NewReader(fmt.Sprint("v", v)), name); res.StatusCode != http.StatusCreated {
			t.Fatalf("version %d: %d %+v", v, res.StatusCode, problemOf(t, res))
		}
	}
	res = rawRequest(t, http.MethodPost, docs+"/"+d.ID+"/versions", token, strings.NewReader("one too many"), name)
	p := problemOf(t, res)
	if res.StatusCode != http.StatusConflict || p.Type != api.ProblemTypeBase+string(api.ProblemVersionLimit) ||
		!strings.HasPrefix(p.Detail, "this document already has 100 versions") || strings.Contains(p.Detail, "version limit") {
		t.Fatalf("version past the limit: %d %+v", res.StatusCode, p)
	}

	// The case's other places taken by uploads under way (place claims,
	// vault/<case>/pending/<doc>, as an upload writes them before it
	// creates its document): the next document is refused.
	claims := make(chan int)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			var err error
			for i := range claims {
				if err == nil {
					_, err = n.Meta.Create(ctx, fmt.Sprintf("vault/%s/pending/d_claim%d", k.caseID, i), map[string]any{"at": time.Now().UTC()})
				}
			}
			errs <- err
		}()
	}
	for i := range vault.MaxDocumentsPerCase - 1 {
		claims <- i
	}
	close(claims)
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	res = rawRequest(t, http.MethodPost, docs+"?audience=joint&class=evidence", token, strings.NewReader("late"), name)
	p = problemOf(t, res)
	if res.StatusCode != http.StatusConflict || p.Type != api.ProblemTypeBase+string(api.ProblemDocumentLimit) ||
		!strings.HasPrefix(p.Detail, "this case already has 1,000 documents") || strings.Contains(p.Detail, "document limit") {
		t.Fatalf("document past the limit: %d %+v", res.StatusCode, p)
	}
}
