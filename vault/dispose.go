package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// Disposal, in the order package retention runs it (NIST SP 800-88
// cryptographic erase, then clean-up); Dispose (dispose_bulk.go) runs
// steps 1–3 for a page of records, DestroyCaseKeys step 4:
//
//  1. every stored copy of each version's wrapped data key goes. From
//     here on the ciphertext is noise, wherever copies of it live (old
//     object versions, backups).
//  2. every stored version of the ciphertext goes.
//  3. once none of a document's versions remains, every stored version of
//     its record (names, media types, hashes) goes.
//  4. once no document of the case remains, every stored
//     version of the case key goes, so backups of the records taken
//     before disposal open nothing either.
//
// Each step is idempotent and runs only on what the one before it
// finished, so a
// crash anywhere leaves nothing readable that was meant to be gone, and
// running the same steps again finishes the work. None of them makes an
// access decision: the retention job calls them under its own policy, as
// the actor it names. Every one refuses a held document or case.

// ErrHeld: the document or its case is under legal hold.
var ErrHeld = objstore.ErrHeld

// ErrErasedHeld: the version's key was destroyed (it is crypto-erased),
// but a hold placed while it was being destroyed keeps its ciphertext
// (Dispose).
var ErrErasedHeld = errors.New("its key is destroyed; a hold placed meanwhile keeps its unreadable ciphertext")

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

// RecordsAndStaged is Records, and a count of the version records of the
// case that no document in that same read lists:
// versions staged by uploads under way, or by uploads whose record change
// was not confirmed (ErrUnconfirmed) and may still land, until the
// retention sweep removes them (abandoned-upload). The version records
// are listed first and the documents read once after: a record change
// that lands after the listing is seen by the read, one that lands after
// the read is of a version in the listing that the read does not list.
// (Two reads of the documents would miss one landing between them in the
// first and count it listed in the second.) Retention reads it after
// fencing a case: an upload reads the fence again once its version is
// staged, before its record change, so a version staged after the
// listing is of an upload refused. Every staged version counts, however
// old: the case record's disposal does not reach its ciphertext (under
// docs/<case>/, which documents kept longer than the case share), so a
// case disposed of around one would leave that behind until the sweep.
func (s *Service) RecordsAndStaged(ctx context.Context, caseID string) ([]Record, int, error) {
	staged := map[string]bool{}
	err := s.store.List(ctx, "vault/"+caseID+"/versions/", func(info objstore.Info) error {
		staged[info.Key] = true
		return nil
	})
	if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return nil, 0, err
	}
	recs, err := s.Records(ctx, caseID)
	if err != nil {
		return nil, 0, err
	}
	for _, r := range recs {
		for _, v := range r.Versions {
			delete(staged, versionKey(caseID, r.Doc, v.Version))
		}
	}
	return recs, len(staged), nil
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
// write of the document record or, after it, by the storage hold on the
// key record. The audit entries (keyEvents, with attrs added) are
// appended, in one batch, before any key is destroyed.
//
// Per document, the record is first marked (its versions Erased, one
// conditional write), then every stored version of each key record is
// deleted. A version already marked has had its audit entry; a rerun
// after a crash between the two deletes its key without another entry.
func (s *Service) DestroyDataKeys(ctx context.Context, actorID string, refs []VersionRef, attrs map[string]string, parallel int) []error {
	errs := make([]error, len(refs))
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
	docs := groupByDoc(refs)
	pending := make([]bool, len(refs))
	workers.Run(len(docs), parallel, func(j int) {
		d := docs[j]
		if held[d.caseID] {
			d.fail(errs, fmt.Errorf("case %s is under legal hold: %w", d.caseID, ErrHeld))
			return
		}
		etag, err := s.meta.Get(ctx, docKey(d.caseID, d.docID), &d.rec)
		switch {
		case errors.Is(err, metastore.ErrNotFound):
			return // purged already (step 3): every key is gone
		case err != nil:
			d.fail(errs, err)
			return
		case d.rec.Hold != nil:
			d.fail(errs, fmt.Errorf("document %s is under legal hold: %w", d.docID, ErrHeld))
			return
		}
		d.etag, d.found = etag, true
		for _, i := range d.idx {
			v, ok := d.rec.version(refs[i].Version)
			if !ok {
				errs[i] = fmt.Errorf("document %s version %d: %w", d.docID, refs[i].Version, fault.ErrNotFound)
			}
			pending[i] = ok && !v.Erased
		}
	})
	var due []VersionRef
	for i, r := range refs {
		if pending[i] && errs[i] == nil {
			due = append(due, r)
		}
	}
	events := keyEvents(actorID, due, attrs, s.now().UTC())
	if len(events) > 0 {
		if _, err := s.audit.AppendBatch(ctx, events); err != nil {
			return fill(errs, fmt.Errorf("audit: %w", err))
		}
	}
	workers.Run(len(docs), parallel, func(j int) {
		d := docs[j]
		var todo []int
		for _, i := range d.idx {
			if errs[i] == nil {
				todo = append(todo, i)
			}
		}
		if len(todo) == 0 {
			return
		}
		var versions []int // nil: the record is gone, and so is every version
		if d.found {
			versions = make([]int, len(todo))
			for k, i := range todo {
				versions[k] = refs[i].Version
			}
			if err := s.markErased(ctx, d.caseID, d.docID, &d.rec, d.etag, versions); err != nil {
				for _, i := range todo {
					errs[i] = err
				}
				return
			}
		}
		// The share requests about the erased versions go with them (a
		// rerun after a failure here finds the versions marked and tries
		// again).
		if err := s.dropRequests(ctx, d.caseID, d.docID, versions); err != nil {
			for _, i := range todo {
				errs[i] = err
			}
			return
		}
		for _, i := range todo {
			errs[i] = deleteAllVersions(ctx, s.store, versionKey(d.caseID, d.docID, refs[i].Version))
		}
	})
	return errs
}

// keyEvents are the audit entries for destroyed keys: "doc.key.destroyed",
// one per case and run of up to 64 versions, naming the documents in
// Objects and their versions, in the same order, in Attrs["versions"]
// (comma-separated). Batching keeps a purge of thousands of versions from
// writing thousands of entries one after another, while every destroyed
// key is still named in the log.
func keyEvents(actorID string, refs []VersionRef, attrs map[string]string, now time.Time) []audit.Event {
	var out []audit.Event
	var cur *audit.Event
	var versions []string
	flush := func() {
		if cur != nil {
			cur.Attrs["versions"] = strings.Join(versions, ",")
			out = append(out, *cur)
			cur, versions = nil, nil
		}
	}
	for _, r := range refs {
		v := strconv.Itoa(r.Version)
		if cur != nil && (cur.Case != r.Case || len(cur.Objects) == 64 || len(strings.Join(versions, ","))+1+len(v) > audit.MaxAttrValue) {
			flush()
		}
		if cur == nil {
			a := maps.Clone(attrs)
			if a == nil {
				a = map[string]string{}
			}
			cur = &audit.Event{Type: "doc.key.destroyed", Actor: actorID, Case: r.Case, Attrs: a, Time: now}
		}
		cur.Objects = append(cur.Objects, r.Doc)
		versions = append(versions, v)
	}
	flush()
	return out
}

// docRefs are the refs of one document (indexes into the refs slice) and
// what DestroyDataKeys read of it.
type docRefs struct {
	caseID, docID string
	idx           []int
	rec           docRecord
	etag          string
	found         bool
}

func (d *docRefs) fail(errs []error, err error) {
	for _, i := range d.idx {
		errs[i] = err
	}
}

// groupByDoc groups refs by document, in order of first appearance.
func groupByDoc(refs []VersionRef) []*docRefs {
	var docs []*docRefs
	byDoc := map[VersionRef]*docRefs{}
	for i, r := range refs {
		k := VersionRef{Case: r.Case, Doc: r.Doc}
		d := byDoc[k]
		if d == nil {
			d = &docRefs{caseID: r.Case, docID: r.Doc}
			byDoc[k] = d
			docs = append(docs, d)
		}
		d.idx = append(d.idx, i)
	}
	return docs
}

// markErased marks versions of a document erased with one conditional
// write of the record read at etag, or, if it changed meanwhile (a hold,
// a new version), by reading it again: a hold placed since refuses. An
// erased version keeps only its number, its date, its uploader (the
// document's sides of a record from before they were recorded are
// derived from them: legacySides), whether it was end to end and when it
// was erased (this node's clock); its name, media type, hashes and size
// go with its content (eraseVersion).
func (s *Service) markErased(ctx context.Context, caseID, docID string, rec *docRecord, etag string, versions []int) error {
	at := s.now().UTC()
	mark := func(d *docRecord) (changed bool) {
		for k := range d.Versions {
			if slices.Contains(versions, d.Versions[k].Version) && !d.Versions[k].Erased {
				eraseVersion(&d.Versions[k], &at)
				changed = true
			}
		}
		// An entry erased before erasing cleared its content fields
		// (scrubErased) is cleared with the write that marks these.
		return scrubErased(d) || changed
	}
	if !mark(rec) {
		return nil
	}
	_, err := s.meta.Replace(ctx, docKey(caseID, docID), rec, etag)
	if !errors.Is(err, metastore.ErrConflict) {
		return err
	}
	_, err = metastore.Update(ctx, s.meta, docKey(caseID, docID), func(d *docRecord) error {
		if d.Hold != nil {
			return fmt.Errorf("document %s is under legal hold: %w", docID, ErrHeld)
		}
		mark(d)
		return nil
	})
	if errors.Is(err, metastore.ErrNotFound) {
		return nil
	}
	return err
}

func fill(errs []error, err error) []error {
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	return errs
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

// gone reports whether no version of key is stored. Every object the
// disposal steps delete is written create-only and its versions are
// deleted oldest first, so the key has no version left exactly when it
// has no latest one: a HEAD answers, no listing needed.
func gone(ctx context.Context, store objstore.Store, key string) (bool, error) {
	_, err := store.Stat(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return true, nil
	}
	return false, err
}

// DestroyCaseKey deletes every stored version of the case key once no
// document of the case remains, and reports whether the key is gone. A
// held case keeps its key.
func (s *Service) DestroyCaseKey(ctx context.Context, actorID, caseID string) (bool, error) {
	gone, errs := s.DestroyCaseKeys(ctx, actorID, []string{caseID}, nil, 1)
	return gone[0], errs[0]
}

// DestroyCaseKeys is DestroyCaseKey for many cases, parallel at a time,
// with one audit batch ("case.key.destroyed", up to 64 case ids in
// Objects per entry, attrs added) before any key is destroyed.
func (s *Service) DestroyCaseKeys(ctx context.Context, actorID string, caseIDs []string, attrs map[string]string, parallel int) ([]bool, []error) {
	isGone := make([]bool, len(caseIDs))
	errs := make([]error, len(caseIDs))
	destroy := make([]bool, len(caseIDs))
	workers.Run(len(caseIDs), parallel, func(i int) {
		destroy[i], isGone[i], errs[i] = s.caseKeyDue(ctx, caseIDs[i])
	})
	var due []string
	for i, id := range caseIDs {
		if destroy[i] {
			due = append(due, id)
		}
	}
	for chunk := range slices.Chunk(due, 64) {
		a := maps.Clone(attrs)
		if a == nil {
			a = map[string]string{}
		}
		a["cases"] = strconv.Itoa(len(chunk))
		if err := s.record(ctx, audit.Event{Type: "case.key.destroyed", Actor: actorID, Objects: chunk, Attrs: a}); err != nil {
			return isGone, fill(errs, fmt.Errorf("audit: %w", err))
		}
	}
	workers.Run(len(caseIDs), parallel, func(i int) {
		if destroy[i] {
			errs[i] = deleteAllVersions(ctx, s.store, caseKeyObject(caseIDs[i]))
			isGone[i] = errs[i] == nil
		}
	})
	return isGone, errs
}

// CaseKeyDue reports whether DestroyCaseKey would destroy a case's key
// now.
func (s *Service) CaseKeyDue(ctx context.Context, caseID string) (bool, error) {
	due, _, err := s.caseKeyDue(ctx, caseID)
	return due, err
}

// caseKeyDue reports whether a case's key is to be destroyed now (no hold,
// no document left, no version staged, key still stored) and whether it
// is gone already. The version records are listed too: a version staged
// by an upload whose document record is not written yet keeps the key
// (retention fences a case that stands before it looks: such an upload
// read no fence after staging, so its version is listed here).
func (s *Service) caseKeyDue(ctx context.Context, caseID string) (due, isGone bool, err error) {
	held, err := s.CaseHeld(ctx, caseID)
	if err != nil || held {
		return false, false, err
	}
	remaining := 0
	count := func(string) error { remaining++; return nil }
	if err := s.store.List(ctx, "vault/"+caseID+"/versions/", func(objstore.Info) error { return count("") }); err != nil {
		return false, false, err
	}
	if err := s.meta.List(ctx, docPrefix(caseID), count); err != nil {
		return false, false, err
	}
	if remaining > 0 {
		return false, false, nil
	}
	ok, err := gone(ctx, s.store, caseKeyObject(caseID))
	return !ok && err == nil, ok, err
}
