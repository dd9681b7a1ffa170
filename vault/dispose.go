package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// Disposal, in the order package retention runs it (NIST SP 800-88
// cryptographic erase, then clean-up):
//
//  1. DestroyDataKeys: every stored copy of each version's wrapped data key
//     goes. From here on the ciphertext is noise, wherever copies of it
//     live (old object versions, backups).
//  2. DeleteCiphertext: every stored version of the ciphertext goes.
//  3. PurgeDocument: once all of a document's versions are erased, every
//     stored version of its record (names, media types, hashes) goes.
//  4. DestroyCaseKey: once no document of the case remains, every stored
//     version of the case key goes, so backups of the records taken
//     before disposal open nothing either.
//
// Each step is idempotent and checks the one before it is done, so a
// crash anywhere leaves nothing readable that was meant to be gone, and
// running the same steps again finishes the work. None of them makes an
// access decision: the retention job calls them under its own policy, as
// the actor it names. Every one refuses a held document or case.

// ErrHeld: the document or its case is under legal hold.
var ErrHeld = objstore.ErrHeld

// errKeyFirst: a ciphertext or record would be deleted before its key.
var errKeyFirst = errors.New("data key not yet destroyed")

// VersionRef names one version of a document.
type VersionRef struct {
	Case    string
	Doc     string
	Version int
}

// RecordVersion is one version of a document as retention sees it: no
// name, no media type, and the content hash only as the keyed commitment
// the audit log carries (Commit).
type RecordVersion struct {
	Version int       `json:"version"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
	Erased  bool      `json:"erased,omitempty"`
	Commit  string    `json:"commit"`
}

// Record is a document as retention sees it.
type Record struct {
	Doc      string          `json:"doc"`
	Case     string          `json:"case"`
	Class    Class           `json:"class"`
	Created  time.Time       `json:"created"`
	Held     bool            `json:"held"` // by its own hold (the case's is CaseHeld)
	Versions []RecordVersion `json:"versions"`
}

// Records lists the documents of a case for the retention job, which
// decides its own access first. Names, media types and content are never
// in a Record.
func (s *Service) Records(ctx context.Context, caseID string) ([]Record, error) {
	var out []Record
	err := s.eachDocument(ctx, caseID, func(d *docRecord) error {
		r := Record{Doc: d.ID, Case: d.Case, Class: d.Class, Created: d.Created, Held: d.Hold != nil}
		for _, v := range d.Versions {
			r.Versions = append(r.Versions, RecordVersion{Version: v.Version, Size: v.Size,
				Created: v.Created, Erased: v.Erased, Commit: s.commit(v.SHA256)})
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// DestroyDataKey crypto-erases one version: it deletes every stored copy
// of the version's wrapped data key, after which its ciphertext can never
// be decrypted, by anyone. A held document is refused.
func (s *Service) DestroyDataKey(ctx context.Context, actorID, caseID, docID string, version int) error {
	return s.DestroyDataKeys(ctx, actorID, []VersionRef{{Case: caseID, Doc: docID, Version: version}}, nil, 1)[0]
}

// DestroyDataKeys crypto-erases many versions, parallel at a time, and
// returns one error per ref (nil: destroyed, now or before). Holds are
// read again right before: a held document or case is refused with
// ErrHeld, and a hold placed in the meantime is caught by the conditional
// update of the document record or, after it, by the storage hold on the
// key record. One audit entry per version ("doc.key.destroyed", with
// attrs added) is appended, in one batch, before any key is destroyed.
func (s *Service) DestroyDataKeys(ctx context.Context, actorID string, refs []VersionRef, attrs map[string]string, parallel int) []error {
	errs := make([]error, len(refs))
	pending := make([]bool, len(refs))
	held := map[string]bool{}
	for _, r := range refs {
		if _, ok := held[r.Case]; ok {
			continue
		}
		h, err := s.CaseHeld(ctx, r.Case)
		if err != nil {
			return fill(errs, err)
		}
		held[r.Case] = h
	}
	workers.Run(len(refs), parallel, func(i int) {
		r := refs[i]
		if held[r.Case] {
			errs[i] = fmt.Errorf("case %s is under legal hold: %w", r.Case, ErrHeld)
			return
		}
		pending[i], errs[i] = s.keyPending(ctx, r)
	})
	var events []audit.Event
	now := s.now().UTC()
	for i, r := range refs {
		if pending[i] && errs[i] == nil {
			a := maps.Clone(attrs)
			if a == nil {
				a = map[string]string{}
			}
			a["version"] = strconv.Itoa(r.Version)
			events = append(events, audit.Event{Type: "doc.key.destroyed", Actor: actorID, Case: r.Case,
				Objects: []string{r.Doc}, Attrs: a, Time: now})
		}
	}
	if len(events) > 0 {
		if _, err := s.audit.AppendBatch(ctx, events); err != nil {
			return fill(errs, fmt.Errorf("audit: %w", err))
		}
	}
	workers.Run(len(refs), parallel, func(i int) {
		if pending[i] && errs[i] == nil {
			errs[i] = s.destroyKey(ctx, refs[i])
		}
	})
	return errs
}

func fill(errs []error, err error) []error {
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	return errs
}

// keyPending checks a version can have its key destroyed and reports
// whether any copy of the key is still stored.
func (s *Service) keyPending(ctx context.Context, r VersionRef) (bool, error) {
	var d docRecord
	_, err := s.meta.Get(ctx, docKey(r.Case, r.Doc), &d)
	switch {
	case errors.Is(err, metastore.ErrNotFound):
		// Purged already (step 3), or never existed.
	case err != nil:
		return false, err
	case d.Hold != nil:
		return false, fmt.Errorf("document %s is under legal hold: %w", r.Doc, ErrHeld)
	default:
		if _, ok := d.version(r.Version); !ok {
			return false, fmt.Errorf("document %s version %d: %w", r.Doc, r.Version, fault.ErrNotFound)
		}
	}
	versions, err := s.store.Versions(ctx, versionKey(r.Case, r.Doc, r.Version))
	if errors.Is(err, objstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(versions) > 0, nil
}

// destroyKey marks the version erased (refused if a hold landed) and
// deletes every stored version of its key record.
func (s *Service) destroyKey(ctx context.Context, r VersionRef) error {
	_, err := metastore.Update(ctx, s.meta, docKey(r.Case, r.Doc), func(d *docRecord) error {
		if d.Hold != nil {
			return fmt.Errorf("document %s is under legal hold: %w", r.Doc, ErrHeld)
		}
		for i := range d.Versions {
			if d.Versions[i].Version == r.Version {
				d.Versions[i].Erased = true
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return err
	}
	return deleteAllVersions(ctx, s.store, versionKey(r.Case, r.Doc, r.Version))
}

// deleteAllVersions permanently deletes every stored version (and delete
// marker) of key, oldest first: until the last one goes, the key still
// reads as its newest version.
func deleteAllVersions(ctx context.Context, store objstore.Store, key string) error {
	versions, err := store.Versions(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, v := range slices.Backward(versions) {
		if err := store.Delete(ctx, key, v.VersionID); err != nil {
			return fmt.Errorf("delete %s: %w", key, err)
		}
	}
	return nil
}

// gone reports whether no version of key is stored.
func gone(ctx context.Context, store objstore.Store, key string) (bool, error) {
	versions, err := store.Versions(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return true, nil
	}
	return len(versions) == 0, err
}

// DeleteCiphertext deletes every stored version of a version's ciphertext.
// Its data key must be gone first: ciphertext is never deleted while it
// could still be read, so an interrupted disposal never leaves a readable
// key to a missing document or the other way round.
func (s *Service) DeleteCiphertext(ctx context.Context, r VersionRef) error {
	ok, err := gone(ctx, s.store, versionKey(r.Case, r.Doc, r.Version))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s version %d: %w", r.Doc, r.Version, errKeyFirst)
	}
	return deleteAllVersions(ctx, s.store, objectKey(r.Case, r.Doc, r.Version))
}

// PurgeDocument deletes every stored version of a document's record once
// every version of the document is erased and its ciphertext deleted. It
// reports whether the document is gone (false: versions remain).
func (s *Service) PurgeDocument(ctx context.Context, caseID, docID string) (bool, error) {
	var d docRecord
	_, err := s.meta.Get(ctx, docKey(caseID, docID), &d)
	if errors.Is(err, metastore.ErrNotFound) {
		return true, deleteAllVersions(ctx, s.store, docKey(caseID, docID))
	}
	if err != nil {
		return false, err
	}
	if d.Hold != nil {
		return false, fmt.Errorf("document %s is under legal hold: %w", docID, ErrHeld)
	}
	for _, v := range d.Versions {
		if !v.Erased {
			return false, nil
		}
		for _, key := range []string{versionKey(caseID, docID, v.Version), objectKey(caseID, docID, v.Version)} {
			ok, err := gone(ctx, s.store, key)
			if err != nil {
				return false, err
			}
			if !ok {
				return false, fmt.Errorf("%s: %w", key, errKeyFirst)
			}
		}
	}
	return true, deleteAllVersions(ctx, s.store, docKey(caseID, docID))
}

// DestroyCaseKey deletes every stored version of the case key once no
// document of the case remains, and reports whether the key is gone. A
// held case keeps its key.
func (s *Service) DestroyCaseKey(ctx context.Context, actorID, caseID string) (bool, error) {
	held, err := s.CaseHeld(ctx, caseID)
	if err != nil || held {
		return false, err
	}
	remaining := 0
	if err := s.meta.List(ctx, docPrefix(caseID), func(string) error { remaining++; return nil }); err != nil {
		return false, err
	}
	if remaining > 0 {
		return false, nil
	}
	ok, err := gone(ctx, s.store, caseKeyObject(caseID))
	if err != nil || ok {
		return ok, err
	}
	if err := s.record(ctx, audit.Event{Type: "case.key.destroyed", Actor: actorID, Case: caseID}); err != nil {
		return false, fmt.Errorf("audit: %w", err)
	}
	return true, deleteAllVersions(ctx, s.store, caseKeyObject(caseID))
}
