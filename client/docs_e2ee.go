package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

// End-to-end encrypted documents (docs/security.md, "Documents end to
// end"): this device encrypts a version in the vault's stream format under
// a fresh content key bound to (case, document, version), wraps the key for
// the devices of the audience after checking the case's signed membership
// chain, and uploads ciphertext and wrap; the server adds its own envelope
// and never sees the key. Downloads check the ciphertext's size and
// SHA-256 as the server recorded them at upload, then every segment's
// AEAD tag and the final-segment flag while decrypting (and, for an
// upgraded version, the plaintext's SHA-256 recorded at its upload); a
// server-encrypted answer for a version the document's record or its
// wraps mark end-to-end encrypted is refused. Wraps for newcomers keep
// the audience the verified wrap names, whatever the server reports, and
// only from a wrap no older than the newest this device opened or made
// of that version (docWrapsFile: one served again from before a narrowing
// is refused, ErrWrapRolledBack).
//
// Names: the uploading device binds the version's name and media type
// into its key wrap (e2ee.BindName); every key this device opens is
// checked against the name and type the server shows for that version
// (e2ee.ErrRelabelled otherwise: nothing is downloaded, shared or
// wrapped), and every re-wrap carries the binding of the wrap it opened.
// Versions wrapped before names were bound open with NameVerified false.

// ErrNoDocKey: no device that holds this document's key has wrapped it for
// this device yet (a mediator's device does, with `parley doc keys`).
var ErrNoDocKey = e2ee.ErrNoDocKey

// ErrRelabelled: the server shows an end-to-end encrypted version under
// another name or media type than its uploader's device bound into its
// keys; nothing is downloaded, shared or wrapped.
var ErrRelabelled = e2ee.ErrRelabelled

// canonicalAudience is an audience's text form as the server writes it
// (named accounts sorted and distinct), which wraps must name exactly.
func canonicalAudience(a string) string {
	a = strings.TrimSpace(a)
	_, list, ok := strings.Cut(a, ":")
	if !ok || !(strings.HasPrefix(a, "user:") || strings.HasPrefix(a, "users:")) {
		return a
	}
	var users []string
	for u := range strings.SplitSeq(list, ",") {
		u = strings.TrimPrefix(strings.TrimSpace(u), "user:")
		if !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	slices.Sort(users)
	return "user:" + strings.Join(users, ",")
}

// docSession verifies the case's devices and membership chain, and sets
// the case's people as the server's case record lists them now (Now: the
// people of the statement a mediator's device would sign next, mediators
// no statement admits yet left out). A document key is wrapped only under
// a latest statement that agrees with them for its audience
// (e2ee.Session.InForce): a co-mediator recused since, and not yet signed
// out, gets no copy.
func (x *E2EE) docSession(ctx context.Context, caseID string) (*e2ee.Session, error) {
	devs, _, err := x.CaseDevices(ctx, caseID)
	if err != nil {
		return nil, err
	}
	chain, err := x.Statements(ctx, caseID, devs)
	if err != nil {
		return nil, err
	}
	c, err := x.C.Case(ctx, caseID)
	if err != nil {
		return nil, err
	}
	sess := x.newSession(caseID, chain, devs)
	people, _ := peopleOf(c)
	sess.Now, _ = newMediators(chain.Latest(), people, "", "")
	if sess.Now == nil {
		sess.Now = []e2ee.Person{}
	}
	return sess, nil
}

// encryptingBody streams body encrypted under key for b.
func encryptingBody(body io.Reader, key []byte, b e2ee.StreamBinding) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		w, err := e2ee.NewStreamWriter(pw, key, b)
		if err == nil {
			if _, err = io.Copy(w, body); err == nil {
				err = w.Close()
			}
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// UploadDocumentE2EE encrypts u.Body on this device and uploads it as a
// new document end-to-end encrypted for u.Audience.
func (x *E2EE) UploadDocumentE2EE(ctx context.Context, caseID string, u Upload) (api.Document, error) {
	sess, err := x.docSession(ctx, caseID)
	if err != nil {
		return api.Document{}, err
	}
	// The id is derived from this account and a fresh nonce (the server
	// derives it again and refuses any other), so it is known before the
	// stream and the wrap are bound to it.
	nonce := e2ee.NewDocIDNonce()
	docID := e2ee.DocumentID(caseID, x.Me.Account, nonce)
	aud := canonicalAudience(u.Audience)
	name, mt, err := uploadLabel(u.Name, u.MediaType)
	if err != nil {
		return api.Document{}, err
	}
	key := e2ee.NewDocKey()
	defer clear(key)
	wrap, err := sess.WrapDocKey(docID, 1, aud, e2ee.BindName(name, mt), key, nil, time.Now())
	if err != nil {
		return api.Document{}, err
	}
	body := encryptingBody(u.Body, key, e2ee.StreamBinding{Case: caseID, Doc: docID, Version: 1})
	defer body.Close()
	size := int64(-1)
	if u.Size >= 0 {
		size = e2ee.StreamCiphertextSize(u.Size)
	}
	q := url.Values{"audience": {aud}, "class": {u.Class}, "e2ee": {"1"}, "doc": {docID},
		api.DocumentNonceParam: {base64.RawURLEncoding.EncodeToString(nonce)}}
	req, err := http.NewRequest(http.MethodPost, c(x).BaseURL+docsPath(caseID)+"?"+q.Encode(), body)
	if err != nil {
		return api.Document{}, err
	}
	req.ContentLength = size
	req.Header.Set(api.DocumentKeyHeader, base64.RawURLEncoding.EncodeToString(wrap))
	// Sent exactly as bound (the server refuses a wrap binding others).
	req.Header.Set(api.DocumentNameHeader, url.PathEscape(name))
	req.Header.Set("Content-Type", mt)
	d, err := decodeDocument(c(x).send(ctx, req, http.StatusCreated))
	if err != nil {
		return d, err
	}
	return d, x.pinWraps(wrap)
}

// uploadLabel is the name and media type a new end-to-end encrypted
// version is bound and sent under, in the form the server stores them:
// the name trimmed, the media type in mime.FormatMediaType's form
// (application/octet-stream when none is given).
func uploadLabel(name, mediaType string) (string, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", "", errors.New("an end-to-end encrypted document needs a name (bound into its keys)")
	}
	if strings.TrimSpace(mediaType) == "" {
		return name, "application/octet-stream", nil
	}
	t, params, err := mime.ParseMediaType(mediaType)
	if err != nil || !strings.Contains(t, "/") {
		return "", "", fmt.Errorf("media type %q: not a media type (type/subtype)", mediaType)
	}
	return name, mime.FormatMediaType(t, params), nil
}

// shownLabel is the name and media type the server shows for version of doc.
func shownLabel(doc api.Document, version int) (string, string) {
	for _, v := range doc.Versions {
		if v.Version == version {
			return v.Name, v.MediaType
		}
	}
	if version == doc.Version {
		return doc.Name, doc.MediaType
	}
	return "", ""
}

func c(x *E2EE) *Client { return x.C }

// DocumentKey finds and opens this device's copy of a version's content
// key among the wraps the server holds, checking each against the
// membership chain and against the name and media type the server shows
// for the version (e2ee.Session.OpenDocKey).
func (x *E2EE) DocumentKey(ctx context.Context, sess *e2ee.Session, caseID, docID string, version int, name, mediaType string) ([]byte, error) {
	key, _, err := x.documentKey(ctx, sess, caseID, docID, version, name, mediaType)
	return key, err
}

// documentKey is DocumentKey with the verified wrap the key came from (the
// newest, when several hold a copy for this device). A wrap that binds
// another name or type than the one shown refuses the whole version
// (e2ee.ErrRelabelled), whatever the others hold.
func (x *E2EE) documentKey(ctx context.Context, sess *e2ee.Session, caseID, docID string, version int, name, mediaType string) ([]byte, *e2ee.DocKeyWrap, error) {
	var keys api.DocumentKeys
	path := docPath(caseID, docID) + "/keys?version=" + strconv.Itoa(version)
	if err := x.C.Do(ctx, http.MethodGet, path, nil, &keys); err != nil {
		return nil, nil, err
	}
	if keys.Version != version {
		return nil, nil, fmt.Errorf("%w: asked for the keys of version %d, got version %d's", e2ee.ErrWrongPlace, version, keys.Version)
	}
	var firstErr error
	var best []byte
	var bestWrap *e2ee.DocKeyWrap
	for _, w := range keys.Wraps {
		key, k, err := sess.OpenDocKey(docID, version, name, mediaType, w)
		if errors.Is(err, e2ee.ErrRelabelled) {
			clear(best)
			return nil, nil, fmt.Errorf("document %s version %d: %w", docID, version, err)
		}
		if err == nil {
			if bestWrap == nil || k.Ctx.Created > bestWrap.Ctx.Created {
				clear(best)
				best, bestWrap = key, k
			} else {
				clear(key)
			}
			continue
		}
		if !errors.Is(err, e2ee.ErrNotForMe) && firstErr == nil {
			firstErr = err
		}
	}
	if bestWrap != nil {
		if err := x.pinWrap(bestWrap.Ctx); err != nil {
			clear(best)
			return nil, nil, err
		}
		return best, bestWrap, nil
	}
	if firstErr != nil {
		return nil, nil, fmt.Errorf("%w (%v)", ErrNoDocKey, firstErr)
	}
	return nil, nil, ErrNoDocKey
}

// ErrAudienceMismatch: the audience the server reports for an end-to-end
// encrypted document is not the one its keys were wrapped for, as the
// signed wraps this device opens say. Only an explicit share changes an
// audience; a device never widens one because the server says so.
var ErrAudienceMismatch = errors.New("the server reports another audience than the document's signed key wraps name")

// ErrWrapRolledBack: the newest key wrap the server returns for an end-to-end
// encrypted version is older than one this device opened or made for it
// (review 394 M2): the server may be serving a wrap from before the
// document was narrowed, with the audience it had then. This device gives
// newcomers no key of it.
var ErrWrapRolledBack = errors.New("the server returns an older key wrap of this document than this device has seen (it may have been shared with fewer people since)")

// docWrapsFile pins, per end-to-end encrypted document version, the newest
// key wrap this device opened or made: its statement, time and audience.
const docWrapsFile = "docwraps.json"

type wrapPin struct {
	Statement uint64 `json:"statement"`
	Created   int64  `json:"created"`
	Audience  string `json:"audience"`
}

// before reports whether the pinned wrap p is older than c: by the
// statement it names, then by its time.
func (p wrapPin) before(c e2ee.DocKeyContext) bool {
	return p.Statement < c.StatementSeq || p.Statement == c.StatementSeq && p.Created < c.Created
}

func wrapPinKey(c e2ee.DocKeyContext) string {
	return c.Case + "/" + c.Doc + "/" + strconv.Itoa(c.Version)
}

// pinWraps pins each wrap in raws (made by this device or opened by it)
// that holds a copy for this device as its version's newest, unless a
// newer one is pinned. A wrap without one is not pinned: a newcomer pass
// wraps only for devices lacking a copy, so its wrap leaves this device
// out (it keeps the audience of the wrap it came from, pinned already);
// pinned, it would sort newer than the only wrap this device can open,
// and every later pass would refuse the version as rolled back
// (review 404 M1).
func (x *E2EE) pinWraps(raws ...[]byte) error {
	var ctxs []e2ee.DocKeyContext
	for _, raw := range raws {
		if k, err := e2ee.DecodeDocKey(raw); err == nil && slices.Contains(k.Devices(), x.Me.ID) {
			ctxs = append(ctxs, k.Ctx)
		}
	}
	return x.pinWrap(ctxs...)
}

func (x *E2EE) pinWrap(ctxs ...e2ee.DocKeyContext) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	pins := map[string]wrapPin{}
	if err := x.readPins(docWrapsFile, &pins); err != nil {
		return err
	}
	changed := false
	for _, c := range ctxs {
		if p, ok := pins[wrapPinKey(c)]; !ok || p.before(c) {
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return savePins(x, docWrapsFile, func(saved map[string]wrapPin) error {
		for _, c := range ctxs {
			if p, ok := saved[wrapPinKey(c)]; !ok || p.before(c) {
				saved[wrapPinKey(c)] = wrapPin{Statement: c.StatementSeq, Created: c.Created, Audience: c.Audience}
			}
		}
		return nil
	})
}

// checkWrapPin refuses (ErrWrapRolledBack) c, the newest wrap the server
// returned for its version, when this device pinned a newer one, or one
// as new naming another audience.
func (x *E2EE) checkWrapPin(c e2ee.DocKeyContext) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	pins := map[string]wrapPin{}
	if err := x.readPins(docWrapsFile, &pins); err != nil {
		return err
	}
	p, ok := pins[wrapPinKey(c)]
	if !ok || p.before(c) || p.Statement == c.StatementSeq && p.Created == c.Created && p.Audience == c.Audience {
		return nil
	}
	return fmt.Errorf("%w (the server's newest names %s, signed under statement %d at %s; this device saw one for %s, statement %d at %s)",
		ErrWrapRolledBack, c.Audience, c.StatementSeq, time.UnixMilli(c.Created).UTC().Format(time.RFC3339),
		p.Audience, p.Statement, time.UnixMilli(p.Created).UTC().Format(time.RFC3339))
}

// DownloadDocumentE2EE opens version (0: the latest) of a document. An
// end-to-end encrypted version is decrypted on this device: Body checks
// the ciphertext against the size and SHA-256 the server recorded at
// upload, and every segment's tag and the final-segment flag, and returns
// ErrIntegrity (wrapping e2ee.ErrIntegrity) instead of io.EOF otherwise.
// A server-encrypted version is returned as DownloadDocument returns it.
func (x *E2EE) DownloadDocumentE2EE(ctx context.Context, caseID, docID string, version int) (*Download, error) {
	d, err := x.C.DownloadDocument(ctx, caseID, docID, version)
	if err != nil {
		return nil, err
	}
	if !d.E2EE {
		// The server says server-encrypted: believed only if neither the
		// document's record nor a key wrap says otherwise, so a server that
		// drops the flag cannot pass off plaintext of its choosing.
		if err := x.checkNotE2EE(ctx, caseID, docID, d.Version); err != nil {
			d.Body.Close()
			return nil, err
		}
		return d, nil
	}
	fail := func(err error) (*Download, error) {
		d.Body.Close()
		return nil, err
	}
	plain, ok := e2ee.StreamPlainSize(d.Size)
	if !ok {
		return fail(fmt.Errorf("%w: %d bytes is no end-to-end encrypted document", ErrIntegrity, d.Size))
	}
	sess, err := x.docSession(ctx, caseID)
	if err != nil {
		return fail(err)
	}
	// The name and type to check (and to save under) are the document
	// record's for this version, checked against the signed binding.
	doc, err := x.C.Document(ctx, caseID, docID)
	if err != nil {
		return fail(err)
	}
	name, mt := shownLabel(doc, d.Version)
	key, k, err := x.documentKey(ctx, sess, caseID, docID, d.Version, name, mt)
	if err != nil {
		return fail(err)
	}
	d.Name, d.MediaType, d.NameVerified = name, mt, k.Ctx.Name.Bound()
	r, err := e2ee.NewStreamReader(d.Body, key, e2ee.StreamBinding{Case: caseID, Doc: docID, Version: d.Version}, &e2ee.StreamVerify{Size: plain, SHA256: d.PlainSHA256})
	clear(key)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrIntegrity, err))
	}
	// An upgraded version's plaintext hash (checked by the reader before
	// it returns io.EOF); otherwise the server never knew it.
	d.CipherSHA256, d.SHA256 = d.SHA256, d.PlainSHA256
	d.Size = plain
	d.Body = struct {
		io.Reader
		io.Closer
	}{integrityErr{r}, d.Body}
	return d, nil
}

// ErrNotE2EEAnswer: the server answered a download of an end-to-end
// encrypted version with bytes of its own (no end-to-end encryption).
var ErrNotE2EEAnswer = fmt.Errorf("%w: the server sent a server-encrypted answer for an end-to-end encrypted document", ErrIntegrity)

// checkNotE2EE refuses a server-encrypted answer for version of docID when
// the document's record marks it end-to-end encrypted or the server holds
// key wraps for it.
func (x *E2EE) checkNotE2EE(ctx context.Context, caseID, docID string, version int) error {
	doc, err := x.C.Document(ctx, caseID, docID)
	if err != nil {
		return err
	}
	if version == 0 {
		version = doc.Version
	}
	if slices.ContainsFunc(doc.Versions, func(v api.VersionInfo) bool { return v.E2EE && v.Version == version }) {
		return fmt.Errorf("version %d: %w", version, ErrNotE2EEAnswer)
	}
	var keys api.DocumentKeys
	err = x.C.Do(ctx, http.MethodGet, docPath(caseID, docID)+"/keys?version="+strconv.Itoa(version), nil, &keys)
	var pe *Error
	switch {
	case errors.As(err, &pe) && pe.Status == http.StatusNotFound:
		return nil // no wraps: server-encrypted
	case err != nil:
		return err
	case len(keys.Wraps) > 0:
		return fmt.Errorf("version %d has key wraps: %w", version, ErrNotE2EEAnswer)
	}
	return nil
}

// integrityErr marks a stream failure as ErrIntegrity too.
type integrityErr struct{ r io.Reader }

func (i integrityErr) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, ErrIntegrity) {
		err = fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	return n, err
}

// wrapsFor opens this device's key of every stored end-to-end encrypted
// version of doc and wraps it for audience (only: the devices to wrap
// for, nil for every device of the audience). With keep, audience must be
// the one the opened wrap names (the audience stays as it is).
func (x *E2EE) wrapsFor(ctx context.Context, sess *e2ee.Session, caseID string, doc api.Document, audience string, keep bool, only func(v int) []string) ([]api.VersionWrap, error) {
	var out []api.VersionWrap
	for _, v := range doc.Versions {
		if !v.E2EE || v.Erased {
			continue
		}
		var devs []string
		if only != nil {
			if devs = only(v.Version); len(devs) == 0 {
				continue
			}
		}
		key, k, err := x.documentKey(ctx, sess, caseID, doc.ID, v.Version, v.Name, v.MediaType)
		if err != nil {
			return nil, fmt.Errorf("version %d: %w", v.Version, err)
		}
		if keep && k.Ctx.Audience != audience {
			clear(key)
			return nil, fmt.Errorf("version %d: %w (%s, the server says %s)", v.Version, ErrAudienceMismatch, k.Ctx.Audience, audience)
		}
		// The new wrap carries the binding of the one opened (the
		// uploader's), never one made from the server's name of the moment.
		w, err := sess.WrapDocKey(doc.ID, v.Version, audience, k.Ctx.Name, key, devs, time.Now())
		clear(key)
		if err != nil {
			return nil, fmt.Errorf("version %d: %w", v.Version, err)
		}
		out = append(out, api.VersionWrap{Version: v.Version, Wrap: w})
	}
	return out, nil
}

// signedAudience is the audience the signed wraps of doc's end-to-end
// encrypted versions name, as this device opens them ("" when it has
// none), refused (ErrAudienceMismatch) unless every version's agrees with
// the server's doc.Audience.
func (x *E2EE) signedAudience(ctx context.Context, sess *e2ee.Session, caseID string, doc api.Document) (string, error) {
	server, signed := canonicalAudience(doc.Audience), ""
	for _, v := range doc.Versions {
		if !v.E2EE || v.Erased {
			continue
		}
		key, k, err := x.documentKey(ctx, sess, caseID, doc.ID, v.Version, v.Name, v.MediaType)
		if err != nil {
			return "", fmt.Errorf("version %d: %w", v.Version, err)
		}
		clear(key)
		// The newest wrap this device saw of the version, not the newest
		// the server chooses to return: one from before a narrowing names
		// the wider audience the server may report again.
		if err := x.checkWrapPin(k.Ctx); err != nil {
			return "", fmt.Errorf("document %s version %d: %w", doc.ID, v.Version, err)
		}
		if k.Ctx.Audience != server || (signed != "" && signed != k.Ctx.Audience) {
			return "", fmt.Errorf("document %s version %d: %w (%s, the server says %s)", doc.ID, v.Version, ErrAudienceMismatch, k.Ctx.Audience, server)
		}
		signed = k.Ctx.Audience
	}
	return signed, nil
}

// NameCheck is what this device checked about an end-to-end encrypted
// document's name: the name and media type the server shows for its
// latest version and whether they are the ones its uploader's device
// bound into the keys (Verified), or the version was encrypted before
// names were bound (Verified false: the name is the server's word).
type NameCheck struct {
	Name, MediaType string
	Verified        bool
}

// VerifiedName checks the name and media type the server shows for each
// stored end-to-end encrypted version of docID against the bindings in
// the keys this device holds (e2ee.ErrRelabelled when one differs), and
// returns the latest version's. A device with no key of it gets
// ErrNoDocKey: it cannot check, and cannot share it either.
func (x *E2EE) VerifiedName(ctx context.Context, caseID, docID string) (NameCheck, error) {
	doc, err := x.C.Document(ctx, caseID, docID)
	if err != nil {
		return NameCheck{}, err
	}
	sess, err := x.docSession(ctx, caseID)
	if err != nil {
		return NameCheck{}, err
	}
	var out NameCheck
	found := false
	for _, v := range doc.Versions { // newest first
		if !v.E2EE || v.Erased {
			continue
		}
		key, k, err := x.documentKey(ctx, sess, caseID, doc.ID, v.Version, v.Name, v.MediaType)
		if err != nil {
			return NameCheck{}, fmt.Errorf("version %d: %w", v.Version, err)
		}
		clear(key)
		if !found {
			out, found = NameCheck{Name: v.Name, MediaType: v.MediaType, Verified: k.Ctx.Name.Bound()}, true
		}
	}
	if !found {
		return NameCheck{}, ErrNoDocKey
	}
	return out, nil
}

func hasE2EE(d api.Document) bool {
	return slices.ContainsFunc(d.Versions, func(v api.VersionInfo) bool { return v.E2EE && !v.Erased })
}

// ShareDocumentE2EE shares a document; an end-to-end encrypted one is
// shared by wrapping every stored version's key, on this device, for the
// devices of the new audience as the signed membership lists them (the
// server cannot do it: it holds no key). A narrower audience gets wraps
// for its own devices only, and they replace the server's wraps. Dry runs
// and server-encrypted documents go as ShareDocument.
func (x *E2EE) ShareDocumentE2EE(ctx context.Context, caseID, docID, audience string, dryRun bool) (api.ShareResult, error) {
	if dryRun {
		return x.C.ShareDocument(ctx, caseID, docID, audience, true)
	}
	doc, err := x.C.Document(ctx, caseID, docID)
	if err != nil {
		return api.ShareResult{}, err
	}
	if !hasE2EE(doc) {
		return x.C.ShareDocument(ctx, caseID, docID, audience, false)
	}
	sess, err := x.docSession(ctx, caseID)
	if err != nil {
		return api.ShareResult{}, err
	}
	aud := canonicalAudience(audience)
	wraps, err := x.wrapsFor(ctx, sess, caseID, doc, aud, false, nil)
	if err != nil {
		return api.ShareResult{}, err
	}
	var out api.ShareResult
	if err := x.C.Do(ctx, http.MethodPost, docPath(caseID, docID)+"/share", api.ShareRequest{Audience: aud, Wraps: wraps}, &out); err != nil {
		return out, err
	}
	// The new wraps are the newest of their versions this device has
	// seen: after a narrowing, the older, wider ones are refused for
	// newcomer passes whatever the server serves again.
	return out, x.pinWraps(versionWraps(wraps)...)
}

func versionWraps(ws []api.VersionWrap) [][]byte {
	out := make([][]byte, len(ws))
	for i, w := range ws {
		out[i] = w.Wrap
	}
	return out
}

// WrapForNewcomers gives the content keys this device holds to the
// devices of each end-to-end encrypted document's current audience that
// have no copy yet (a member's new device, a new member of the case),
// after the same membership checks as a share. It returns how many wraps
// it added. Only a device that holds a key can do this; the server and
// administrators cannot.
func (x *E2EE) WrapForNewcomers(ctx context.Context, caseID string) (int, error) {
	list, err := x.C.Documents(ctx, caseID)
	if err != nil {
		return 0, err
	}
	sess, err := x.docSession(ctx, caseID)
	if err != nil {
		return 0, err
	}
	st := sess.Chain.Latest()
	if st == nil {
		return 0, e2ee.ErrNoStatement
	}
	added := 0
	for _, item := range list {
		if !item.CanDownload {
			continue
		}
		doc, err := x.C.Document(ctx, caseID, item.ID)
		if err != nil {
			return added, err
		}
		if !hasE2EE(doc) {
			continue
		}
		// The audience is the one the verified wraps name, never the
		// server's word alone: a server reporting a caucus document as
		// joint gets no wrap for the other side's devices.
		aud, err := x.signedAudience(ctx, sess, caseID, doc)
		if errors.Is(err, ErrNoDocKey) {
			continue // this device holds no key of it to give
		}
		if err != nil {
			return added, err
		}
		members, err := e2ee.AudienceMembers(st, aud)
		if err != nil || !slices.Contains(members, x.Me.Account) {
			continue // this device may not wrap for that audience
		}
		missing := func(v int) []string {
			var keys api.DocumentKeys
			if err := x.C.Do(ctx, http.MethodGet, docPath(caseID, doc.ID)+"/keys?version="+strconv.Itoa(v), nil, &keys); err != nil {
				return nil
			}
			have := map[string]bool{}
			for _, w := range keys.Wraps {
				if k, err := e2ee.DecodeDocKey(w); err == nil {
					for _, d := range k.Devices() {
						have[d] = true
					}
				}
			}
			var out []string
			for _, m := range members {
				for _, d := range sess.Dir.Active(m) {
					if !have[d.ID] {
						out = append(out, d.ID)
					}
				}
			}
			return out
		}
		wraps, err := x.wrapsFor(ctx, sess, caseID, doc, aud, true, missing)
		if err != nil {
			return added, fmt.Errorf("document %s: %w", doc.ID, err)
		}
		if len(wraps) == 0 {
			continue
		}
		if err := x.C.Do(ctx, http.MethodPost, docPath(caseID, doc.ID)+"/keys", api.DocumentKeysRequest{Wraps: wraps}, nil); err != nil {
			return added, err
		}
		added += len(wraps)
		if err := x.pinWraps(versionWraps(wraps)...); err != nil {
			return added, err
		}
	}
	return added, nil
}

// UpgradeProgress reports an upgrade's progress: the version being
// re-encrypted, and the plaintext bytes of it done so far out of total.
type UpgradeProgress func(doc string, version int, done, total int64)

type progressReader struct {
	r           io.Reader
	doc         string
	version     int
	done, total int64
	report      UpgradeProgress
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.report != nil && n > 0 {
		p.report(p.doc, p.version, p.done, p.total)
	}
	return n, err
}

// sumReader returns ErrIntegrity instead of io.EOF unless what it read
// hashes to want.
type sumReader struct {
	r    io.Reader
	h    hash.Hash
	want []byte
}

func (s *sumReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	if err == io.EOF && !bytes.Equal(s.h.Sum(nil), s.want) {
		return n, fmt.Errorf("%w: the plaintext to upgrade is not the one recorded at upload", ErrIntegrity)
	}
	return n, err
}

// UpgradeDocument re-encrypts every stored server-encrypted version of a
// document end to end (migration), on this device: it downloads the
// version (the server's layer checks its SHA-256), encrypts it in the
// stream format under a fresh content key bound to the same version,
// wraps the key for the document's audience, and has the server replace
// the version (POST …/upgrade). Versions already end-to-end encrypted are
// left alone. It returns how many versions it upgraded.
func (x *E2EE) UpgradeDocument(ctx context.Context, caseID, docID string, progress UpgradeProgress) (int, error) {
	doc, err := x.C.Document(ctx, caseID, docID)
	if err != nil {
		return 0, err
	}
	sess, err := x.docSession(ctx, caseID)
	if err != nil {
		return 0, err
	}
	// The audience to wrap for: the one the signed wraps of the versions
	// already end-to-end encrypted name, which the server's must match; for
	// a document with none, the server's (which holds its plaintext
	// anyway, and which the CLI shows).
	aud, err := x.signedAudience(ctx, sess, caseID, doc)
	if err != nil {
		return 0, err
	}
	if aud == "" {
		aud = canonicalAudience(doc.Audience)
	}
	upgraded := 0
	for i := len(doc.Versions) - 1; i >= 0; i-- { // oldest first
		v := doc.Versions[i]
		if v.E2EE || v.Erased {
			continue
		}
		if err := x.upgradeVersion(ctx, sess, caseID, doc, aud, v, progress); err != nil {
			return upgraded, fmt.Errorf("version %d: %w", v.Version, err)
		}
		upgraded++
	}
	return upgraded, nil
}

func (x *E2EE) upgradeVersion(ctx context.Context, sess *e2ee.Session, caseID string, doc api.Document, aud string, v api.VersionInfo, progress UpgradeProgress) error {
	key := e2ee.NewDocKey()
	defer clear(key)
	// The name the server keeps for the version is bound from here on: the
	// server held this version's plaintext (and its name) until now, so
	// that is the name the document had.
	wrap, err := sess.WrapDocKey(doc.ID, v.Version, aud, e2ee.BindName(v.Name, v.MediaType), key, nil, time.Now())
	if err != nil {
		return err
	}
	dl, err := x.C.DownloadDocument(ctx, caseID, doc.ID, v.Version)
	if err != nil {
		return err
	}
	defer dl.Body.Close()
	if dl.E2EE || dl.Size != v.Size || hex.EncodeToString(dl.SHA256) != v.SHA256 {
		return fmt.Errorf("%w: the server sent another version than the one to upgrade", ErrIntegrity)
	}
	// The plaintext re-encrypted must be the one whose SHA-256 the server
	// recorded at upload (and keeps, for every device to check after
	// decrypting): checked before the stream's final segment is written.
	want, _ := hex.DecodeString(v.SHA256)
	checked := &sumReader{r: dl.Body, h: sha256.New(), want: want}
	src := &progressReader{r: checked, doc: doc.ID, version: v.Version, total: v.Size, report: progress}
	body := encryptingBody(src, key, e2ee.StreamBinding{Case: caseID, Doc: doc.ID, Version: v.Version})
	defer body.Close()
	path := docPath(caseID, doc.ID) + "/upgrade?version=" + strconv.Itoa(v.Version)
	req, err := http.NewRequest(http.MethodPost, x.C.BaseURL+path, body)
	if err != nil {
		return err
	}
	req.ContentLength = e2ee.StreamCiphertextSize(v.Size)
	req.Header.Set(api.DocumentKeyHeader, base64.RawURLEncoding.EncodeToString(wrap))
	if _, err = decodeDocument(x.C.send(ctx, req, http.StatusOK)); err != nil {
		return err
	}
	return x.pinWraps(wrap)
}
