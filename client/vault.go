package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/parley-mediation/parley/api"
)

// ErrIntegrity: a downloaded document did not match its recorded size and
// SHA-256, or the server cut the download short (which it does when stored
// ciphertext fails its integrity check mid-stream). The bytes read so far
// must be thrown away.
var ErrIntegrity = errors.New("document integrity check failed")

// streaming is c.HTTP without its overall timeout: a 2 GiB document takes
// longer than any sensible request timeout. Context cancellation still
// ends it.
func (c *Client) streaming() *http.Client {
	h := *c.HTTP
	h.Timeout = 0
	return &h
}

func (c *Client) send(ctx context.Context, req *http.Request, ok ...int) (*http.Response, error) {
	req = req.WithContext(ctx)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := c.streaming().Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", c.BaseURL, err)
	}
	for _, s := range ok {
		if res.StatusCode == s {
			return res, nil
		}
	}
	defer res.Body.Close()
	e := &Error{Status: res.StatusCode}
	json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&e.Problem)
	return nil, e
}

func docsPath(caseID string) string { return "/api/v1/cases/" + url.PathEscape(caseID) + "/documents" }

func docPath(caseID, docID string) string { return docsPath(caseID) + "/" + url.PathEscape(docID) }

// Upload describes a document to upload.
type Upload struct {
	Name      string
	MediaType string // "" for application/octet-stream (or, for a new version, the previous type)
	Audience  string // joint, caucus:<side>, mediators, user:<account>[,…] (new documents)
	Class     string // new documents
	Body      io.Reader
	Size      int64 // -1 if unknown; known sizes let the server refuse an oversized upload at once
}

func (c *Client) upload(ctx context.Context, path string, u Upload) (api.Document, error) {
	body := u.Body
	if u.Size == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequest(http.MethodPost, c.BaseURL+path, body)
	if err != nil {
		return api.Document{}, err
	}
	req.ContentLength = u.Size
	if u.Name != "" {
		req.Header.Set(api.DocumentNameHeader, url.PathEscape(u.Name))
	}
	if u.MediaType != "" {
		req.Header.Set("Content-Type", u.MediaType)
	}
	return decodeDocument(c.send(ctx, req, http.StatusCreated))
}

func decodeDocument(res *http.Response, err error) (api.Document, error) {
	if err != nil {
		return api.Document{}, err
	}
	defer res.Body.Close()
	var d api.Document
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		return api.Document{}, fmt.Errorf("unexpected answer from server: %w", err)
	}
	return d, nil
}

// UploadDocument streams a new document to the case.
func (c *Client) UploadDocument(ctx context.Context, caseID string, u Upload) (api.Document, error) {
	q := url.Values{"audience": {u.Audience}, "class": {u.Class}}
	return c.upload(ctx, docsPath(caseID)+"?"+q.Encode(), u)
}

// UploadVersion streams a new version of a document.
func (c *Client) UploadVersion(ctx context.Context, caseID, docID string, u Upload) (api.Document, error) {
	return c.upload(ctx, docPath(caseID, docID)+"/versions", u)
}

// Documents lists the case's documents the caller may see.
func (c *Client) Documents(ctx context.Context, caseID string) ([]api.Document, error) {
	var out []api.Document
	err := c.Do(ctx, http.MethodGet, docsPath(caseID), nil, &out)
	return out, err
}

// Document returns one document's metadata with its versions.
func (c *Client) Document(ctx context.Context, caseID, docID string) (api.Document, error) {
	var out api.Document
	err := c.Do(ctx, http.MethodGet, docPath(caseID, docID), nil, &out)
	return out, err
}

// ShareDocument shares a document with another audience, or with dryRun
// only reports who would gain and lose access.
func (c *Client) ShareDocument(ctx context.Context, caseID, docID, audience string, dryRun bool) (api.ShareResult, error) {
	var out api.ShareResult
	err := c.Do(ctx, http.MethodPost, docPath(caseID, docID)+"/share",
		api.ShareRequest{Audience: audience, DryRun: dryRun}, &out)
	return out, err
}

// AskToShare asks the side whose caucus holds a document its party or
// lawyer added to allow sharing it with audience (mediators). Until one of
// them allows exactly that share, ShareDocument to that audience is
// refused (403); a dry run says so (ShareResult.NeedsApproval).
func (c *Client) AskToShare(ctx context.Context, caseID, docID, audience string) (api.DocShareRequest, error) {
	var out api.DocShareRequest
	err := c.Do(ctx, http.MethodPost, docPath(caseID, docID)+"/share-requests", api.DocShareAsk{Audience: audience}, &out)
	return out, err
}

// ShareRequests lists the case's requests to share a side's documents: a
// mediator's every one, a party's or lawyer's those of their side.
func (c *Client) ShareRequests(ctx context.Context, caseID string) ([]api.DocShareRequest, error) {
	var out []api.DocShareRequest
	err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+url.PathEscape(caseID)+"/share-requests", nil, &out)
	return out, err
}

// PostShareAnswer sends an answer to a share request as it is (signed by
// ShareAnswer, or not: the server refuses an unsigned one).
func (c *Client) PostShareAnswer(ctx context.Context, caseID, docID, requestID string, ans api.DocShareAnswer) (api.DocShareRequest, error) {
	var out api.DocShareRequest
	err := c.Do(ctx, http.MethodPost, docPath(caseID, docID)+"/share-requests/"+url.PathEscape(requestID), ans, &out)
	return out, err
}

// HoldDocument places (on) or releases a legal hold.
func (c *Client) HoldDocument(ctx context.Context, caseID, docID string, on bool, reason, authority string) (api.Document, error) {
	var out api.Document
	err := c.Do(ctx, http.MethodPost, docPath(caseID, docID)+"/hold", api.HoldRequest{On: &on, Reason: reason, Authority: authority}, &out)
	return out, err
}

// Download is a document being downloaded. Body checks the whole body
// against the server's Repr-Digest and Content-Length: its last Read
// returns ErrIntegrity instead of io.EOF if they do not match, or if the
// server cut the body short. The caller closes Body.
type Download struct {
	Name    string
	Version int
	// MediaType and NameVerified: from E2EE.DownloadDocumentE2EE, the
	// version's name (Name) and media type as the document's record shows
	// them, checked against the ones its uploader's device bound into the
	// keys; NameVerified false for a version encrypted before names were
	// bound (the name is then the server's word).
	MediaType    string
	NameVerified bool
	Size         int64 // bytes in this answer
	SHA256       []byte
	Body         io.ReadCloser
	// E2EE: the version is end-to-end encrypted. From DownloadDocument,
	// Body is then its ciphertext; from E2EE.DownloadDocumentE2EE, the
	// plaintext, with CipherSHA256 the ciphertext's checked hash (SHA256
	// is then nil: the server never knew the plaintext's).
	E2EE         bool
	CipherSHA256 []byte
	// PlainSHA256: for a version upgraded to end-to-end encryption, its
	// plaintext's SHA-256 as recorded at its original upload (checked by
	// DownloadDocumentE2EE after decrypting).
	PlainSHA256 []byte
}

// DownloadDocument opens version (0: the latest) of a document.
func (c *Client) DownloadDocument(ctx context.Context, caseID, docID string, version int) (*Download, error) {
	path := docPath(caseID, docID) + "/content"
	if version > 0 {
		path += "?version=" + strconv.Itoa(version)
	}
	req, err := http.NewRequest(http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.send(ctx, req, http.StatusOK)
	if err != nil {
		return nil, err
	}
	d := &Download{Size: res.ContentLength}
	d.Version, _ = strconv.Atoi(res.Header.Get(api.DocumentVersionHeader))
	d.E2EE = res.Header.Get(api.DocumentE2EEHeader) == "1"
	if h := res.Header.Get(api.DocumentPlainSHA256Header); h != "" {
		if d.PlainSHA256, err = hex.DecodeString(h); err != nil || len(d.PlainSHA256) != sha256.Size {
			res.Body.Close()
			return nil, fmt.Errorf("%w: the server sent a malformed plaintext digest", ErrIntegrity)
		}
	}
	if _, params, err := mime.ParseMediaType(res.Header.Get("Content-Disposition")); err == nil {
		d.Name = params["filename"] // mime decodes filename* into filename
	}
	if dg, ok := strings.CutPrefix(res.Header.Get("Repr-Digest"), "sha-256=:"); ok {
		d.SHA256, _ = base64.StdEncoding.DecodeString(strings.TrimSuffix(dg, ":"))
	}
	if len(d.SHA256) != sha256.Size || d.Size < 0 {
		res.Body.Close()
		return nil, fmt.Errorf("%w: the server sent no digest or length to check the download against", ErrIntegrity)
	}
	d.Body = &verifying{r: res.Body, h: sha256.New(), want: d.SHA256, size: d.Size}
	return d, nil
}

type verifying struct {
	r    io.ReadCloser
	h    hash.Hash
	want []byte
	size int64
	n    int64
}

func (v *verifying) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		if v.n != v.size || !bytes.Equal(v.h.Sum(nil), v.want) {
			return n, fmt.Errorf("%w: got %d of %d bytes, or they differ from the document's SHA-256", ErrIntegrity, v.n, v.size)
		}
	case err != nil:
		return n, fmt.Errorf("%w: the download was cut short after %d of %d bytes (%v)", ErrIntegrity, v.n, v.size, err)
	}
	return n, err
}

func (v *verifying) Close() error { return v.r.Close() }
