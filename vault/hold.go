package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// Legal holds. A hold is enforced twice: the sealed records say so (and
// every path that destroys a key reads them again first), and every stored
// version of the held documents' ciphertext and key records carries the
// object store's legal hold, so not even someone with the bucket's
// credentials can delete them (S3 object lock; the directory store
// enforces the same contract).
//
// A document is held by its own hold (SetHold, docRecord.Hold) or by a
// hold on its whole case (SetCaseHold, the record at vault/<case>/hold).
// Releasing one leaves the storage holds in place while the other stands.

// caseHoldKey is the sealed record saying a case is under legal hold.
func caseHoldKey(caseID string) string { return "vault/" + caseID + "/hold" }

// CaseHoldKey is where SetCaseHold records a case's hold: retention sets
// the storage hold on it too, with the case record's (a case hold placed
// while the case record is being deleted must not go with it).
func CaseHoldKey(caseID string) string { return caseHoldKey(caseID) }

// SetHold places (on) or releases a legal hold on every version of a
// document: neither its ciphertext nor its keys can then be deleted, by
// Parley or by anyone with access to the bucket.
func (s *Service) SetHold(ctx context.Context, actor account.Account, caseID, docID string, on bool) (Document, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return Document{}, err
	}
	d, err := s.loadDoc(ctx, cs, docID, policy.DocHold)
	if err != nil {
		return Document{}, err
	}
	// Audited first; if the record then does not change, doc.hold.failed
	// says so. Once the record has changed the hold (or release) stands,
	// whatever happens to the storage holds after it.
	ev := audit.Paired(audit.Event{Type: "doc.hold", Actor: actor.ID, Case: caseID,
		Objects: []string{docID}, Attrs: map[string]string{"on": strconv.FormatBool(on)}})
	if err := s.record(ctx, ev); err != nil {
		return Document{}, fmt.Errorf("audit: %w", err)
	}
	// A hold is placed on the objects before the record says so, and the
	// record cleared before the objects are released.
	if on {
		if err := s.holdDocument(ctx, d, true); err != nil {
			// The record was not touched: the change is known absent.
			s.settle(ctx, ev, "doc.hold", err, nil)
			return Document{}, err
		}
	}
	updated, err := metastore.Update(ctx, s.meta, docKey(caseID, docID), func(r *docRecord) error {
		if on {
			r.Hold = &Hold{By: actor.ID, At: s.now().UTC()}
		} else {
			r.Hold = nil
		}
		return nil
	})
	if err != nil {
		s.settle(ctx, ev, "doc.hold", err, func(ctx context.Context) (bool, error) {
			var r docRecord
			if _, err := s.meta.Get(ctx, docKey(caseID, docID), &r); err != nil {
				return false, err
			}
			return (r.Hold != nil) == on, nil
		})
		return Document{}, err
	}
	// Placing: again, for versions added between the first pass and the
	// record update. Releasing: now that the record no longer says held,
	// unless the whole case still is.
	keep := false
	if !on {
		if keep, err = s.CaseHeld(ctx, caseID); err != nil {
			return Document{}, err
		}
	}
	switch {
	case on:
		if err := s.holdDocument(ctx, &updated, true); err != nil {
			return Document{}, err
		}
	case !keep:
		if err := s.releaseDocument(ctx, &updated); err != nil {
			return Document{}, err
		}
	}
	return updated.view(cs.allowed(policy.DocDownload, updated.policyDoc()), true), nil
}

// holdDocument sets the storage hold of every live version of a document.
func (s *Service) holdDocument(ctx context.Context, d *docRecord, on bool) error {
	for _, v := range d.Versions {
		if v.Erased {
			continue
		}
		if err := s.holdVersion(ctx, d.Case, d.ID, v.Version, on); err != nil {
			return err
		}
	}
	return nil
}

// holdVersion sets the legal hold of every stored version of one document
// version's ciphertext and key record.
func (s *Service) holdVersion(ctx context.Context, caseID, docID string, v int, on bool) error {
	for _, key := range []string{objectKey(caseID, docID, v), versionKey(caseID, docID, v)} {
		if err := holdAllVersions(ctx, s.store, key, on); err != nil {
			return err
		}
	}
	return nil
}

// releaseDocument clears the storage holds of every live version of d,
// which was read saying not held by itself, its case not held either; then
// reads its record and its case's hold again and, if either holds it now,
// sets them all again, and looks once more, clearing them again if that
// hold was released meanwhile, until a look agrees with what it last did.
// A placement (SetHold, SetCaseHold) writes its record before its last
// pass over the versions, so a placement racing this release either is
// seen by a later read or runs its pass after this clearing: a document
// whose record (or case) says held never ends with a version out of
// storage hold. Holds placed and released around it more than
// holdSettleRounds times leave the versions held (the safe side), with a
// WARN naming the document: place and release a hold on it to clear them.
func (s *Service) releaseDocument(ctx context.Context, d *docRecord) error {
	on, rec := false, d
	for round := 1; ; round++ {
		if err := s.holdDocument(ctx, rec, on); err != nil {
			return err
		}
		var now docRecord
		if _, err := s.meta.Get(ctx, docKey(d.Case, d.ID), &now); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				return nil // disposed meanwhile
			}
			return fmt.Errorf("read back document after release: %w", err)
		}
		held := now.Hold != nil
		if !held {
			var err error
			if held, err = s.CaseHeld(ctx, d.Case); err != nil {
				return fmt.Errorf("read back case hold after release: %w", err)
			}
		}
		if held == on {
			return nil
		}
		if !held && round >= holdSettleRounds {
			s.log.WarnContext(ctx, "document left under storage hold: holds on it were placed and released while it was being released; place and release a hold on it to clear them",
				slog.String("case", d.Case), slog.String("document", d.ID))
			return nil
		}
		on, rec = held, &now
	}
}

// settleNewHold makes the storage hold of version v of docID, just made
// visible (listed) with its storage hold set for a hold read earlier,
// agree with the holds that stand now. A hold released between that read
// and the version's listing or its holdVersion could not clear it (its
// release cleared what it listed, before this version was listed or
// before holdVersion set it again): the document's record and its case's
// hold are read again and, if neither holds it, its storage hold is
// cleared, then they are read once more, setting it again if a hold was
// placed meanwhile, until a look agrees with what it last did (as
// releaseDocument does, holdSettleRounds rounds at most; then it is left
// held, with a WARN). Each step the store does not answer is tried again
// (retryTransient) while ctx lasts. A step that still fails leaves the
// version held (set again if it had been cleared), with the same WARN;
// the error returned says only that it could not be set again: the
// version may be listed without its storage hold under a hold that
// stands, and the caller takes it back.
func (s *Service) settleNewHold(ctx context.Context, caseID, docID string, v int) error {
	warn := func(why string, err error) {
		attrs := []any{slog.String("case", caseID), slog.String("document", docID), slog.Int("version", v), slog.String("why", why)}
		if err != nil {
			attrs = append(attrs, slog.Any("err", err))
		}
		s.log.WarnContext(ctx, "vault: a new version was left under storage hold: the holds on it could not be confirmed after it was added; place and release a hold on its document to clear them", attrs...)
	}
	// keepHeld sets the storage hold again after a step failed with it
	// possibly cleared.
	keepHeld := func(why string, cause error) error {
		if err := retryTransient(ctx, func(ctx context.Context) error { return s.holdVersion(ctx, caseID, docID, v, true) }); err != nil {
			return fmt.Errorf("hold new version: %w", err)
		}
		warn(why, cause)
		return nil
	}
	on := true
	for round := 1; ; round++ {
		var held bool
		err := retryTransient(ctx, func(ctx context.Context) (err error) {
			held, err = s.docHeld(ctx, caseID, docID)
			return err
		})
		switch {
		case err != nil && on:
			warn("read", err)
			return nil
		case err != nil:
			return keepHeld("read", err)
		case held == on:
			return nil
		case !held && round >= holdSettleRounds:
			warn("rounds", nil)
			return nil
		}
		if err := retryTransient(ctx, func(ctx context.Context) error { return s.holdVersion(ctx, caseID, docID, v, held) }); err != nil {
			if held {
				return fmt.Errorf("hold new version: %w", err)
			}
			// Cleared in part, perhaps after a placement's pass over
			// the document: set again.
			return keepHeld("release", err)
		}
		on = held
	}
}

// docHeld reports whether a document is held now, by its own hold or its
// case's. A record gone is held by its case's hold only.
func (s *Service) docHeld(ctx context.Context, caseID, docID string) (bool, error) {
	var r docRecord
	if _, err := s.meta.Get(ctx, docKey(caseID, docID), &r); err == nil && r.Hold != nil {
		return true, nil
	} else if err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return false, err
	}
	return s.CaseHeld(ctx, caseID)
}

// holdSettleRounds bounds how often releaseDocument sets a document's
// storage holds again and clears them again for holds placed and released
// meanwhile.
const holdSettleRounds = 4

// holdAllVersions sets the legal hold of every stored version of key (a
// key that is gone is left alone).
func holdAllVersions(ctx context.Context, store objstore.Store, key string, on bool) error {
	versions, err := store.Versions(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, v := range versions {
		if v.DeleteMarker {
			continue
		}
		if err := store.SetLegalHold(ctx, key, v.VersionID, on); err != nil {
			return fmt.Errorf("legal hold on %s: %w", key, err)
		}
	}
	return nil
}

// caseHold is the record of a hold on a whole case. Who placed it and why
// is kept by package retention; the vault only needs to know it stands.
type caseHold struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// CaseHeld reports whether the case is under a case-wide legal hold.
func (s *Service) CaseHeld(ctx context.Context, caseID string) (bool, error) {
	var h caseHold
	_, err := s.meta.Get(ctx, caseHoldKey(caseID), &h)
	if errors.Is(err, metastore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// SetCaseHold places (on) or releases a hold on every document of a case,
// including versions uploaded while it stands. Like DestroyDataKey it makes
// no access decision: package retention calls it after asking policy
// (hold.manage), as the actor it names, and audits the hold with its
// reason. Releasing keeps the storage holds of documents that have a hold
// of their own, including one placed while the release runs
// (releaseDocument reads each document again after clearing it).
// Placing answers *OvertakenError (the hold stands) if a disposal deleted
// some of the documents' stored versions while it ran.
func (s *Service) SetCaseHold(ctx context.Context, actorID, caseID string, on bool) error {
	// Audited first; case.hold.failed corrects it if the record does not
	// change. After the record the hold (or release) stands.
	ev := audit.Paired(audit.Event{Type: "case.hold", Actor: actorID, Case: caseID,
		Attrs: map[string]string{"on": strconv.FormatBool(on)}})
	// held reads the record back: the change landed if it says on.
	held := func(ctx context.Context) (bool, error) {
		h, err := s.CaseHeld(ctx, caseID)
		return h == on, err
	}
	if err := s.record(ctx, ev); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if on {
		// The storage holds first, then the record, then the storage
		// holds again (as SetHold does): a disposal re-reads the record
		// right before each delete (Dispose), so one that deletes a
		// version after this record is written read it before, and
		// either its delete meets the storage hold the first pass set,
		// or the first pass found the version deleted since it listed
		// it (overtaken), or it deleted the version before the first
		// pass listed it — before the record, so before the hold stood.
		// The second pass holds what was staged meanwhile (holdStored).
		first, err := s.holdStored(ctx, caseID)
		if err != nil {
			// The record was not touched: the change is known absent.
			s.settle(ctx, ev, "case.hold", err, nil)
			return err
		}
		if _, err := s.meta.Create(ctx, caseHoldKey(caseID), caseHold{By: actorID, At: s.now().UTC()}); err != nil && !errors.Is(err, metastore.ErrExists) {
			s.settle(ctx, ev, "case.hold", err, held)
			return err
		}
		second, err := s.holdStored(ctx, caseID)
		if err != nil {
			return err
		}
		if gone := append(first, second...); len(gone) > 0 {
			return &OvertakenError{Case: caseID, Versions: gone}
		}
		return nil
	}
	if err := s.meta.Delete(ctx, caseHoldKey(caseID)); err != nil {
		s.settle(ctx, ev, "case.hold", err, held)
		return err
	}
	return s.eachDocument(ctx, caseID, func(d *docRecord) error {
		switch {
		case d.Hold != nil:
			return nil // held by its own hold
		default:
			// Read again after clearing: a document hold placed
			// meanwhile is set again (releaseDocument).
			return s.releaseDocument(ctx, d)
		}
	})
}

// OvertakenError is what SetCaseHold answers when a disposal deleted
// stored versions of the case's documents (their keys or ciphertext)
// while the hold was being placed: the hold stands on what remains, but
// not on those. Versions names them (document and version number).
type OvertakenError struct {
	Case     string
	Versions []VersionRef
}

func (e *OvertakenError) Error() string {
	return fmt.Sprintf("a disposal destroyed %d document version(s) of case %s while its hold was being placed", len(e.Versions), e.Case)
}

// Unwrap: the hold stands, but not on everything it was asked for.
func (e *OvertakenError) Unwrap() error { return fault.ErrConflict }

// holdStored sets the storage hold of every stored version of every
// version record and ciphertext object of a case: those its documents
// list, and those staged by an upload whose document record change is
// not listed yet — one answered ErrUnconfirmed may still land after
// this pass, and must not land unheld. An upload reads the case hold
// after it staged its version (and holds the version itself if it sees
// the hold) and before it writes the record that lists it; SetCaseHold
// writes its record before its second pass. So either the upload sees
// the hold or its staged objects are here to be held, whenever its
// record lands.
//
// A version deleted between the listing and its storage hold is either
// an upload's, unstaged (its document record does not list it), or a
// disposal's: it is returned (overtaken), once per document version,
// when its document's record lists it or is gone (a document disposed
// of whole; an upload of a new document taken back reads the same, and
// is reported too: the safe side).
//
// The versions are listed first, then held holdParallel at a time (a
// case of many documents is held within the PlaceHold request).
func (s *Service) holdStored(ctx context.Context, caseID string) ([]VersionRef, error) {
	var all []objstore.Version
	for _, prefix := range []string{"vault/" + caseID + "/versions/", "docs/" + caseID + "/"} {
		err := s.store.VersionsUnder(ctx, prefix, func(v objstore.Version) error {
			if !v.DeleteMarker {
				all = append(all, v)
			}
			return nil
		})
		if err != nil && !errors.Is(err, objstore.ErrNotFound) {
			return nil, err
		}
	}
	errs := make([]error, len(all))
	deleted := make([]bool, len(all))
	workers.Run(len(all), holdParallel, func(i int) {
		v := all[i]
		err := s.store.SetLegalHold(ctx, v.Key, v.VersionID, true)
		switch {
		case errors.Is(err, objstore.ErrNotFound):
			deleted[i] = true // deleted since the listing
		case err != nil:
			errs[i] = fmt.Errorf("legal hold on %s: %w", v.Key, err)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var gone []VersionRef
	seen := map[VersionRef]bool{}
	for i, v := range all {
		if !deleted[i] {
			continue
		}
		ref, ok := storedRef(caseID, v.Key)
		if !ok || seen[ref] {
			continue
		}
		seen[ref] = true
		var d docRecord
		_, err := s.meta.Get(ctx, docKey(caseID, ref.Doc), &d)
		switch {
		case errors.Is(err, metastore.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("read back document %s after its version was deleted: %w", ref.Doc, err)
		default:
			if _, listed := d.version(ref.Version); !listed {
				continue // an upload's, unstaged
			}
		}
		gone = append(gone, ref)
	}
	return gone, nil
}

// storedRef names the document version a stored key record
// (versionKey) or ciphertext object (objectKey) of caseID belongs to.
func storedRef(caseID, key string) (VersionRef, bool) {
	var rest string
	switch {
	case strings.HasPrefix(key, "vault/"+caseID+"/versions/"):
		rest = strings.TrimPrefix(key, "vault/"+caseID+"/versions/")
	case strings.HasPrefix(key, "docs/"+caseID+"/"):
		rest = strings.TrimPrefix(key, "docs/"+caseID+"/")
	default:
		return VersionRef{}, false
	}
	doc, num, ok := strings.Cut(rest, "/")
	if !ok {
		return VersionRef{}, false
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return VersionRef{}, false
	}
	return VersionRef{Case: caseID, Doc: doc, Version: n}, true
}

// holdParallel is how many storage holds holdStored sets at a time.
const holdParallel = 8

// eachDocument calls fn with every document record of a case.
func (s *Service) eachDocument(ctx context.Context, caseID string, fn func(*docRecord) error) error {
	return s.meta.List(ctx, docPrefix(caseID), func(key string) error {
		var d docRecord
		if _, err := s.meta.Get(ctx, key, &d); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				return nil // disposed meanwhile
			}
			return err
		}
		return fn(&d)
	})
}
