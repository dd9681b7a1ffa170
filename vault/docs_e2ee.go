package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// End-to-end encrypted documents (docs/security.md, "Documents end to
// end"). The uploader's device encrypts a version in the stream format
// (e2ee/stream.go) under a fresh content key and wraps that key for the
// audience's devices (e2ee.DocKeyWrap). This service stores the client's
// ciphertext inside its own envelope layer, exactly as it stores plaintext
// for the other versions (a data key per version under the case key under
// the master key), so holds, disposal and crypto-shredding act on it
// unchanged; it records the SHA-256 and size of the client's ciphertext in
// place of the plaintext's, and keeps the wraps in the version's sealed
// record. It never holds a content key: it checks sizes, audiences and
// policy, and that every wrap names the document, version, audience and
// actor it arrives with, and can refuse a share but not perform one.

// MaxWraps bounds the wraps kept per version (each holder wrapping for
// newcomers adds one); MaxStoredWrap bounds one wrap (a copy for one
// X-Wing device is about 1.2 KB, so some 25 devices), and MaxWrapBytes
// all of a version's, which every download's record read carries. Each
// device holds at most one live copy of a version's key.
const (
	MaxWraps      = 64
	MaxStoredWrap = 32 << 10
	MaxWrapBytes  = 256 << 10
)

type e2eeUpload struct{ wrap []byte }

// e2ee reports whether the document's latest stored version is end-to-end
// encrypted.
func (d *docRecord) e2ee() bool { return d.latest().E2EE }

// storedSize is the size of what the server's layer wraps: the plaintext,
// or the client's ciphertext for an end-to-end encrypted version.
func storedSize(v VersionInfo) int64 {
	if v.E2EE {
		return CiphertextSize(v.Size)
	}
	return v.Size
}

func uploadAttrs(num int, d *docRecord, size int64, e2e bool) map[string]string {
	a := map[string]string{"version": strconv.Itoa(num), "class": string(d.Class),
		"audience": d.Audience.String(), "size": strconv.FormatInt(size, 10)}
	if e2e {
		a["e2ee"] = "true"
	}
	return a
}

// streamShape refuses, as it is read, a body that does not start like a
// stream header: what the server records as an end-to-end encrypted
// document must at least be shaped like one (its length is checked once
// read).
type streamShape struct {
	r       io.Reader
	head    []byte
	checked bool
}

func (s *streamShape) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if !s.checked {
		s.head = append(s.head, p[:min(n, e2ee.StreamHeaderSize-len(s.head))]...)
		switch {
		case len(s.head) == e2ee.StreamHeaderSize:
			s.checked = true
			if !e2ee.CheckStreamHeader(s.head) {
				return 0, fault.Invalid("body", "not an end-to-end encrypted document stream (bad header)")
			}
		case err != nil && errors.Is(err, io.EOF):
			return 0, fault.Invalid("body", "not an end-to-end encrypted document stream (shorter than its header)")
		}
	}
	return n, err
}

// checkWrap decodes a wrap and checks it names this case, document,
// version and audience, that the actor made it, and that the name it binds
// (if any) is the version's name and media type as stored (v). With
// named, it must bind one: a new or upgraded version's wrap. (Devices
// check the binding themselves; this check only turns a client's mistake
// into an answer at once instead of a document no device opens.)
func checkWrap(raw []byte, actor, caseID, docID string, version int, aud Audience, v VersionInfo, named bool) error {
	if len(raw) > MaxStoredWrap {
		return fault.Invalid("wrap", fmt.Sprintf("a wrap of %d bytes is over the %d bytes kept per wrap (wrap for fewer devices at a time)", len(raw), MaxStoredWrap))
	}
	k, err := e2ee.DecodeDocKey(raw)
	if err != nil {
		return fault.Invalid("wrap", "not a document key wrap")
	}
	c := k.Ctx
	switch {
	case c.Case != caseID || c.Doc != docID || c.Version != version:
		return fault.Invalid("wrap", fmt.Sprintf("the wrap is for another document or version (want %s version %d)", docID, version))
	case c.Audience != aud.String():
		return fault.Invalid("wrap", "the wrap is for audience "+c.Audience+", not "+aud.String())
	case c.Account != actor:
		return fault.Invalid("wrap", "a wrap is made by the device of the person sending it")
	case named && !c.Name.Bound():
		return fault.Invalid("wrap", "the wrap binds no name: a new end-to-end encrypted version's wrap binds its name and media type")
	case c.Name.Check(v.Name, v.MediaType) != nil:
		return fault.Invalid("wrap", fmt.Sprintf("the wrap binds another name or media type than the version's (%q, %s): send them exactly as they are bound", v.Name, v.MediaType))
	}
	return nil
}

// UploadE2EE stores body, the client's ciphertext of version 1 of a new
// document whose id (docID) the client derived from nonce
// (e2ee.DocumentID of the case, the actor's account and nonce) and bound
// into the ciphertext, with wrap, the document key wrap for its audience.
// Every check of Upload applies.
func (s *Service) UploadE2EE(ctx context.Context, actor account.Account, caseID, docID string, nonce []byte, n NewDocument, wrap []byte, body io.Reader) (Document, error) {
	// The id must be the one derived from the signed-in account and the
	// nonce sent with it, checked before anything is read: an id another
	// account's upload made (or any id not so derived) cannot be named, and
	// the refusal is the same whether or not a document holds that id, so
	// an upload cannot ask which ids exist. A collision with the actor's
	// own earlier upload (a retry) is still answered as one, later.
	if !ids.Valid("d", docID) || len(nonce) != e2ee.DocIDNonceSize || docID != e2ee.DocumentID(caseID, actor.ID, nonce) {
		return Document{}, fault.Invalid("doc", "the new document's id is not the one made for your account from the nonce sent with it "+
			"(the "+api.DocumentNonceParam+" parameter): update the app or program you upload with and try again")
	}
	return s.upload(ctx, actor, caseID, n, body, docID, &e2eeUpload{wrap: wrap})
}

// Keys returns a version's document key wraps (0: the latest) to someone
// who may download it.
func (s *Service) Keys(ctx context.Context, actor account.Account, caseID, docID string, version int) (int, [][]byte, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return 0, nil, err
	}
	d, err := s.loadDoc(ctx, cs, docID, policy.DocDownload)
	if err != nil {
		return 0, nil, err
	}
	v := d.latest()
	if version != 0 {
		var ok bool
		if v, ok = d.version(version); !ok {
			return 0, nil, fmt.Errorf("document %s version %d: %w", docID, version, fault.ErrNotFound)
		}
	}
	if !v.E2EE {
		return 0, nil, fmt.Errorf("document %s version %d is not end-to-end encrypted: %w", docID, v.Version, fault.ErrNotFound)
	}
	if v.Erased {
		return 0, nil, fmt.Errorf("document %s version %d was erased: %w", docID, v.Version, fault.ErrGone)
	}
	var vr versionRecord
	if _, err := s.meta.Get(ctx, versionKey(caseID, docID, v.Version), &vr); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return 0, nil, fmt.Errorf("document %s version %d has no key (erased): %w", docID, v.Version, fault.ErrGone)
		}
		return 0, nil, err
	}
	return v.Version, vr.Keys, nil
}

// VersionWrap is a wrap for one version.
type VersionWrap struct {
	Version int
	Wrap    []byte
}

// AddKeys keeps wraps a device that holds a document's keys made for
// devices of the document's current audience that lacked them (a new
// device, a new member). Only someone who may download the document
// sends them, and only wraps for its current audience, made by them.
func (s *Service) AddKeys(ctx context.Context, actor account.Account, caseID, docID string, wraps []VersionWrap) error {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return err
	}
	d, err := s.loadDoc(ctx, cs, docID, policy.DocDownload)
	if err != nil {
		return err
	}
	if len(wraps) == 0 || len(wraps) > 4*MaxWraps {
		return fault.Invalid("wraps", fmt.Sprintf("1 to %d wraps", 4*MaxWraps))
	}
	for _, w := range wraps {
		v, ok := d.version(w.Version)
		if !ok || !v.E2EE || v.Erased {
			return fault.Invalid("wraps", fmt.Sprintf("version %d is not a stored end-to-end encrypted version", w.Version))
		}
		if err := checkWrap(w.Wrap, actor.ID, caseID, docID, w.Version, d.Audience, v, false); err != nil {
			return err
		}
	}
	ev := audit.Paired(audit.Event{Type: "doc.keys.wrap", Actor: actor.ID, Case: caseID, Objects: []string{docID},
		Attrs: map[string]string{"wraps": strconv.Itoa(len(wraps)), "audience": d.Audience.String()}})
	if err := s.record(ctx, ev); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := s.writeKeys(ctx, caseID, docID, wraps, false); err != nil {
		s.settle(ctx, ev, "doc.keys.wrap", err, s.keysLanded(caseID, docID, wraps, false))
		return err
	}
	return nil
}

// keysLanded reads back the versions writeKeys(wraps, replace) was to
// change (for settle): true if every wrap is stored (and, replacing, is
// all its version stores), false if none is. Some but not all (writeKeys
// writes version by version) is neither: it is reported as an error, so
// the log says doc.keys.wrap.unknown rather than a false "failed" or
// "done".
func (s *Service) keysLanded(caseID, docID string, wraps []VersionWrap, replace bool) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		byVersion := map[int][][]byte{}
		for _, w := range wraps {
			byVersion[w.Version] = append(byVersion[w.Version], w.Wrap)
		}
		stored, missing := 0, 0
		for v, want := range byVersion {
			var r versionRecord
			if _, err := s.meta.Get(ctx, versionKey(caseID, docID, v), &r); err != nil {
				return false, err
			}
			have := map[string]bool{}
			for _, k := range r.Keys {
				have[string(k)] = true
			}
			ok, distinct := true, map[string]bool{}
			for _, w := range want {
				ok = ok && have[string(w)]
				distinct[string(w)] = true
			}
			if replace && len(r.Keys) != len(distinct) {
				ok = false
			}
			if ok {
				stored++
			} else {
				missing++
			}
		}
		switch {
		case missing == 0:
			return true, nil
		case stored == 0:
			return false, nil
		}
		return false, fmt.Errorf("%d of %d versions' keys stored", stored, stored+missing)
	}
}

// writeKeys adds wraps to their versions' records, or (replace) makes
// them the versions' only wraps.
func (s *Service) writeKeys(ctx context.Context, caseID, docID string, wraps []VersionWrap, replace bool) error {
	byVersion := map[int][][]byte{}
	var order []int
	for _, w := range wraps {
		if _, ok := byVersion[w.Version]; !ok {
			order = append(order, w.Version)
		}
		byVersion[w.Version] = append(byVersion[w.Version], w.Wrap)
	}
	for _, v := range order {
		_, err := metastore.Update(ctx, s.meta, versionKey(caseID, docID, v), func(r *versionRecord) error {
			if replace {
				r.Keys = nil
			}
			holds := map[string]bool{} // devices with a live copy
			size := 0
			for _, k := range r.Keys {
				size += len(k)
				if w, err := e2ee.DecodeDocKey(k); err == nil {
					for _, d := range w.Devices() {
						holds[d] = true
					}
				}
			}
			for _, w := range byVersion[v] {
				if slices.ContainsFunc(r.Keys, func(k []byte) bool { return string(k) == string(w) }) {
					continue
				}
				k, err := e2ee.DecodeDocKey(w) // checked by checkWrap
				if err != nil {
					return fault.Invalid("wraps", "not a document key wrap")
				}
				for _, d := range k.Devices() {
					if holds[d] {
						return fault.Invalid("wraps", fmt.Sprintf("device %s holds a copy of version %d's key already (one each)", d, v))
					}
					holds[d] = true
				}
				r.Keys = append(r.Keys, w)
				size += len(w)
			}
			if len(r.Keys) > MaxWraps || size > MaxWrapBytes {
				return fmt.Errorf("version %d would hold %d wraps of %d bytes (at most %d, %d bytes): share it again to start afresh: %w",
					v, len(r.Keys), size, MaxWraps, MaxWrapBytes, fault.ErrConflict)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ErrRewrapNeeded: an end-to-end encrypted document was shared without a
// wrap of every stored version's key for the new audience.
var ErrRewrapNeeded = errors.New("an end-to-end encrypted document is shared from a device that holds its keys")

// checkShareWraps checks a share of an end-to-end encrypted document
// brings one wrap per stored end-to-end encrypted version, for to.
func checkShareWraps(d *docRecord, actor string, to Audience, wraps []VersionWrap) error {
	have := map[int]bool{}
	for _, w := range wraps {
		v, ok := d.version(w.Version)
		if !ok || !v.E2EE || v.Erased {
			return fault.Invalid("wraps", fmt.Sprintf("version %d is not a stored end-to-end encrypted version", w.Version))
		}
		if err := checkWrap(w.Wrap, actor, d.Case, d.ID, w.Version, to, v, false); err != nil {
			return err
		}
		have[w.Version] = true
	}
	for _, v := range d.Versions {
		if v.E2EE && !v.Erased && !have[v.Version] {
			return fmt.Errorf("version %d has no wrap for %s: %w", v.Version, to, ErrRewrapNeeded)
		}
	}
	return nil
}

// ErrHeldUpgrade: a held document's stored bytes may not change.
var ErrHeldUpgrade = errors.New("a document under legal hold keeps its stored bytes: upgrade it once the hold is released")

// UpgradeVersion replaces a server-encrypted version with the same
// version re-encrypted end to end by a mediator's device (migration):
// body is the client's ciphertext of the version's plaintext (bound to the
// same case, document and version), wrap its key for the document's
// audience. The plaintext size must be the version's. Once the new
// ciphertext is stored, the version record switches key, object version,
// hash and flag at once (downloads read through it), the document record
// follows, and every older stored copy of the ciphertext and of the record
// — the server's only way to the plaintext — is deleted. A document or
// case under hold is refused (its stored bytes may not change).
func (s *Service) UpgradeVersion(ctx context.Context, actor account.Account, caseID, docID string, version int, wrap []byte, body io.Reader) (Document, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return Document{}, err
	}
	d, err := s.loadDoc(ctx, cs, docID, policy.DocShare)
	if err != nil {
		return Document{}, err
	}
	if version < 1 {
		return Document{}, fault.Invalid("version", "the version number to upgrade, from 1")
	}
	if len(wrap) == 0 {
		return Document{}, fault.Invalid("Parley-Document-Key", "the document key wrapped for the audience (base64url, no padding)")
	}
	v, ok := d.version(version)
	switch {
	case !ok:
		return Document{}, fmt.Errorf("document %s version %d: %w", docID, version, fault.ErrNotFound)
	case v.Erased:
		return Document{}, fmt.Errorf("document %s version %d was erased: %w", docID, version, fault.ErrGone)
	case v.E2EE:
		return Document{}, fmt.Errorf("document %s version %d is end-to-end encrypted already: %w", docID, version, fault.ErrConflict)
	}
	held := d.Hold != nil
	if !held {
		if held, err = s.CaseHeld(ctx, caseID); err != nil {
			return Document{}, err
		}
	}
	if held {
		return Document{}, fmt.Errorf("document %s: %w: %w", docID, ErrHeldUpgrade, fault.ErrConflict)
	}
	if err := checkWrap(wrap, actor.ID, caseID, docID, version, d.Audience, v, true); err != nil {
		return Document{}, err
	}
	b := Binding{Case: caseID, Doc: docID, Version: version}
	caseKey, err := caseKeyForWrite(ctx, s.store, s.mk, caseID)
	if err != nil {
		return Document{}, err
	}
	dataKey := make([]byte, 32)
	rand.Read(dataKey)
	wrapped, err := wrapDataKey(caseKey, dataKey, b)
	if err != nil {
		return Document{}, err
	}
	key := objectKey(caseID, docID, version)
	src := &countingReader{r: body, h: sha256.New(), limit: CiphertextSize(v.Size)}
	info, err := s.putEncrypted(ctx, key, dataKey, b, &streamShape{r: src}, false)
	if err != nil {
		return Document{}, err
	}
	discard := func() { s.store.Delete(context.WithoutCancel(ctx), key, info.VersionID) }
	if plain, ok := e2ee.StreamPlainSize(src.n); !ok || plain != v.Size {
		discard()
		return Document{}, fault.Invalid("body", fmt.Sprintf("not an end-to-end encrypted stream of the version's %d bytes", v.Size))
	}
	sum := hex.EncodeToString(src.h.Sum(nil))
	if err := s.record(ctx, audit.Event{Type: "doc.upgrade", Actor: actor.ID, Case: caseID, Objects: []string{docID},
		Hashes: []string{s.commit(sum)}, Attrs: map[string]string{"version": strconv.Itoa(version), "audience": d.Audience.String()}}); err != nil {
		discard()
		return Document{}, fmt.Errorf("audit: %w", err)
	}
	gone := fmt.Errorf("document %s version %d was erased meanwhile: %w", docID, version, fault.ErrGone)
	if _, err := metastore.Update(ctx, s.meta, versionKey(caseID, docID, version), func(r *versionRecord) error {
		if r.E2EE {
			return fmt.Errorf("document %s version %d was upgraded meanwhile: %w", docID, version, fault.ErrConflict)
		}
		// The plaintext's hash as recorded at upload stays: devices check
		// the decrypted bytes against it.
		r.PlainSHA256 = r.SHA256
		r.WrappedKey, r.ObjectVID, r.SHA256, r.E2EE, r.Keys = wrapped, info.VersionID, sum, true, [][]byte{wrap}
		r.UpgradeIncomplete = true // until the older copies are gone
		return nil
	}); err != nil {
		discard()
		if errors.Is(err, metastore.ErrNotFound) {
			// Its record is gone: the version was erased (DestroyDataKey).
			err = gone
		}
		return Document{}, err
	}
	// A version erased since is left erased: its entry keeps no hash
	// (eraseVersion), and the upgrade answers gone.
	updated, err := metastore.Update(ctx, s.meta, docKey(caseID, docID), func(r *docRecord) error {
		for i := range r.Versions {
			if r.Versions[i].Version == version {
				if r.Versions[i].Erased {
					return gone
				}
				r.Versions[i].E2EE, r.Versions[i].SHA256, r.Versions[i].PlainSHA256 = true, sum, v.SHA256
				return nil
			}
		}
		return gone
	})
	if errors.Is(err, fault.ErrGone) || errors.Is(err, metastore.ErrNotFound) {
		discard()
		// The version record this upgrade rewrote above may have landed
		// after the erasure listed its stored copies: a copy with the
		// plaintext's hash and the new key wraps would outlive the
		// erasure, which does not look at an erased version again.
		if derr := deleteAllVersions(context.WithoutCancel(ctx), s.store, versionKey(caseID, docID, version)); derr != nil {
			return Document{}, fmt.Errorf("%w (and its rewritten record could not be deleted: %v)", gone, derr)
		}
		return Document{}, gone
	}
	if err != nil {
		return Document{}, err
	}
	if err := s.finishUpgrade(context.WithoutCancel(ctx), actor.ID, caseID, docID, version, info.VersionID); err != nil {
		return updated.view(true, true), err
	}
	return updated.view(true, true), nil
}

// ErrUpgradeIncomplete: an upgraded version's older server-encrypted
// copies (the server's way back to the plaintext) could not all be
// deleted; the version record stays marked UpgradeIncomplete and the
// failure is audited (doc.upgrade.incomplete: ids, counts and a reason
// code; the store's messages go to the server log) for an operator to
// finish.
var ErrUpgradeIncomplete = errors.New("the version was re-encrypted end to end, but older copies the server could read were not all deleted (audited for the operator)")

// finishUpgrade deletes the server's way back to an upgraded version's
// plaintext: the older stored copies of the ciphertext (all but keepVID)
// and of the version record with its data key. It clears the version's
// UpgradeIncomplete mark once every deletion succeeded; a failure is
// audited (doc.upgrade.incomplete) and returned. The audit entry holds
// the document id, the version, a fixed reason code and, for the
// ciphertext and the version record, how many older copies were left
// ("unlisted" when their versions could not be listed) — never the
// store's messages, which are unbounded (an entry over the log's
// attribute limit would be lost) and go to the server log instead (object
// keys there are random ids, nothing of the content).
func (s *Service) finishUpgrade(ctx context.Context, actor, caseID, docID string, version int, keepVID string) error {
	vk := versionKey(caseID, docID, version)
	objKept, objErr := s.pruneOlder(ctx, objectKey(caseID, docID, version), keepVID)
	recKept, recErr := s.pruneOlder(ctx, vk, "")
	if err := errors.Join(objErr, recErr); err != nil {
		s.log.Warn("vault: upgraded document's older copies not all deleted", "case", caseID, "doc", docID, "version", version, "err", err)
		if aerr := s.record(ctx, audit.Event{Type: "doc.upgrade.incomplete", Actor: actor, Case: caseID, Objects: []string{docID},
			Attrs: map[string]string{"version": strconv.Itoa(version), "reason": "older-copies-kept",
				"ciphertextCopies": objKept, "recordCopies": recKept}}); aerr != nil {
			err = errors.Join(err, fmt.Errorf("audit: %w", aerr))
		}
		return fmt.Errorf("document %s version %d: %w: %w (%w)", docID, version, ErrUpgradeIncomplete, fault.ErrUnavailable, err)
	}
	// Clearing the mark writes a new record version; the one before it
	// (the mark set, same data key) holds nothing the server's layer
	// could not already read from the current one.
	if _, err := metastore.Update(ctx, s.meta, vk, func(r *versionRecord) error {
		r.UpgradeIncomplete = false
		return nil
	}); err != nil {
		return err
	}
	_, err := s.pruneOlder(ctx, vk, "")
	return err
}

// pruneOlder deletes every stored version of key but keep (or, with keep
// empty, but the latest), and reports every failure (a version under
// object lock stays) and how many older versions are left: a count, or
// "unlisted" when the versions could not be listed.
func (s *Service) pruneOlder(ctx context.Context, key, keep string) (string, error) {
	versions, err := s.store.Versions(ctx, key)
	if err != nil {
		return "unlisted", fmt.Errorf("listing %s: %w", key, err)
	}
	var errs []error
	for _, v := range versions {
		if v.VersionID == keep || (keep == "" && v.IsLatest) {
			continue
		}
		if err := s.store.Delete(ctx, key, v.VersionID); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s@%s: %w", key, v.VersionID, err))
		}
	}
	return strconv.Itoa(len(errs)), errors.Join(errs...)
}
