package web

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/vault"
)

// End-to-end encrypted documents over HTTP (api/docs_e2ee.go): the upload
// of a client's ciphertext with its document key wrap in a header, a
// version's wraps for the devices that open it, and the wraps a holder
// adds for newcomers.

// documentKeyHeader reads the wrap of an end-to-end encrypted upload.
func documentKeyHeader(r *http.Request) ([]byte, error) {
	h := r.Header.Get(api.DocumentKeyHeader)
	if h == "" {
		return nil, fault.Invalid(api.DocumentKeyHeader, "required on an end-to-end encrypted upload: the document key wrapped for the audience")
	}
	if len(h) > base64.RawURLEncoding.EncodedLen(e2ee.MaxDocKey) {
		return nil, fault.Invalid(api.DocumentKeyHeader, "too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, fault.Invalid(api.DocumentKeyHeader, "base64url without padding")
	}
	return b, nil
}

func versionWraps(ws []api.VersionWrap) []vault.VersionWrap {
	out := make([]vault.VersionWrap, 0, len(ws))
	for _, w := range ws {
		out = append(out, vault.VersionWrap{Version: w.Version, Wrap: w.Wrap})
	}
	return out
}

// writeDocE2EEError answers a share refused for want of wraps (409).
func (a *API) writeDocE2EEError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, vault.ErrRewrapNeeded) {
		writeProblem(w, r, problem{Type: api.ProblemRewrapRequired, Title: "The document is end-to-end encrypted",
			Status: http.StatusConflict, Detail: "Share it from a device that holds its keys: that device wraps them for the new audience; the server holds none."})
		return
	}
	a.writeVaultError(w, r, err)
}

func (a *API) documentKeys(w http.ResponseWriter, r *http.Request) {
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
	actor, _ := actorFrom(r.Context())
	n, wraps, err := a.vault.Keys(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "docID"), version)
	if err != nil {
		a.writeVaultError(w, r, err)
		return
	}
	if wraps == nil {
		wraps = [][]byte{}
	}
	writeJSON(w, http.StatusOK, api.DocumentKeys{Version: n, Wraps: wraps})
}

func (a *API) addDocumentKeys(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	var req api.DocumentKeysRequest
	if err := decodeJSONMax(w, r, &req, maxWrapsBody); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	if err := a.vault.AddKeys(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "docID"), versionWraps(req.Wraps)); err != nil {
		a.writeVaultError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxWrapsBody bounds a request carrying document key wraps (a share of an
// end-to-end encrypted document, or wraps for newcomers).
const maxWrapsBody = 4 << 20

// upgradeDocument replaces a server-encrypted version with the same
// version re-encrypted end to end on a mediator's device
// (POST …/documents/{id}/upgrade?version=n, the ciphertext as the body,
// the wrap in Parley-Document-Key).
func (a *API) upgradeDocument(w http.ResponseWriter, r *http.Request) {
	if !a.vaultReady(w, r) {
		return
	}
	if r.ContentLength > vault.CiphertextSize(a.vault.MaxSize()) {
		w.Header().Set("Connection", "close")
		a.writeError(w, r, fault.ErrTooLarge)
		return
	}
	// The version and the wrap are checked by the vault after access is
	// decided, so the answer to someone without access says nothing more.
	n, _ := strconv.Atoi(r.URL.Query().Get("version"))
	wrap, werr := documentKeyHeader(r)
	if werr != nil {
		wrap = nil
	}
	actor, _ := actorFrom(r.Context())
	d, ok := a.receiveUpload(w, r, func(body io.Reader) (vault.Document, error) {
		return a.vault.UpgradeVersion(r.Context(), actor, chi.URLParam(r, "caseID"), chi.URLParam(r, "docID"), n, wrap, body)
	})
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, documentView(d))
}
