package web

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/vault"
)

// The document vault over HTTP. Uploads are the raw request body (what a
// browser's fetch(url, {method: "POST", body: file}) sends), with the
// audience and class in the query and the name in a header, so no part of
// a document is ever buffered whole:
//
//	POST /api/v1/cases/{caseID}/documents?audience=caucus:A&class=evidence
//	Parley-Document-Name: <percent-encoded UTF-8 name>
//	Content-Type: <the document's media type>
//
// The name travels in a header rather than the query because URLs end up
// in proxies' access logs, and a document's name is confidential.
// Downloads stream with Range support and answer with Content-Length: when
// a stored segment fails its integrity check mid-stream the connection is
// cut short, so no client can mistake a partial body for the document, and
// Repr-Digest carries the SHA-256 for clients to check the whole.
const (
	DocumentNameHeader    = api.DocumentNameHeader
	DocumentVersionHeader = api.DocumentVersionHeader
)

func (a *API) vaultRoutes(r chi.Router) {
	r.Get("/documents", a.listDocuments)
	r.Post("/documents", a.uploadDocument)
	r.Get("/documents/upload-options", a.uploadOptions)
	r.Get("/documents/{docID}", a.getDocument)
	r.Post("/documents/{docID}/versions", a.uploadVersion)
	r.Get("/documents/{docID}/content", a.downloadDocument)
	r.Post("/documents/{docID}/share", a.shareDocument)
	r.Get("/share-requests", a.listShareRequests)
	r.Post("/documents/{docID}/share-requests", a.askShare)
	r.Post("/documents/{docID}/share-requests/{requestID}", a.answerShare)
	r.Post("/documents/{docID}/hold", a.holdDocument)
	r.Get("/documents/{docID}/keys", a.documentKeys)
	r.Post("/documents/{docID}/keys", a.addDocumentKeys)
	r.Post("/documents/{docID}/upgrade", a.upgradeDocument)
}

// vaultReady answers 503 on a node assembled without a vault.
func (a *API) vaultReady(w http.ResponseWriter, r *http.Request) bool {
	if a.vault == nil {
		writeProblem(w, r, problem{Type: api.ProblemUnavailable, Title: "The document vault is not configured on this node", Status: http.StatusServiceUnavailable})
		return false
	}
	return true
}

// writeVaultError adds the vault's own failures to writeError's table.
func (a *API) writeVaultError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, vault.ErrIntegrity) {
		a.log.ErrorContext(r.Context(), "document integrity failure", slog.String("request_id", requestID(r.Context())),
			slog.String("document", chi.URLParam(r, "docID")), slog.String("error", err.Error()))
		writeProblem(w, r, problem{Type: api.ProblemIntegrityFailure, Title: "The stored document failed its integrity check",
			Status: http.StatusInternalServerError,
			Detail: "It was altered, truncated or mixed up with another document in storage; the event is in the audit log."})
		return
	}
	a.writeError(w, r, err)
}

func (a *API) listDocuments(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	list, err := a.vault.List(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeVaultError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listOf(list, documentView))
}

func (a *API) getDocument(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	d, err := a.vault.Get(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "docID"))
	if err != nil {
		a.writeVaultError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, documentView(d))
}

// uploadBody checks the declared size against the limit before reading a
// byte, and returns the document's name and media type from the headers.
func (a *API) uploadBody(w http.ResponseWriter, r *http.Request) (name, mediaType string, ok bool) {
	limit := a.vault.MaxSize()
	if r.URL.Query().Get("e2ee") != "" {
		limit = vault.CiphertextSize(limit) // the client's ciphertext of at most MaxSize
	}
	if r.ContentLength > limit {
		w.Header().Set("Connection", "close")
		a.writeError(w, r, fmt.Errorf("document over %d bytes: %w", a.vault.MaxSize(), fault.ErrTooLarge))
		return "", "", false
	}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/") {
		a.writeError(w, r, fault.Invalid("Content-Type", "send the document itself as the body, not a multipart form"))
		return "", "", false
	}
	if h := r.Header.Get(DocumentNameHeader); h != "" {
		n, err := url.PathUnescape(h)
		if err != nil {
			a.writeError(w, r, fault.Invalid(DocumentNameHeader, "percent-encode the name (UTF-8)"))
			return "", "", false
		}
		name = n
	}
	return name, r.Header.Get("Content-Type"), true
}

// uploadFailed answers a failed upload; a body left unread closes the
// connection rather than be drained.
func (a *API) uploadFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, fault.ErrTooLarge) {
		w.Header().Set("Connection", "close")
	}
	a.writeVaultError(w, r, err)
}

func (a *API) uploadDocument(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	name, mt, ok := a.uploadBody(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	aud, err := vault.ParseAudience(q.Get("audience"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	class, err := vault.ParseClass(q.Get("class"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	nd := vault.NewDocument{Name: name, MediaType: mt, Audience: aud, Class: class}
	var d vault.Document
	var store func(io.Reader) (vault.Document, error)
	if q.Get("e2ee") != "" {
		wrap, werr := documentKeyHeader(r)
		if werr != nil {
			a.writeError(w, r, werr)
			return
		}
		// A nonce that does not decode is no nonce: the vault refuses the
		// id with the same words as one that is not derived from it.
		nonce, _ := base64.RawURLEncoding.DecodeString(q.Get(api.DocumentNonceParam))
		store = func(body io.Reader) (vault.Document, error) {
			return a.vault.UploadE2EE(r.Context(), actor, caseID, q.Get("doc"), nonce, nd, wrap, body)
		}
	} else {
		store = func(body io.Reader) (vault.Document, error) {
			return a.vault.Upload(r.Context(), actor, caseID, nd, body)
		}
	}
	d, ok = a.receiveUpload(w, r, store)
	if !ok {
		return
	}
	w.Header().Set("Location", "/api/v1/cases/"+caseID+"/documents/"+d.ID)
	writeJSON(w, http.StatusCreated, documentView(d))
}

func (a *API) uploadVersion(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	name, mt, ok := a.uploadBody(w, r)
	if !ok {
		return
	}
	actor, _ := actorFrom(r.Context())
	d, ok := a.receiveUpload(w, r, func(body io.Reader) (vault.Document, error) {
		return a.vault.AddVersion(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "docID"),
			vault.NewVersion{Name: name, MediaType: mt}, body)
	})
	if !ok {
		return
	}
	writeJSON(w, http.StatusCreated, documentView(d))
}

// rangeError is an unsatisfiable Range header (416).
type rangeError struct{ size int64 }

func (e *rangeError) Error() string { return "range not satisfiable" }

// parseRange reads a single "bytes=" range against a version of size
// bytes. ok is false when the header is to be ignored (several ranges,
// another unit, or not valid syntax — RFC 9110 §14.2): the whole version
// is then served. A valid range that selects nothing is a rangeError.
func parseRange(h string, size int64) (offset, length int64, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, nil
	}
	if first == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, &rangeError{size}
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false, nil
	}
	end := size - 1
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < start {
			return 0, 0, false, nil
		}
		end = min(e, size-1)
	}
	if start >= size {
		return 0, 0, false, &rangeError{size}
	}
	return start, end - start + 1, true, nil
}

func etag(docID string, version int) string { return fmt.Sprintf(`"%s.%d"`, docID, version) }

// contentDisposition makes the attachment header for a name, with an
// ASCII fallback and the exact name in RFC 8187 encoding.
func contentDisposition(name string) string {
	fallback := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '/' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, fallback, rfc8187(name))
}

// rfc8187 percent-encodes every byte of s but RFC 8187's attr-char.
func rfc8187(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func (a *API) downloadDocument(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			a.writeError(w, r, fault.Invalid("version", "a version number from 1"))
			return
		}
		version = n
	}
	docID := chi.URLParam(r, "docID")
	pick := func(v vault.VersionInfo) (int64, int64, error) {
		h := r.Header.Get("Range")
		if h == "" {
			return 0, -1, nil
		}
		// A resumed download of "the latest version" must not splice two
		// versions: If-Range names the version the first part came from.
		if ir := r.Header.Get("If-Range"); ir != "" && ir != etag(docID, v.Version) {
			return 0, -1, nil
		}
		off, n, ok, err := parseRange(h, v.Size)
		if err != nil || !ok {
			return 0, -1, err
		}
		return off, n, nil
	}
	actor, _ := actorFrom(r.Context())
	dl, err := a.vault.Open(r.Context(), actor, chi.URLParam(r, "caseID"), docID, version, pick)
	var re *rangeError
	if errors.As(err, &re) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", re.size))
		writeProblem(w, r, problem{Type: api.ProblemRangeNotSatisfiable, Title: "Range not satisfiable", Status: http.StatusRequestedRangeNotSatisfiable})
		return
	}
	if err != nil {
		a.writeVaultError(w, r, err)
		return
	}
	defer dl.Body.Close()

	// Read (and so authenticate) the first bytes before answering, so a
	// document damaged at its start gets a proper error answer.
	buf := make([]byte, 32<<10)
	n, err := io.ReadFull(dl.Body, buf[:max(1, min(int64(len(buf)), dl.Length))])
	if err != nil && !errors.Is(err, io.EOF) {
		a.writeVaultError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream") // never rendered by the browser
	h.Set("Content-Disposition", contentDisposition(dl.Version.Name))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", etag(docID, dl.Version.Version))
	h.Set(DocumentVersionHeader, strconv.Itoa(dl.Version.Version))
	if dl.Version.E2EE {
		h.Set(api.DocumentE2EEHeader, "1")
		if dl.Version.PlainSHA256 != "" {
			h.Set(api.DocumentPlainSHA256Header, dl.Version.PlainSHA256)
		}
	}
	if sum, err := hex.DecodeString(dl.Version.SHA256); err == nil {
		h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	}
	h.Set("Content-Length", strconv.FormatInt(dl.Length, 10))
	status := http.StatusOK
	if !dl.Verified {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", dl.Offset, dl.Offset+dl.Length-1, dl.Size))
	}
	w.WriteHeader(status)
	if _, err := w.Write(buf[:n]); err != nil {
		return
	}
	if _, err := io.CopyBuffer(w, dl.Body, buf); err != nil {
		// Returning with fewer bytes written than Content-Length makes the
		// server drop the connection: the client sees a truncated body,
		// never a complete-looking wrong one.
		if errors.Is(err, vault.ErrIntegrity) {
			a.log.ErrorContext(r.Context(), "document integrity failure mid-stream", slog.String("request_id", requestID(r.Context())),
				slog.String("document", docID), slog.String("error", err.Error()))
		}
		return
	}
}

func (a *API) shareDocument(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	var req api.ShareRequest
	if err := decodeJSONMax(w, r, &req, maxWrapsBody); err != nil {
		a.writeError(w, r, err)
		return
	}
	dry := req.DryRun
	if v := r.URL.Query().Get("dryRun"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			a.writeError(w, r, fault.Invalid("dryRun", "true or false"))
			return
		}
		dry = dry || b
	}
	to, err := vault.ParseAudience(req.Audience)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	res, err := a.vault.ShareWithKeys(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "docID"), to, dry, versionWraps(req.Wraps))
	if err != nil {
		a.writeDocE2EEError(w, r, err)
		return
	}
	out := shareView(res)
	if dry && res.Changed {
		if out.Invited, err = a.invitedGaining(r, chi.URLParam(r, "docID"), to); err != nil {
			a.writeVaultError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) holdDocument(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	var req api.HoldRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.On == nil {
		a.writeError(w, r, fault.Invalid("on", "required: true to place the hold, false to release it"))
		return
	}
	actor, _ := actorFrom(r.Context())
	caseID, docID := chi.URLParam(r, "caseID"), chi.URLParam(r, "docID")
	var d vault.Document
	var err error
	if a.retention != nil {
		// One model: a document hold is a legal hold with its reason and
		// authority, listed with the case's holds.
		d, err = a.retention.HoldDocument(r.Context(), actor, caseID, docID, *req.On, req.Reason, req.Authority)
	} else {
		d, err = a.vault.SetHold(r.Context(), actor, caseID, docID, *req.On)
	}
	if err != nil {
		a.writeVaultError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, documentView(d))
}

// A side's own caucus documents are shared wider only once a party or
// lawyer of the side allowed exactly that share (vault/approval.go): the
// mediator asks, the side answers, the mediator's share then goes through.

func (a *API) listShareRequests(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	actor, _ := actorFrom(r.Context())
	list, err := a.vault.ShareRequests(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeVaultError(w, r, err)
		return
	}
	out := make(api.List[api.DocShareRequest], 0, len(list))
	for _, sa := range list {
		out = append(out, shareRequestView(sa))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) askShare(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	var req api.DocShareAsk
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	to, err := vault.ParseAudience(req.Audience)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	sa, err := a.vault.RequestShare(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "docID"), to)
	if err != nil {
		a.writeVaultError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, shareRequestView(sa))
}

func (a *API) answerShare(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	var req api.DocShareAnswer
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Allow == nil {
		a.writeError(w, r, fault.Invalid("allow", "required: true to allow the share, false to decline it"))
		return
	}
	actor, _ := actorFrom(r.Context())
	sa, err := a.vault.DecideShareRequest(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "docID"), chi.URLParam(r, "requestID"),
		vault.ShareAnswer{Allow: *req.Allow, Device: req.Device, SignedAt: req.SignedAt, Signature: req.Signature})
	if err != nil {
		a.writeVaultError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, shareRequestView(sa))
}
