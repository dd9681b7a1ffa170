package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// Dispose runs the first three disposal steps for many versions at once,
// the way the retention job needs them: per case, one versioned listing
// and one bulk delete for each kind of object, instead of a listing and a
// delete per object.
//
//  1. keys: the document records are read (a document or case under hold
//     is refused with ErrHeld), the audit entries appended (keyEvents),
//     then every stored version of every version record — the wrapped
//     data keys — deleted, the case holds read again first. A hold
//     placed since then is refused by the store itself (a hold reaches
//     the objects before its record) or finds, in its first pass, the
//     versions deleted since it listed them, and says so (SetCaseHold).
//  2. ciphertext: every stored version of the ciphertext of each version
//     whose key is now gone.
//  3. records: every stored version of the record of each document none
//     of whose versions remains; a document keeping versions (not due)
//     has the disposed ones marked erased instead.
//
// The case holds are read again right before the keys are deleted. A
// version whose key was deleted and whose ciphertext a hold placed
// meanwhile then kept is answered ErrErasedHeld (crypto-erased, its
// record marked erased), never ErrHeld.
//
// step, if not nil, is called after each step with its name ("keys",
// "ciphertext", "records"); an error from it stops Dispose there, as a
// crash would. Dispose returns one error per ref (nil: disposed, now or
// before; ErrHeld: kept) and an error that stopped it. Running it again
// after a stop finishes the work without new audit entries for keys
// already destroyed: which keys are pending is read from the store.
func (s *Service) Dispose(ctx context.Context, actorID string, refs []VersionRef, attrs map[string]string, parallel int, step func(string) error) ([]error, error) {
	errs := make([]error, len(refs))
	docs := groupByDoc(refs)
	var caseIDs []string
	held := map[string]bool{}
	for _, r := range refs {
		if _, ok := held[r.Case]; !ok {
			held[r.Case] = false
			caseIDs = append(caseIDs, r.Case)
		}
	}
	caseErrs := make([]error, len(caseIDs))
	caseHeld := make([]bool, len(caseIDs))
	workers.Run(len(caseIDs), parallel, func(i int) { caseHeld[i], caseErrs[i] = s.CaseHeld(ctx, caseIDs[i]) })
	if err := errors.Join(caseErrs...); err != nil {
		return errs, err
	}
	for i, id := range caseIDs {
		held[id] = caseHeld[i]
	}
	workers.Run(len(docs), parallel, func(j int) {
		d := docs[j]
		if held[d.caseID] {
			d.fail(errs, fmt.Errorf("case %s is under legal hold: %w", d.caseID, ErrHeld))
			return
		}
		etag, err := s.meta.Get(ctx, docKey(d.caseID, d.docID), &d.rec)
		d.etag = etag
		switch {
		case errors.Is(err, metastore.ErrNotFound):
			return // purged already: leftovers, if any, go below
		case err != nil:
			d.fail(errs, err)
			return
		case d.rec.Hold != nil:
			d.fail(errs, fmt.Errorf("document %s is under legal hold: %w", d.docID, ErrHeld))
			return
		}
		d.found = true
		for _, i := range d.idx {
			if _, ok := d.rec.version(refs[i].Version); !ok {
				errs[i] = fmt.Errorf("document %s version %d: %w", d.docID, refs[i].Version, fault.ErrNotFound)
			}
		}
	})

	// 1. Keys.
	keys, err := s.listUnder(ctx, caseIDs, parallel, func(c string) string { return "vault/" + c + "/versions/" })
	if err != nil {
		return errs, err
	}
	// The case holds read again, right before the keys go: a case hold
	// whose record is written from now on finds, in its first storage
	// pass (SetCaseHold), every version deleted below either still there
	// (and held: the delete is refused) or deleted since it listed it
	// (overtaken: its placement says so).
	workers.Run(len(caseIDs), parallel, func(i int) { caseHeld[i], caseErrs[i] = s.CaseHeld(ctx, caseIDs[i]) })
	if err := errors.Join(caseErrs...); err != nil {
		return errs, err
	}
	for i, id := range caseIDs {
		held[id] = caseHeld[i]
	}
	for i, r := range refs {
		if errs[i] == nil && held[r.Case] {
			errs[i] = fmt.Errorf("case %s is under legal hold: %w", r.Case, ErrHeld)
		}
	}
	var due []VersionRef
	for i, r := range refs {
		if errs[i] == nil && len(keys[versionKey(r.Case, r.Doc, r.Version)]) > 0 {
			due = append(due, r)
		}
	}
	if events := keyEvents(actorID, due, attrs, s.now().UTC()); len(events) > 0 {
		if _, err := s.audit.AppendBatch(ctx, events); err != nil {
			return errs, fmt.Errorf("audit: %w", err)
		}
	}
	s.deleteFor(ctx, refs, errs, keys, func(r VersionRef) string { return versionKey(r.Case, r.Doc, r.Version) })
	keyGone := make([]bool, len(refs))
	for i := range refs {
		keyGone[i] = errs[i] == nil
	}
	if err := callStep(step, "keys"); err != nil {
		return errs, err
	}

	// 2. Ciphertext, of versions whose key is gone (errs[i] == nil).
	texts, err := s.listUnder(ctx, caseIDs, parallel, func(c string) string { return "docs/" + c + "/" })
	if err != nil {
		return errs, err
	}
	s.deleteFor(ctx, refs, errs, texts, func(r VersionRef) string { return objectKey(r.Case, r.Doc, r.Version) })
	// A version whose key is gone is crypto-erased, whatever keeps its
	// ciphertext: a hold placed while its key was being deleted
	// (SetCaseHold says it was overtaken) is not a reason to call it kept.
	for i, r := range refs {
		if keyGone[i] && errors.Is(errs[i], objstore.ErrHeld) {
			errs[i] = fmt.Errorf("document %s version %d: %w", r.Doc, r.Version, ErrErasedHeld)
		}
	}
	if err := callStep(step, "ciphertext"); err != nil {
		return errs, err
	}

	// 3. Records.
	records, err := s.listUnder(ctx, caseIDs, parallel, func(c string) string { return docPrefix(c) })
	if err != nil {
		return errs, err
	}
	whole := make([]bool, len(docs))
	markErrs := make([]error, len(docs))
	workers.Run(len(docs), parallel, func(j int) {
		d := docs[j]
		disposed := map[string]bool{}
		var versions []int
		erasedHeld := false
		for _, i := range d.idx {
			if errors.Is(errs[i], ErrErasedHeld) {
				// Marked erased; its ciphertext, held, keeps the
				// record.
				erasedHeld = true
				versions = append(versions, refs[i].Version)
				continue
			}
			if errs[i] != nil {
				return // kept or failed: the record stays as it is
			}
			disposed[versionKey(d.caseID, d.docID, refs[i].Version)] = true
			disposed[objectKey(d.caseID, d.docID, refs[i].Version)] = true
			versions = append(versions, refs[i].Version)
		}
		if !erasedHeld && !remains(keys, "vault/"+d.caseID+"/versions/"+d.docID+"/", disposed) &&
			!remains(texts, "docs/"+d.caseID+"/"+d.docID+"/", disposed) {
			// Its share requests go before its record: a failure here
			// keeps the record, and a rerun finds the document whole.
			whole[j] = true
			markErrs[j] = s.dropRequests(ctx, d.caseID, d.docID, nil)
		} else if d.found {
			if markErrs[j] = s.markErased(ctx, d.caseID, d.docID, &d.rec, d.etag, versions); markErrs[j] == nil {
				markErrs[j] = s.dropRequests(ctx, d.caseID, d.docID, versions)
			}
		}
	})
	// Older versions of the records first, the latest ones after: until a
	// record's latest version goes, it reads as it did.
	for _, latest := range []bool{false, true} {
		var purge []objstore.Info
		var purgeRefs [][]int
		for j, d := range docs {
			if markErrs[j] != nil {
				d.fail(errs, markErrs[j])
			}
			if !whole[j] || errs[d.idx[0]] != nil {
				continue
			}
			for k, v := range records[docKey(d.caseID, d.docID)] {
				if (k == 0) == latest {
					purge = append(purge, v)
					purgeRefs = append(purgeRefs, d.idx)
				}
			}
		}
		for k, err := range s.store.DeleteVersions(ctx, purge) {
			if err != nil {
				for _, i := range purgeRefs[k] {
					errs[i] = err
				}
			}
		}
	}
	if err := callStep(step, "records"); err != nil {
		return errs, err
	}
	return errs, nil
}

func callStep(step func(string) error, name string) error {
	if step == nil {
		return nil
	}
	return step(name)
}

// listUnder lists every stored version under prefix(case) for each case,
// by key.
func (s *Service) listUnder(ctx context.Context, caseIDs []string, parallel int, prefix func(string) string) (map[string][]objstore.Info, error) {
	lists := make([]map[string][]objstore.Info, len(caseIDs))
	errs := make([]error, len(caseIDs))
	workers.Run(len(caseIDs), parallel, func(i int) {
		m := map[string][]objstore.Info{}
		errs[i] = s.store.VersionsUnder(ctx, prefix(caseIDs[i]), func(v objstore.Version) error {
			m[v.Key] = append(m[v.Key], v.Info)
			return nil
		})
		lists[i] = m
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := map[string][]objstore.Info{}
	for _, m := range lists {
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// deleteFor deletes, in one bulk call, every listed version of the object
// keyOf names for each ref not yet failed, oldest first, and records
// failures (ErrHeld for a held version) against the refs.
func (s *Service) deleteFor(ctx context.Context, refs []VersionRef, errs []error, listed map[string][]objstore.Info, keyOf func(VersionRef) string) {
	var batch []objstore.Info
	var owner []int
	for i, r := range refs {
		if errs[i] != nil {
			continue
		}
		vs := listed[keyOf(r)]
		for k := len(vs) - 1; k >= 0; k-- {
			batch = append(batch, vs[k])
			owner = append(owner, i)
		}
	}
	for k, err := range s.store.DeleteVersions(ctx, batch) {
		if err != nil && errs[owner[k]] == nil {
			errs[owner[k]] = err
		}
	}
}

// remains reports whether any listed key under prefix is not disposed.
func remains(listed map[string][]objstore.Info, prefix string, disposed map[string]bool) bool {
	for k := range listed {
		if strings.HasPrefix(k, prefix) && !disposed[k] {
			return true
		}
	}
	return false
}

// ErasedHeld settles versions a hold placed since planning keeps but
// whose key an earlier run of Dispose deleted before it stopped (a crash
// after its keys step, the hold placed before the rerun): a version whose
// key record is gone is crypto-erased, whatever keeps its ciphertext. Each
// such version is marked erased in its document's record, as Dispose
// marks one it answers ErrErasedHeld, and its share requests dropped;
// nothing is deleted, and no audit entry is added (the run that deleted
// the key appended its doc.key.destroyed first). It returns, per ref,
// whether the version is crypto-erased (its key gone, its record marked
// or gone). A version whose key remains, or whose document is under its
// own hold, is not, and is left as it is.
func (s *Service) ErasedHeld(ctx context.Context, refs []VersionRef, parallel int) ([]bool, error) {
	erased := make([]bool, len(refs))
	docs := groupByDoc(refs)
	errs := make([]error, len(docs))
	workers.Run(len(docs), parallel, func(j int) {
		d := docs[j]
		etag, err := s.meta.Get(ctx, docKey(d.caseID, d.docID), &d.rec)
		switch {
		case errors.Is(err, metastore.ErrNotFound):
			// Purged: its record went after its keys (Dispose step 3).
		case err != nil:
			errs[j] = err
			return
		case d.rec.Hold != nil:
			return // the document's own hold: left as it is
		default:
			d.etag, d.found = etag, true
		}
		var versions []int
		for _, i := range d.idx {
			if d.found {
				if _, ok := d.rec.version(refs[i].Version); !ok {
					continue
				}
			}
			g, err := noVersionLeft(ctx, s.store, versionKey(d.caseID, d.docID, refs[i].Version))
			if err != nil {
				errs[j] = err
				return
			}
			if g {
				erased[i] = true
				versions = append(versions, refs[i].Version)
			}
		}
		if !d.found || len(versions) == 0 {
			return
		}
		err = s.markErased(ctx, d.caseID, d.docID, &d.rec, d.etag, versions)
		if err == nil {
			err = s.dropRequests(ctx, d.caseID, d.docID, versions)
		}
		if err != nil {
			for _, i := range d.idx {
				erased[i] = false
			}
		}
		if !errors.Is(err, ErrHeld) { // a document hold placed meanwhile: left as it is
			errs[j] = err
		}
	})
	return erased, errors.Join(errs...)
}

// noVersionLeft reports whether no version of key is stored, delete
// markers aside. ErasedHeld asks it of a key record a hold may keep: a
// delete without a version id (which object lock allows, as would an
// operator's `mc rm` without --versions) writes a marker over the held
// versions, so a HEAD answers not found while the key still opens once
// the marker goes. A version record is also rewritten in place (wraps,
// upgrades), so `gone`'s create-only reasoning does not hold for it.
func noVersionLeft(ctx context.Context, store objstore.Store, key string) (bool, error) {
	vs, err := store.Versions(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, v := range vs {
		if !v.DeleteMarker {
			return false, nil
		}
	}
	return true, nil
}
