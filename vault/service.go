package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// Config is what a Service needs.
type Config struct {
	Meta      *metastore.Store // records; its object store holds the ciphertext too
	Cases     *cases.Service
	MasterKey *kms.MasterKey
	Policy    *policy.Engine
	Audit     *audit.Log
	// MaxSize limits one version's plaintext (default DefaultMaxSize).
	MaxSize int64
	// Log receives the vault's warnings, among them the details of
	// failures the audit log records only by ids, counts and a reason
	// code (slog.Default() when nil).
	Log *slog.Logger
	// Limiter counts each person's new documents per case
	// (MaxNewDocumentsPerDay); one per process when nil, which only
	// holds on a single node.
	Limiter ratelimit.Limiter
}

// Service is the document vault.
type Service struct {
	meta    *metastore.Store
	store   objstore.Store
	cases   *cases.Service
	mk      *kms.MasterKey
	policy  *policy.Engine
	audit   *audit.Log
	maxSize int64
	now     func() time.Time
	log     *slog.Logger
	// maxDocs and maxVersions are MaxDocumentsPerCase and
	// MaxVersionsPerDocument (tests lower them).
	maxDocs, maxVersions int
	// placeStale is when an upload's place claim is counted out
	// (defaultPlaceStale; tests lower it).
	placeStale time.Duration
	// reserve and perDay are MediatorReserve and MaxNewDocumentsPerDay
	// (tests lower them); limiter counts new documents per person.
	reserve, perDay int
	limiter         ratelimit.Limiter
}

// New makes a vault service.
func New(cfg Config) (*Service, error) {
	if cfg.Meta == nil || cfg.Cases == nil || cfg.MasterKey == nil || cfg.Policy == nil || cfg.Audit == nil {
		return nil, errors.New("vault: New needs Meta, Cases, MasterKey, Policy and Audit")
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Limiter == nil {
		cfg.Limiter = ratelimit.NewMemory()
	}
	return &Service{meta: cfg.Meta, store: cfg.Meta.Objects(), cases: cfg.Cases, mk: cfg.MasterKey,
		policy: cfg.Policy, audit: cfg.Audit, maxSize: cfg.MaxSize, now: time.Now, log: cfg.Log,
		maxDocs: MaxDocumentsPerCase, maxVersions: MaxVersionsPerDocument, placeStale: defaultPlaceStale,
		reserve: MediatorReserve, perDay: MaxNewDocumentsPerDay, limiter: cfg.Limiter}, nil
}

// MaxSize is the limit on one version's plaintext.
func (s *Service) MaxSize() int64 { return s.maxSize }

// ---- access ----

// caseScope is one request's view of a case: the case and the actor's
// document decider for it.
type caseScope struct {
	c     *cases.Case
	actor account.Account
	dec   *policy.DocumentDecider
}

func (s *Service) scope(ctx context.Context, actor account.Account, caseID string) (*caseScope, error) {
	if !ids.Valid("c", caseID) {
		return nil, fmt.Errorf("case: %w", fault.ErrNotFound)
	}
	// A case the actor has no place in (a participant or mediator account
	// outside it) and a case that does not exist get one answer, audited
	// alike: another case's id cannot be probed through its documents.
	c, err := s.cases.Load(ctx, caseID)
	if errors.Is(err, fault.ErrNotFound) || err == nil && cases.Outsider(c, actor) {
		s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID, Attrs: map[string]string{"action": "case.documents"}})
		return nil, fmt.Errorf("case %s: %w", caseID, fault.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	// Which mediators no seated mediator has confirmed yet: they handle
	// none of the case's documents (cases.Service.Admission; policy
	// unconfirmed-mediators-handle-no-documents). Every decision of this
	// scope carries the fact; a mediator it refuses is told so at once, in
	// words, for every document request alike.
	if err := s.cases.Admission(ctx, c); err != nil {
		return nil, err
	}
	cs := &caseScope{c: c, actor: actor, dec: s.policy.Documents(actor.Principal(), c.Facts())}
	if actor.Role == policy.RoleMediator {
		probe := cs.dec.Decide(policy.DocList, policy.Document{Audience: policy.AudienceMediators, Class: "evidence"})
		if !probe.Allowed && slices.Contains(probe.Policies, cases.RuleUnconfirmedDocuments) {
			s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID,
				Attrs: map[string]string{"action": "case.documents", "rule": cases.RuleUnconfirmedDocuments}})
			return nil, c.NotConfirmed("open this case's documents")
		}
	}
	return cs, nil
}

func (cs *caseScope) allowed(a policy.Action, d policy.Document) bool {
	return cs.dec.Decide(a, d).Allowed
}

// denied audits a refusal and returns the error for it: not found when the
// actor may not even know the document exists (hidden), forbidden
// otherwise.
func (s *Service) denied(ctx context.Context, cs *caseScope, a policy.Action, docID string, d policy.Document) error {
	if docID != "" && !cs.allowed(policy.DocList, d) {
		return s.hidden(ctx, cs, a, docID)
	}
	s.record(ctx, refusal(cs, a, docID)) // best effort: the refusal stands either way
	return fmt.Errorf("%s: %w", a, fault.ErrForbidden)
}

// hidden answers for a document the actor may not know of and for one that
// does not exist, alike: the same audit entry, the same error, the same
// store work. "Not yours" and "not there" must not be told apart, by the
// answer or by the time it takes.
func (s *Service) hidden(ctx context.Context, cs *caseScope, a policy.Action, docID string) error {
	s.record(ctx, refusal(cs, a, docID)) // best effort
	return fmt.Errorf("document %s: %w", docID, fault.ErrNotFound)
}

func refusal(cs *caseScope, a policy.Action, docID string) audit.Event {
	ev := audit.Event{Type: "access.denied", Actor: cs.actor.ID, Case: cs.c.ID, Attrs: map[string]string{"action": string(a)}}
	if docID != "" {
		ev.Objects = []string{docID}
	}
	return ev
}

// loadDoc reads a document record and checks the actor may do a to it.
func (s *Service) loadDoc(ctx context.Context, cs *caseScope, docID string, a policy.Action) (*docRecord, error) {
	if !ids.Valid("d", docID) {
		return nil, fmt.Errorf("document: %w", fault.ErrNotFound)
	}
	var d docRecord
	_, err := s.meta.Get(ctx, docKey(cs.c.ID, docID), &d)
	if errors.Is(err, metastore.ErrNotFound) || (err == nil && len(d.Versions) == 0) {
		// Answered as a refusal of a document the actor may not know of
		// is: same audit entry, same error, same work. Otherwise the time
		// to answer (a refusal is audited, an absence was not) would tell
		// which ids name another side's documents.
		return nil, s.hidden(ctx, cs, a, docID)
	}
	if err != nil {
		return nil, err
	}
	if !cs.allowed(a, d.policyDoc()) {
		return nil, s.denied(ctx, cs, a, docID, d.policyDoc())
	}
	return &d, nil
}

func (s *Service) record(ctx context.Context, ev audit.Event) error {
	ev.Time = s.now().UTC()
	_, err := s.audit.Append(ctx, ev)
	return err
}

// settle follows ev, an entry appended before a change whose store call
// then returned cause, as audit.Settle says: a correction only once the
// record, read back, shows the change absent.
func (s *Service) settle(ctx context.Context, ev audit.Event, base string, cause error, landed func(context.Context) (bool, error)) {
	audit.Settle(ctx, s.record, s.log, "vault", ev, base, fault.Class(cause), landed)
}

// commit is the keyed hash that stands for a version's SHA-256 in the audit
// log: the log never holds something a guessed document could be checked
// against.
func (s *Service) commit(sha string) string { return "hmac:" + s.meta.IndexKey("vault/sha256", sha) }

// ---- upload ----

// NewDocument describes a new document.
type NewDocument struct {
	Name      string
	MediaType string
	Audience  Audience
	Class     Class
}

// NewVersion describes a new version; empty fields keep the latest
// version's name and media type.
type NewVersion struct {
	Name      string
	MediaType string
}

// Upload stores body as version 1 of a new document. body is streamed:
// encrypted a segment at a time into the object store, never held whole.
// The document becomes visible only once its ciphertext is wholly stored.
func (s *Service) Upload(ctx context.Context, actor account.Account, caseID string, n NewDocument, body io.Reader) (Document, error) {
	return s.upload(ctx, actor, caseID, n, body, ids.New("d"), nil)
}

func (s *Service) upload(ctx context.Context, actor account.Account, caseID string, n NewDocument, body io.Reader, docID string, e *e2eeUpload) (Document, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return Document{}, err
	}
	// Someone outside the case is refused before the audience is checked,
	// so the answer cannot tell them how many sides the case has or whether
	// an account takes part in it.
	if !s.policy.Decide(actor.Principal(), policy.CaseReadSummary, cs.c.Facts()).Allowed {
		return Document{}, s.denied(ctx, cs, policy.DocUpload, "", policy.Document{})
	}
	if err := cases.RefuseAdditions(cs.c); err != nil {
		return Document{}, err
	}
	name, err := checkName(n.Name)
	if err != nil {
		return Document{}, err
	}
	mt, err := checkMediaType(n.MediaType)
	if err != nil {
		return Document{}, err
	}
	if _, err := ParseClass(string(n.Class)); err != nil {
		return Document{}, err
	}
	if err := n.Audience.check(cs.c); err != nil {
		return Document{}, err
	}
	if n.Class == ClassMediatorNotes && n.Audience.Kind != policy.AudienceMediators {
		return Document{}, fault.Invalid("audience", "mediator notes are shared with the mediators only")
	}
	pd := policyDoc(n.Audience, n.Class)
	if !cs.allowed(policy.DocUpload, pd) {
		return Document{}, s.denied(ctx, cs, policy.DocUpload, "", pd)
	}
	if e != nil {
		// Checked once access is decided: the wrap must name this case,
		// the client's document id, version 1, this audience and the actor.
		if err := checkWrap(e.wrap, actor.ID, caseID, docID, 1, n.Audience, VersionInfo{Name: name, MediaType: mt}, true); err != nil {
			return Document{}, err
		}
	}
	places, counted, err := s.newDocumentAllowed(ctx, cs)
	if err != nil {
		return Document{}, err
	}
	doc, mayStand, err := s.uploadPlaced(ctx, cs, n, body, docID, e, name, mt, pd, places)
	if err != nil && counted && !mayStand {
		// Certainly not added (refused before its record was written, or
		// its record write refused): the attempt does not count against
		// the day's. One whose write failed in a way that may have landed
		// (a deadline, a lost answer), or that was taken back after it
		// was listed, stays counted.
		s.limiter.Undo(context.WithoutCancel(ctx), newDocKey(cs.c.ID, cs.actor.ID))
	}
	return doc, err
}

// uploadPlaced is upload once access is decided and the actor may add a
// new document: places is how many documents the case may hold for them.
// mayStand reports, with an error, whether the document's record may
// have been written all the same: false only when the upload stopped
// before its record write or that write was refused (refusedWrite), as
// the version-write path tells them apart (versionNotShown).
func (s *Service) uploadPlaced(ctx context.Context, cs *caseScope, n NewDocument, body io.Reader, docID string, e *e2eeUpload,
	name, mt string, pd policy.Document, places int) (doc Document, mayStand bool, err error) {
	actor, caseID := cs.actor, cs.c.ID
	if err := s.checkDocCount(ctx, caseID, places); err != nil {
		return Document{}, false, err
	}
	now := s.now().UTC()
	d := &docRecord{ID: docID, Case: caseID, Class: n.Class, Audience: n.Audience,
		Created: now, CreatedBy: actor.ID, NextVersion: 2, SidesRecorded: true}
	// A party's or lawyer's upload into their caucus is their side's own
	// material from the start (approval.go).
	keepSides(d, cs.c, actor.ID)
	recordVersionSide(d, cs.c, 1, actor.ID)
	v, ev, err := s.storeVersionAs(ctx, cs, d, 1, name, mt, body, e)
	if err != nil {
		if e != nil && errors.Is(err, objstore.ErrPrecondition) {
			return Document{}, false, fmt.Errorf("document %s exists already (this upload was sent before): upload it again under a new id: %w", docID, fault.ErrConflict)
		}
		return Document{}, false, err
	}
	d.Versions = []VersionInfo{v}
	// A hold on the whole case covers documents added under it. The
	// version is held before the document record makes it visible, so a
	// document is never listed under a case hold without its storage
	// hold; if the hold cannot be placed the upload fails and leaves no
	// document.
	held, err := s.CaseHeld(ctx, caseID)
	if err == nil && held {
		err = s.holdVersion(ctx, caseID, d.ID, 1, true)
	}
	if err != nil {
		s.unstageVersion(context.WithoutCancel(ctx), caseID, d.ID, 1)
		return Document{}, false, fmt.Errorf("hold new document: %w", err)
	}
	// The fence, read again now that the version is staged: retention
	// fences a case before it looks for staged versions (RecordsAndStaged),
	// so a record write that lands whenever it lands (even after an
	// ErrUnconfirmed answer) is either refused here or seen there.
	if err := s.refusedSince(ctx, caseID); err != nil {
		s.unstageVersion(context.WithoutCancel(ctx), caseID, d.ID, 1)
		return Document{}, false, err
	}
	if err := s.keyStands(ctx, caseID, d.ID, 1); err != nil {
		s.unstageVersion(context.WithoutCancel(ctx), caseID, d.ID, 1)
		return Document{}, false, err
	}
	// The place is claimed before the upload is audited: an upload the
	// case has no room for leaves no entry. The entry is appended before
	// the document record makes the version visible.
	claim, err := s.claimDocPlace(ctx, caseID, d.ID, places)
	if err != nil {
		s.unstageVersion(context.WithoutCancel(ctx), caseID, d.ID, 1)
		return Document{}, false, err
	}
	if ev, err = s.auditUpload(ctx, ev); err != nil {
		claim.release()
		s.unstageVersion(context.WithoutCancel(ctx), caseID, d.ID, 1)
		return Document{}, false, err
	}
	if err := claim.fresh(); err != nil {
		// The entry took too long to append: the claim may be counted
		// out elsewhere by now.
		claim.release()
		s.unstageVersion(context.WithoutCancel(ctx), caseID, d.ID, 1)
		s.uploadFailed(ctx, ev, err, nil)
		return Document{}, false, err
	}
	_, err = s.meta.Create(ctx, docKey(caseID, d.ID), d)
	claim.release()
	if err != nil {
		// The record may have been written all the same (a store that
		// writes and then answers an error): read back before anything
		// is deleted. A client-derived id already taken (only the same
		// account's earlier upload can hold it: e2ee.DocumentID) reads back as
		// another document, so the version stored above goes.
		if _, landed, refused := s.versionNotShown(ctx, ev, err, caseID, d.ID, v); !landed {
			if refused && e != nil && errors.Is(err, metastore.ErrExists) {
				return Document{}, false, fmt.Errorf("document %s exists already (this upload was sent before): upload it again under a new id: %w", docID, fault.ErrConflict)
			}
			if !refused {
				err = unconfirmed(err, d.ID, v.Version)
			}
			return Document{}, !refused, err
		}
		// Written despite the error: the document is listed, so the
		// upload goes on as if the write had answered.
	}
	// The document is visible now: what follows runs to its end whether
	// or not the caller is still there, as AddVersion's steps after its
	// write do (a caller that left right after the write must not have
	// its document taken back because a check read an ended context).
	post, cancel := context.WithTimeout(context.WithoutCancel(ctx), postVisibleTimeout)
	defer cancel()
	// The document is taken back, if at all, only by deleting its
	// record: once that succeeded the upload is known not to stand. A
	// record that cannot be deleted leaves the document listed (without
	// its hold, or in a case fenced meanwhile), its doc.upload entry
	// uncorrected (it did happen): a WARN says so, as AddVersion's
	// take-back does, so that an operator can hold or remove it, and the
	// uploader is told the upload is unconfirmed (it may still appear:
	// look before adding it again), never a plain failure to try again,
	// which would add it twice (review 372: storage down between the
	// record's write and the delete).
	//
	// A delete that answers an error may have landed all the same: the
	// record is read back first (takenBack), and a record gone is a
	// document taken back (review 376: before, it was answered
	// unconfirmed, with the WARN, and its doc.upload left uncorrected).
	takeBack := func(cause error) error {
		derr := s.meta.Delete(post, docKey(caseID, d.ID))
		if derr != nil {
			derr = s.takenBack(post, derr, caseID, d.ID, v)
		}
		if derr == nil {
			s.unstageVersion(post, caseID, d.ID, 1)
			s.uploadFailed(post, ev, cause, nil)
			return cause
		}
		s.log.WarnContext(post, "vault: a new document could not be taken back after its upload failed; it stays listed",
			"case", caseID, "doc", d.ID, "cause", fault.Class(cause), "err", derr)
		return unconfirmed(cause, d.ID, 1)
	}
	// Each check below that fails only because the store did not answer
	// is tried again (retryTransient) before the document is taken back:
	// a short outage right after the write does not fail the upload
	// (review 372). Meanwhile the document is listed, as it is while a
	// check runs; a refusal (the fence) or a hold the store refuses is
	// not tried again.
	checks, cancelChecks := context.WithTimeout(post, postVisibleRetry)
	defer cancelChecks()
	if !held {
		// A case hold placed while this upload ran: SetCaseHold writes
		// its record before it lists the documents, so either it listed
		// this one or it is seen here.
		err := retryTransient(checks, func(ctx context.Context) (err error) {
			held, err = s.CaseHeld(ctx, caseID)
			return err
		})
		if err == nil && held {
			err = retryTransient(checks, func(ctx context.Context) error { return s.holdVersion(ctx, caseID, d.ID, 1, true) })
		}
		if err != nil {
			// Not left listed without its hold: the upload never
			// succeeded, so its record and version go again.
			return Document{}, true, takeBack(fmt.Errorf("hold new document: %w", err))
		}
	}
	if held {
		// The case hold read above may have been released before the
		// document was listed, or before holdVersion set its storage
		// hold again: that release cleared what it listed, not this.
		// The holds are read again now that it is listed (review 387).
		if err := s.settleNewHold(checks, caseID, d.ID, 1); err != nil {
			return Document{}, true, takeBack(fmt.Errorf("hold new document: %w", err))
		}
	}
	if err := retryTransient(checks, func(ctx context.Context) error { return s.refusedSince(ctx, caseID) }); err != nil {
		return Document{}, true, takeBack(err)
	}
	return d.view(cs.allowed(policy.DocDownload, pd), true), true, nil
}

// newDocumentAllowed answers how many documents the case may hold for
// the actor to add one (places): all of maxDocs for a mediator of the
// case, all but the mediators' reserve for anyone else; and counts the
// new document against the actor's day (counted: the caller takes it
// back if the upload fails). A limiter that cannot be reached counts
// nothing and stops nothing.
func (s *Service) newDocumentAllowed(ctx context.Context, cs *caseScope) (places int, counted bool, err error) {
	if m, ok := cs.c.Mediator(cs.actor.ID); ok && m.Recused == nil {
		return s.maxDocs, false, nil
	}
	ok, after, err := s.limiter.Allow(ctx, newDocKey(cs.c.ID, cs.actor.ID), s.perDay, 24*time.Hour)
	switch {
	case err != nil:
		s.log.Warn("counting new documents failed; this one is not counted", "error", err.Error())
		return s.maxDocs - s.reserve, false, nil
	case !ok:
		return 0, false, &fault.RateLimitedError{RetryAfter: after, Reason: fmt.Sprintf(
			"you have added %s new documents to this case in the last day, the most one person may (new versions of documents already there are not counted)", count(s.perDay))}
	}
	return s.maxDocs - s.reserve, true, nil
}

// newDocKey is the limiter's key for one person's new documents in one case.
func newDocKey(caseID, actorID string) string { return "vault:new-documents:" + caseID + ":" + actorID }

// checkDocCount refuses a new document once the case has places,
// counting uploads that hold a place (claimDocPlace). It is the early
// answer, before a document's bytes are sent; claimDocPlace decides.
func (s *Service) checkDocCount(ctx context.Context, caseID string, places int) error {
	n, err := s.countDocs(ctx, caseID)
	if err != nil {
		return err
	}
	if n >= places {
		return s.errTooManyDocs(places)
	}
	return nil
}

// ErrUnconfirmed marks an upload whose bytes were stored but whose record
// write (the one that lists the new document or version) failed without
// being refused, or could not be read back: the addition may still
// appear. The store's error, which names internal keys, follows it in the
// chain for the logs; the web layer answers in words of its own (look for
// it before uploading it again), never with that error.
var ErrUnconfirmed = errors.New("vault: the upload was not confirmed")

// UnconfirmedError is an ErrUnconfirmed (errors.Is) naming what may still
// appear: version Version of document Doc (1 for a new document). A
// caller that keeps a reference to what it uploads (an agreement's text or
// signed PDF) looks for it there later.
type UnconfirmedError struct {
	Doc     string
	Version int
	cause   error
}

func (e *UnconfirmedError) Error() string   { return ErrUnconfirmed.Error() + ": " + e.cause.Error() }
func (e *UnconfirmedError) Unwrap() []error { return []error{ErrUnconfirmed, e.cause} }

// unconfirmed marks cause, the failed record write of an upload that may
// still land as version num of document docID, as ErrUnconfirmed.
func unconfirmed(cause error, docID string, num int) error {
	return &UnconfirmedError{Doc: docID, Version: num, cause: cause}
}

// ErrDocumentLimit marks the refusal of a new document in a case that
// already holds the most documents one case holds (a conflict); the web
// layer gives it a problem type of its own, so a client can say so in
// words rather than "it changed meanwhile".
var ErrDocumentLimit = errors.New("document limit")

// ErrVersionLimit marks the refusal of a new version of a document that
// already has the most versions one document holds (a conflict).
var ErrVersionLimit = errors.New("version limit")

// errTooManyDocs is the refusal of a new document in a case holding
// places documents: the most one case holds, or (places below maxDocs)
// the most its parties, lawyers and observers may add, the rest being
// kept for the mediators.
func (s *Service) errTooManyDocs(places int) error {
	if places < s.maxDocs {
		return fmt.Errorf("this case already has %s documents, the most its parties and lawyers may add (the rest are kept for the mediators); ask the mediator to add it, or add a new version of a document already there: %w: %w", count(places), ErrDocumentLimit, fault.ErrConflict)
	}
	return fmt.Errorf("this case already has %s documents, the most one case holds; add new versions to documents already there instead: %w: %w", count(places), ErrDocumentLimit, fault.ErrConflict)
}

// A place claim (vault/<case>/pending/<doc>) stands for an upload between
// its count and its document record. Claims older than defaultPlaceStale are not
// counted (and are removed): the upload that made one crashed. An upload
// whose claim took longer than placeCommitWithin to make and count (or to
// make, count and audit) gives up instead of creating its document, so a claim still counted is never
// one a count elsewhere already left out — given nodes' clocks and the
// store's within defaultPlaceStale-placeCommitWithin of each other.
const (
	defaultPlaceStale = 10 * time.Minute
	placeCommitWithin = time.Minute
)

func placeKey(caseID, docID string) string { return "vault/" + caseID + "/pending/" + docID }

func placePrefix(caseID string) string { return "vault/" + caseID + "/pending/" }

type placeRecord struct {
	Doc string    `json:"doc"`
	At  time.Time `json:"at"`
}

// claimDocPlace takes one of the case's places (maxDocs, or fewer for
// someone not a mediator: newDocumentAllowed) for document docID,
// whose record the caller creates next and then calls release (also on
// failure). The limit is exact under concurrency: each upload writes its
// claim (create-only) before it counts claims and documents, so of two
// uploads racing for the last place the one counting later sees the
// other's claim or document, and one of them refuses (both may: the
// refused upload is tried again).
func (s *Service) claimDocPlace(ctx context.Context, caseID, docID string, places int) (*placeClaim, error) {
	c := &placeClaim{start: time.Now()}
	key := placeKey(caseID, docID)
	if _, err := s.meta.Create(ctx, key, placeRecord{Doc: docID, At: s.now().UTC()}); err != nil {
		if errors.Is(err, metastore.ErrExists) {
			return nil, fmt.Errorf("document %s is being added already (this upload was sent twice): upload it again under a new id: %w", docID, fault.ErrConflict)
		}
		return nil, err
	}
	c.release = func() { s.removeAll(context.WithoutCancel(ctx), key) }
	n, err := s.countDocs(ctx, caseID)
	switch {
	case err != nil:
	case n > places:
		err = s.errTooManyDocs(places)
	default:
		err = c.fresh()
	}
	if err != nil {
		c.release()
		return nil, err
	}
	return c, nil
}

// placeClaim is a place taken by claimDocPlace.
type placeClaim struct {
	start   time.Time // monotonic: before the claim was written
	release func()
}

// fresh refuses once the claim is older than placeCommitWithin: the
// upload gives up rather than create its document under a claim a count
// elsewhere may already leave out. Checked after the count and again
// just before the document record is created.
func (c *placeClaim) fresh() error {
	if time.Since(c.start) > placeCommitWithin {
		return fmt.Errorf("the store answered too slowly to add the document; try again: %w", fault.ErrUnavailable)
	}
	return nil
}

// countDocs counts the case's documents and the places claimed by uploads
// under way, each document once. Claims are listed first: a claim that is
// gone by then was released after its document record was written, which
// the listing of records that follows sees.
func (s *Service) countDocs(ctx context.Context, caseID string) (int, error) {
	seen := map[string]bool{}
	var stale []string
	err := s.store.List(ctx, placePrefix(caseID), func(info objstore.Info) error {
		if time.Since(info.Modified) > s.placeStale {
			stale = append(stale, info.Key)
			return nil
		}
		seen[strings.TrimPrefix(info.Key, placePrefix(caseID))] = true
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, key := range stale {
		s.removeAll(ctx, key) // best effort: left, it is counted out again next time
	}
	err = s.meta.List(ctx, docPrefix(caseID), func(key string) error {
		seen[strings.TrimPrefix(key, docPrefix(caseID))] = true
		return nil
	})
	return len(seen), err
}

// removeAll deletes every stored version of an object (best effort).
func (s *Service) removeAll(ctx context.Context, key string) {
	versions, err := s.store.Versions(ctx, key)
	if err != nil {
		return
	}
	for _, v := range versions {
		s.store.Delete(ctx, key, v.VersionID)
	}
}

// checkVersionCount refuses a new version once the document has
// maxVersions (erased ones count: they stay in its record).
func (s *Service) checkVersionCount(r *docRecord) error {
	if len(r.Versions) >= s.maxVersions {
		return fmt.Errorf("this document already has %s versions, the most one document holds; upload the new version as a new document: %w: %w", count(s.maxVersions), ErrVersionLimit, fault.ErrConflict)
	}
	return nil
}

// count writes n with thousands separators ("1,000").
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// unstageVersion removes a version that never became visible (or whose
// document was removed again because its upload failed): its storage
// holds are released, then every stored version of its objects deleted.
// Best effort, like discardVersion.
func (s *Service) unstageVersion(ctx context.Context, caseID, docID string, num int) {
	s.holdVersion(ctx, caseID, docID, num, false)
	s.discardVersion(ctx, caseID, docID, num)
}

// AddVersion stores body as a new version of an existing document. Older
// versions are kept. Version numbers are reserved before the upload, so
// two concurrent uploads get distinct numbers; an upload that fails leaves
// its number unused.
func (s *Service) AddVersion(ctx context.Context, actor account.Account, caseID, docID string, n NewVersion, body io.Reader) (Document, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return Document{}, err
	}
	d, err := s.loadDoc(ctx, cs, docID, policy.DocUpload)
	if err != nil {
		return Document{}, err
	}
	if err := cases.RefuseAdditions(cs.c); err != nil {
		return Document{}, err
	}
	if d.e2ee() {
		// A version the server could read must not slip into a document
		// its audience believes only their devices read.
		return Document{}, fmt.Errorf("document %s is end-to-end encrypted: add versions from a device that encrypts them: %w", docID, fault.ErrConflict)
	}
	// A new version takes the latest's name and type unless it gives its
	// own; an erased version's went with it (every version erased: the
	// new one names itself).
	latest := d.latest()
	name, mt := latest.Name, latest.MediaType
	if latest.Erased {
		name, mt = "", ""
	}
	if n.Name != "" || name == "" {
		if name, err = checkName(n.Name); err != nil {
			return Document{}, err
		}
	}
	if n.MediaType != "" || mt == "" {
		if mt, err = checkMediaType(n.MediaType); err != nil {
			return Document{}, err
		}
	}
	var num int
	reserved, err := metastore.Update(ctx, s.meta, docKey(caseID, docID), func(r *docRecord) error {
		// Decided again on the fresh record: a share may have landed.
		if !cs.allowed(policy.DocUpload, r.policyDoc()) {
			return fmt.Errorf("%s: %w", policy.DocUpload, fault.ErrForbidden)
		}
		if err := s.checkVersionCount(r); err != nil {
			return err
		}
		num = r.NextVersion
		r.NextVersion++
		return nil
	})
	if err != nil {
		return Document{}, err
	}
	v, ev, err := s.storeVersion(ctx, cs, &reserved, num, name, mt, body)
	if err != nil {
		return Document{}, err
	}
	// A hold placed on the document, or on its case, covers versions
	// added under it: the version is held before it becomes visible.
	heldBefore := reserved.Hold != nil
	if !heldBefore {
		heldBefore, err = s.CaseHeld(ctx, caseID)
	}
	if err == nil && heldBefore {
		err = s.holdVersion(ctx, caseID, docID, num, true)
	}
	if err != nil {
		s.unstageVersion(context.WithoutCancel(ctx), caseID, docID, num)
		return Document{}, fmt.Errorf("hold new version: %w", err)
	}
	// The fence, read again now that the version is staged (as Upload).
	if err := s.refusedSince(ctx, caseID); err != nil {
		s.unstageVersion(context.WithoutCancel(ctx), caseID, docID, num)
		return Document{}, err
	}
	if err := s.keyStands(ctx, caseID, docID, num); err != nil {
		s.unstageVersion(context.WithoutCancel(ctx), caseID, docID, num)
		return Document{}, err
	}
	// Audited before the version becomes visible. Its place is decided
	// only as it does (uploads side by side each passed the count when
	// they reserved their numbers): a version refused there is followed
	// by doc.upload.failed.
	if ev, err = s.auditUpload(ctx, ev); err != nil {
		s.unstageVersion(context.WithoutCancel(ctx), caseID, docID, num)
		return Document{}, err
	}
	change := func(r *docRecord) error {
		// Decided once more as the version becomes visible: if the document
		// was shared to another audience while this version was uploading,
		// the people who newly gained access never saw it reviewed, so the
		// version is refused rather than slipped in under the share.
		// Its number was reserved above and is never reused: listed, it is
		// this version (a retried write that had landed), even erased
		// since (its hashes cleared).
		if _, ok := r.version(v.Version); ok {
			return errListedAlready
		}
		if !r.Audience.Equal(reserved.Audience) || r.Class != reserved.Class {
			return writeRefused{fmt.Errorf("document %s: its audience changed while this version was uploading; upload it again to add it for its new audience: %w", docID, fault.ErrConflict)}
		}
		if !cs.allowed(policy.DocUpload, r.policyDoc()) {
			return writeRefused{fmt.Errorf("%s: %w", policy.DocUpload, fault.ErrForbidden)}
		}
		// Checked again: uploads running side by side each passed the
		// check when they reserved their numbers.
		if err := s.checkVersionCount(r); err != nil {
			return writeRefused{err}
		}
		// A document hold placed since the hold was read above: the
		// version is held before a record that says held lists it. The
		// write is conditional on the record read here, so a write that
		// lands late (after an ErrUnconfirmed answer) lands on a held
		// record only with its version held; on one without the hold, a
		// hold placed meanwhile refuses it, or its own pass over the
		// versions (SetHold) finds it listed.
		if r.Hold != nil && !heldBefore {
			return errHoldFirst
		}
		// A party's or lawyer's version makes the document their side's own
		// material, for good (approval.go).
		keepSides(r, cs.c, v.Uploader)
		recordVersionSide(r, cs.c, v.Version, v.Uploader)
		scrubErased(r)
		r.Versions = append(r.Versions, v)
		slices.SortFunc(r.Versions, func(a, b VersionInfo) int { return a.Version - b.Version })
		return nil
	}
	committed, err := metastore.Update(ctx, s.meta, docKey(caseID, docID), change)
	if errors.Is(err, errHoldFirst) {
		if err = s.holdVersion(ctx, caseID, docID, num, true); err != nil {
			err = writeRefused{fmt.Errorf("hold new version: %w", err)}
		} else {
			heldBefore = true
			committed, err = metastore.Update(ctx, s.meta, docKey(caseID, docID), change)
		}
	}
	if errors.Is(err, errListedAlready) {
		// A write that landed, lost its answer and was tried again.
		if _, err = s.meta.Get(context.WithoutCancel(ctx), docKey(caseID, docID), &committed); err != nil {
			return Document{}, err
		}
	}
	if err != nil {
		// Read back before anything is deleted: a store that writes and
		// then answers an error has made the version visible. Only a
		// version the record does not list loses its ciphertext and
		// wrapped key, and only when the write was refused
		// (versionNotShown).
		r, landed, refused := s.versionNotShown(ctx, ev, err, caseID, docID, v)
		if !landed {
			if !refused {
				err = unconfirmed(err, docID, v.Version)
			}
			return Document{}, err
		}
		// Written despite the error: the upload goes on (the hold and
		// fence checks below) as if the write had answered.
		committed = r
	}
	// The version is visible now: what follows runs to its end whether or
	// not the caller is still there (a write that "failed" but landed
	// most often failed because the request's context ended), and a
	// version that cannot be held or whose case was fenced meanwhile is
	// taken back, never left listed unheld or unrefused.
	post, cancel := context.WithTimeout(context.WithoutCancel(ctx), postVisibleTimeout)
	defer cancel()
	// A change that answers an error may have landed all the same: the
	// record is read back first (takenBack), as Upload's take-back does.
	takeBack := func(cause error) error {
		_, derr := metastore.Update(post, s.meta, docKey(caseID, docID), func(r *docRecord) error {
			r.Versions = slices.DeleteFunc(r.Versions, func(x VersionInfo) bool { return x.Version == num })
			delete(r.VersionSides, num)
			return nil
		})
		if derr != nil {
			derr = s.takenBack(post, derr, caseID, docID, v)
		}
		if derr == nil {
			s.unstageVersion(post, caseID, docID, num)
			s.uploadFailed(post, ev, cause, nil)
			return cause
		}
		s.log.WarnContext(post, "vault: a new version could not be taken back after its upload failed; it stays listed",
			"case", caseID, "doc", docID, "version", num, "cause", fault.Class(cause), "err", derr)
		return unconfirmed(cause, docID, num)
	}
	// A check that fails only because the store did not answer is tried
	// again before the version is taken back, as Upload's are.
	checks, cancelChecks := context.WithTimeout(post, postVisibleRetry)
	defer cancelChecks()
	held := heldBefore
	if !held {
		// A hold placed while this version uploaded, after the hold's
		// own pass over the document's versions.
		held = committed.Hold != nil
		if !held {
			if err := retryTransient(checks, func(ctx context.Context) (err error) {
				held, err = s.CaseHeld(ctx, caseID)
				return err
			}); err != nil {
				return Document{}, takeBack(fmt.Errorf("hold new version: %w", err))
			}
		}
		if held {
			if err := retryTransient(checks, func(ctx context.Context) error { return s.holdVersion(ctx, caseID, docID, num, true) }); err != nil {
				return Document{}, takeBack(fmt.Errorf("hold new version: %w", err))
			}
		}
	}
	if held {
		// The hold read above may have been released before the version
		// was listed, or before holdVersion set its storage hold again
		// (as Upload's, review 387).
		if err := s.settleNewHold(checks, caseID, docID, num); err != nil {
			return Document{}, takeBack(fmt.Errorf("hold new version: %w", err))
		}
	}
	if err := retryTransient(checks, func(ctx context.Context) error { return s.refusedSince(ctx, caseID) }); err != nil {
		return Document{}, takeBack(err)
	}
	return committed.view(cs.allowed(policy.DocDownload, committed.policyDoc()), true), nil
}

// refusedSince reads case caseID again once an addition is visible: if
// retention fenced it meanwhile (cases.RefuseAdditions), the caller takes
// the addition back and refuses it. Retention fences before it looks for
// documents that keep the case, so an addition is either seen there (the
// case is kept) or refused here, never lost with the case unaudited.
func (s *Service) refusedSince(ctx context.Context, caseID string) error {
	c, err := s.cases.Load(ctx, caseID)
	if err != nil {
		return err
	}
	return cases.RefuseAdditions(c)
}

// ErrKeyDestroyedMeanwhile refuses an addition whose case key retention
// destroyed while it was being stored (the case's documents were all due:
// the case-keys step); a new upload gets a new key.
var ErrKeyDestroyedMeanwhile = fmt.Errorf("this case's documents were disposed of under its retention schedule while this was being uploaded, so it was not kept: upload it again: %w", fault.ErrConflict)

// keyStands checks, once a staged version has passed the fence
// (refusedSince), that its data key still opens under the case key as
// stored now. The case-keys step of a retention apply fences a standing
// case, looks for staged versions, destroys the key and lifts the fence;
// an upload that loaded the key before that step and staged after its look
// either reads the fence up (refusedSince) or, reading it after the lift,
// finds the key gone here (or another, made since by a new upload), and is
// refused: never answered success for a version no key opens (review 406;
// the fence alone missed an upload whose streaming spanned the step).
func (s *Service) keyStands(ctx context.Context, caseID, docID string, num int) error {
	var vr versionRecord
	if _, err := s.meta.Get(ctx, versionKey(caseID, docID, num), &vr); err != nil {
		return fmt.Errorf("staged version: %w", err)
	}
	caseKey, err := caseKeyForRead(ctx, s.store, s.mk, caseID)
	if errors.Is(err, objstore.ErrNotFound) {
		return ErrKeyDestroyedMeanwhile
	} else if err != nil {
		return err
	}
	if _, err := unwrapDataKey(caseKey, vr.WrappedKey, Binding{Case: caseID, Doc: docID, Version: num}); err != nil {
		return ErrKeyDestroyedMeanwhile
	}
	return nil
}

// discardVersion deletes every stored version of a version's ciphertext
// object and of its record (which holds its wrapped data key).
func (s *Service) discardVersion(ctx context.Context, caseID, docID string, num int) {
	for _, key := range []string{versionKey(caseID, docID, num), objectKey(caseID, docID, num)} {
		s.removeAll(ctx, key)
	}
}

// storeVersion encrypts body into the version's object and writes the
// record with its wrapped data key. The version is not yet visible, nor
// audited: the caller appends the returned doc.upload entry
// (auditUpload) once the version has its place, then adds it to the
// document record.
func (s *Service) storeVersion(ctx context.Context, cs *caseScope, d *docRecord, num int, name, mt string, body io.Reader) (VersionInfo, audit.Event, error) {
	return s.storeVersionAs(ctx, cs, d, num, name, mt, body, nil)
}

// storeVersionAs is storeVersion; with e (an end-to-end encrypted version)
// body is the client's ciphertext: its SHA-256 and size are what is
// recorded and checked, and e's wraps are kept in the version record.
func (s *Service) storeVersionAs(ctx context.Context, cs *caseScope, d *docRecord, num int, name, mt string, body io.Reader, e *e2eeUpload) (VersionInfo, audit.Event, error) {
	b := Binding{Case: d.Case, Doc: d.ID, Version: num}
	caseKey, err := caseKeyForWrite(ctx, s.store, s.mk, d.Case)
	if err != nil {
		return VersionInfo{}, audit.Event{}, err
	}
	dataKey := make([]byte, 32)
	rand.Read(dataKey)
	wrapped, err := wrapDataKey(caseKey, dataKey, b)
	if err != nil {
		return VersionInfo{}, audit.Event{}, err
	}
	key := objectKey(d.Case, d.ID, num)
	limit := s.maxSize
	if e != nil {
		limit = CiphertextSize(s.maxSize)
	}
	src := &countingReader{r: body, h: sha256.New(), limit: limit}
	var in io.Reader = src
	if e != nil {
		in = &streamShape{r: src}
	}
	info, err := s.putEncrypted(ctx, key, dataKey, b, in, true)
	if err != nil {
		return VersionInfo{}, audit.Event{}, err
	}
	sum := hex.EncodeToString(src.h.Sum(nil))
	size := src.n
	if e != nil {
		// The plaintext size follows from the ciphertext's (the layout is
		// fixed); a length no stream has is refused.
		var ok bool
		if size, ok = e2ee.StreamPlainSize(src.n); !ok {
			s.store.Delete(context.WithoutCancel(ctx), key, info.VersionID)
			return VersionInfo{}, audit.Event{}, fault.Invalid("body", "not an end-to-end encrypted document stream (its length fits no stream)")
		}
	}
	now := s.now().UTC()
	vr := versionRecord{Case: d.Case, Doc: d.ID, Version: num, Object: key, ObjectVID: info.VersionID,
		WrappedKey: wrapped, Size: size, SHA256: sum, Created: now}
	if e != nil {
		vr.E2EE, vr.Keys = true, [][]byte{e.wrap}
	}
	if _, err := s.meta.Create(ctx, versionKey(d.Case, d.ID, num), vr); err != nil {
		s.store.Delete(context.WithoutCancel(ctx), key, info.VersionID)
		return VersionInfo{}, audit.Event{}, err
	}
	// Not audited yet: the caller appends ev (auditUpload) once the
	// version has its place, before it becomes visible.
	ev := audit.Event{Type: "doc.upload", Actor: cs.actor.ID, Case: d.Case,
		Objects: []string{d.ID}, Hashes: []string{s.commit(sum)},
		Attrs: uploadAttrs(num, d, size, e != nil)}
	return VersionInfo{Version: num, Name: name, MediaType: mt, Size: size, SHA256: sum,
		Uploader: cs.actor.ID, Created: now, E2EE: e != nil}, ev, nil
}

// auditUpload appends ev, an upload's doc.upload entry, paired (an op id)
// so that a correction can name it: the version has its place (a claim,
// a reserved number) and is about to become visible. An upload whose
// entry cannot be written does not happen.
func (s *Service) auditUpload(ctx context.Context, ev audit.Event) (audit.Event, error) {
	ev = audit.Paired(ev)
	if err := s.record(ctx, ev); err != nil {
		return ev, fmt.Errorf("audit: %w", err)
	}
	return ev, nil
}

// uploadFailed follows ev, an appended doc.upload, when its version did
// not become visible (or was taken back): doc.upload.failed, or
// doc.upload.unknown if landed (nil: known absent) cannot tell.
func (s *Service) uploadFailed(ctx context.Context, ev audit.Event, cause error, landed func(context.Context) (bool, error)) {
	s.settle(ctx, ev, "doc.upload", cause, landed)
}

// readVersionBack reads document docID's record and reports whether it
// lists version v: the same number and date, and the same content unless
// erased since (an erased entry keeps no hash, eraseVersion). The date is
// compared too because a new document's id can be the client's
// (UploadE2EE): another upload's record there is not this one.
func (s *Service) readVersionBack(ctx context.Context, caseID, docID string, v VersionInfo) (docRecord, bool, error) {
	var r docRecord
	if _, err := s.meta.Get(ctx, docKey(caseID, docID), &r); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return docRecord{}, false, nil
		}
		return docRecord{}, false, err
	}
	got, ok := r.version(v.Version)
	return r, ok && got.Created.Equal(v.Created) && (got.Erased || got.SHA256 == v.SHA256), nil
}

// postVisibleTimeout bounds the steps after a new document or version
// became visible (its hold, the fence check, taking it back), run
// whether or not the caller is still there.
const postVisibleTimeout = 30 * time.Second

// A step after an addition became visible that failed transiently (the
// store did not answer) is tried again, postVisibleAttempts times at
// most, waiting postVisibleBackoff, doubled each time up to
// postVisibleMaxBackoff, in between: about 9 s in all, as caucus retries
// a membership change's steps. The checks that decide whether the
// addition stands (its hold, the fence) share postVisibleRetry; the rest
// of postVisibleTimeout is left for taking it back.
const (
	postVisibleRetry      = 10 * time.Second
	postVisibleAttempts   = 10
	postVisibleBackoff    = 50 * time.Millisecond
	postVisibleMaxBackoff = 2 * time.Second
)

// transient reports whether err may clear within moments: the store did
// not answer (objstore.ErrUnavailable, a fault.ErrUnavailable). A refusal
// (a fence, a store that refuses a hold) is a decision, not retried.
func transient(err error) bool { return errors.Is(err, fault.ErrUnavailable) }

// retryTransient runs step until it succeeds or fails other than
// transiently, postVisibleAttempts times at most and while ctx lasts, and
// returns its last error.
func retryTransient(ctx context.Context, step func(context.Context) error) error {
	backoff := postVisibleBackoff
	for attempt := 1; ; attempt++ {
		err := step(ctx)
		if err == nil || !transient(err) || attempt == postVisibleAttempts {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		backoff = min(2*backoff, postVisibleMaxBackoff)
	}
}

// takenBack follows a take-back of version v of document docID (its
// record deleted, or v removed from it) that answered werr: a store can
// write and then answer an error, so the record is read back (retried
// while the store does not answer, retryTransient). nil: the record no
// longer lists v, so the take-back stands. Otherwise why it cannot be
// said to: werr, with the read's own error if the record could not be
// read.
func (s *Service) takenBack(ctx context.Context, werr error, caseID, docID string, v VersionInfo) error {
	var listed bool
	err := retryTransient(ctx, func(ctx context.Context) (err error) {
		_, listed, err = s.readVersionBack(ctx, caseID, docID, v)
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("%w (read back: %w)", werr, err)
	case listed:
		return werr
	}
	return nil
}

// writeRefused marks an error the version's record change returned itself:
// nothing was written by that attempt, and none will be.
type writeRefused struct{ err error }

func (r writeRefused) Error() string { return r.err.Error() }
func (r writeRefused) Unwrap() error { return r.err }

// refusedWrite reports whether cause means the record write was refused
// for good (nothing of it can still land): a refusal of the change, a
// create-only write that found a record there, or a conditional change
// that lost to other writers every time it tried (metastore.Update gives
// up only after each attempt was refused; a write that failed otherwise
// ends it with that error instead).
func refusedWrite(cause error) bool {
	var r writeRefused
	return errors.As(cause, &r) || errors.Is(cause, metastore.ErrExists) || errors.Is(cause, metastore.ErrConflict)
}

// errHoldFirst: the document was put under hold since the version's hold
// was decided; it is held before it is listed.
var errHoldFirst = errors.New("document held since the version was staged")

// errListedAlready: the version is in the record already — a write that
// landed, lost its answer and was tried again.
var errListedAlready = errors.New("version listed already")

// versionNotShown follows the write that was to make version v of
// document docID visible (its document record) when that write answered
// cause. A store can write and then answer an error (a deadline, a
// connection reset after the write), so the record is read back before
// anything is deleted:
//
//   - it lists v: the version stands (landed; r is the record read); no
//     correction follows ev;
//   - it does not, and the write was refused (the change refused it, or a
//     create-only write found another document there: a refusal): the
//     staged version (ciphertext, version record, holds) is deleted and
//     doc.upload.failed follows ev;
//   - it does not, but the write only failed (a deadline, a lost
//     answer): it may still land after this read, so the staged version
//     is kept for the retention sweep, which deletes it only once no
//     document lists it a day later (orphaned-ciphertext,
//     abandoned-upload); doc.upload.failed follows ev;
//   - it cannot be read: the staged version is kept — an orphan is better
//     than a listed version without its bytes; the retention sweep finds
//     one no document lists (orphaned-ciphertext, abandoned-upload) — a
//     WARN says so and doc.upload.unknown follows ev.
//
// refused reports the second case alone: the record, read back, does not
// list v and the write was refused, so it never will.
func (s *Service) versionNotShown(ctx context.Context, ev audit.Event, cause error, caseID, docID string, v VersionInfo) (r docRecord, landed, refused bool) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	r, landed, rerr := s.readVersionBack(bg, caseID, docID, v)
	switch {
	case rerr != nil:
		s.log.WarnContext(bg, "vault: a new version's document record could not be written nor read back; its stored ciphertext is kept (the retention sweep removes it later if no document lists it)",
			"case", caseID, "doc", docID, "version", v.Version, "cause", fault.Class(cause), "err", rerr)
	case !landed && refusedWrite(cause):
		s.unstageVersion(bg, caseID, docID, v.Version)
	case !landed:
		s.log.WarnContext(bg, "vault: a new version's document record write failed and does not list it yet; its stored ciphertext is kept in case the write still lands (the retention sweep removes it later if no document lists it)",
			"case", caseID, "doc", docID, "version", v.Version, "cause", fault.Class(cause))
	}
	s.uploadFailed(ctx, ev, cause, func(context.Context) (bool, error) { return landed, rerr })
	return r, landed && rerr == nil, rerr == nil && !landed && refusedWrite(cause)
}

// aheadSegments is how far (in segments) encryption may run ahead of the
// object store's Put: 16 MiB, one S3 part.
const aheadSegments = 256

// putEncrypted streams src, encrypted, into a create-only object of unknown
// length (a multipart upload on S3): the encrypting writer feeds a bounded
// pipe (aheadPipe) that the store's Put reads. Memory stays at the pipe's
// buffer plus the store's part buffer, whatever the document's size. On
// any error the store discards the partial upload, so nothing
// half-written is ever visible.
func (s *Service) putEncrypted(ctx context.Context, key string, dataKey []byte, b Binding, src io.Reader, createOnly bool) (objstore.Info, error) {
	pp := newAheadPipe(aheadSegments, segmentCTSize)
	werr := make(chan error, 1)
	go func() {
		err := sealInto(pp, src, dataKey, b)
		pp.CloseWithError(err) // nil: EOF for the reader
		werr <- err
	}()
	info, err := s.store.Put(ctx, key, pp, -1, objstore.PutOptions{IfNoneMatch: createOnly, ContentType: "application/octet-stream"})
	pp.CloseRead() // unblocks the writer if Put stopped early
	if wErr := <-werr; wErr != nil && !(err != nil && errors.Is(wErr, errReaderClosed)) {
		// The source's error (too large, client went away) explains the
		// failure better than the store's — unless the writer stopped only
		// because the store did (a create-only conflict): then the store's
		// error is the reason.
		if err == nil {
			// The store took a complete object that the writer did not
			// finish: it must not stay.
			s.store.Delete(context.WithoutCancel(ctx), key, info.VersionID)
		}
		return objstore.Info{}, wErr
	}
	if err != nil {
		return objstore.Info{}, err
	}
	return info, nil
}

// countingReader hashes and counts what it reads and stops past limit.
type countingReader struct {
	r     io.Reader
	h     hash.Hash
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	if c.n > c.limit {
		return 0, fmt.Errorf("document over %d bytes: %w", c.limit, fault.ErrTooLarge)
	}
	c.h.Write(p[:k])
	return k, err
}

// ---- reading metadata ----

// List returns the case's documents the actor may see, newest first.
// Records staff see them without names; admins and outsiders are refused.
func (s *Service) List(ctx context.Context, actor account.Account, caseID string) ([]Document, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	if !s.policy.Decide(actor.Principal(), policy.CaseReadSummary, cs.c.Facts()).Allowed {
		s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID, Attrs: map[string]string{"action": string(policy.DocList)}})
		return nil, fmt.Errorf("%s: %w", policy.DocList, fault.ErrForbidden)
	}
	out := []Document{}
	err = s.meta.List(ctx, docPrefix(caseID), func(key string) error {
		var d docRecord
		if _, err := s.meta.Get(ctx, key, &d); err != nil {
			return err
		}
		if len(d.Versions) == 0 || !cs.allowed(policy.DocList, d.policyDoc()) {
			return nil // not listing a document is not an attempt to reach it
		}
		out = append(out, d.view(cs.allowed(policy.DocDownload, d.policyDoc()), false))
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Document) int { return b.Updated.Compare(a.Updated) })
	return out, nil
}

// Get returns one document's metadata with its versions.
func (s *Service) Get(ctx context.Context, actor account.Account, caseID, docID string) (Document, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return Document{}, err
	}
	d, err := s.loadDoc(ctx, cs, docID, policy.DocReadMetadata)
	if err != nil {
		return Document{}, err
	}
	return d.view(cs.allowed(policy.DocDownload, d.policyDoc()), true), nil
}

// Lookup is Get for a caller looking for a document whose id the vault
// itself returned to it, on behalf of actor: package agreement, at every
// read of an agreement, looking for a write that may still land — the
// agreement's own document (the id Upload returned when it was started)
// for a version's save, or the document an UnconfirmedError named for a
// start or filing. Its rule: it is called only with an id the vault
// itself returned (from Upload or an UnconfirmedError, kept in the
// caller's record), never with an id taken from a request. A document
// that does not exist (yet) is answered fault.ErrNotFound with no audit
// entry: nobody asked for it, so the log records no access attempt,
// however often it is looked for. A document that does exist is decided
// by policy as for Get, a refusal audited as there. Called with an id a
// person chose, answering "not there" unaudited would tell it from "not
// yours"; no route does.
func (s *Service) Lookup(ctx context.Context, actor account.Account, caseID, docID string) (Document, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return Document{}, err
	}
	if !ids.Valid("d", docID) {
		return Document{}, fmt.Errorf("document: %w", fault.ErrNotFound)
	}
	var d docRecord
	_, err = s.meta.Get(ctx, docKey(cs.c.ID, docID), &d)
	if errors.Is(err, metastore.ErrNotFound) || (err == nil && len(d.Versions) == 0) {
		return Document{}, fmt.Errorf("document %s: %w", docID, fault.ErrNotFound)
	}
	if err != nil {
		return Document{}, err
	}
	if !cs.allowed(policy.DocReadMetadata, d.policyDoc()) {
		return Document{}, s.denied(ctx, cs, policy.DocReadMetadata, docID, d.policyDoc())
	}
	return d.view(cs.allowed(policy.DocDownload, d.policyDoc()), true), nil
}

// ---- download ----

// Download is an open document version. Body yields the plaintext (or the
// requested range of it), authenticating every segment before returning
// its bytes; a failure is ErrIntegrity. The caller closes Body.
type Download struct {
	Document Document
	Version  VersionInfo
	// Offset and Length are the plaintext range Body yields; Size is the
	// whole version's size.
	Offset, Length, Size int64
	// Verified: Body checks the whole version's size and SHA-256 before it
	// returns its last bytes (whole reads only).
	Verified bool
	Body     io.ReadCloser
}

// ErrRange: the requested range lies outside the document.
var ErrRange = errors.New("range not satisfiable")

// RangeFunc picks the bytes to read once the version is known: length
// bytes from offset, or the whole version when length is negative. A nil
// RangeFunc reads the whole version.
type RangeFunc func(v VersionInfo) (offset, length int64, err error)

// Bytes is the RangeFunc for length bytes from offset.
func Bytes(offset, length int64) RangeFunc {
	return func(VersionInfo) (int64, int64, error) { return offset, length, nil }
}

// Open opens version (0: the latest) of a document for reading, the whole
// of it or the range rng picks. The download is audited before any byte is
// read; an integrity failure while reading is audited too.
func (s *Service) Open(ctx context.Context, actor account.Account, caseID, docID string, version int, rng RangeFunc) (_ *Download, err error) {
	defer func() {
		if errors.Is(err, ErrIntegrity) {
			s.record(context.WithoutCancel(ctx), failure(actor.ID, caseID, docID, version))
		}
	}()
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	d, err := s.loadDoc(ctx, cs, docID, policy.DocDownload)
	if err != nil {
		return nil, err
	}
	v := d.latest()
	if version != 0 {
		var ok bool
		if v, ok = d.version(version); !ok {
			return nil, fmt.Errorf("document %s version %d: %w", docID, version, fault.ErrNotFound)
		}
	}
	if v.Erased {
		return nil, fmt.Errorf("document %s version %d was erased: %w", docID, v.Version, fault.ErrGone)
	}
	var vr versionRecord
	if _, err := s.meta.Get(ctx, versionKey(caseID, docID, v.Version), &vr); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return nil, fmt.Errorf("document %s version %d has no key (erased): %w", docID, v.Version, fault.ErrGone)
		}
		return nil, err
	}
	// The version record says how the stored object is to be read: an
	// upgrade (UpgradeVersion) switches key, hash and E2EE flag in this
	// one record, before the document record follows. (A download racing
	// an upgrade of its version, between the new ciphertext's store and
	// this switch, fails its integrity check: docs/security.md.)
	if vr.E2EE {
		v.E2EE, v.SHA256, v.PlainSHA256 = true, vr.SHA256, vr.PlainSHA256
	}
	offset, length := int64(0), int64(-1)
	if rng != nil {
		if offset, length, err = rng(v); err != nil {
			return nil, err
		}
	}
	// An end-to-end encrypted version is served whole: the client's
	// ciphertext, checked against its recorded size and SHA-256.
	whole := length < 0 || (offset == 0 && length == v.Size) || v.E2EE
	if whole {
		offset, length = 0, storedSize(v)
	} else if offset < 0 || length == 0 || offset >= v.Size || length > v.Size-offset {
		return nil, fmt.Errorf("bytes %d+%d of %d: %w", offset, length, v.Size, ErrRange)
	}
	b := Binding{Case: caseID, Doc: docID, Version: v.Version}
	caseKey, err := caseKeyForRead(ctx, s.store, s.mk, caseID)
	if err != nil {
		return nil, err
	}
	dataKey, err := unwrapDataKey(caseKey, vr.WrappedKey, b)
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{"version": strconv.Itoa(v.Version)}
	if !whole {
		attrs["range"] = fmt.Sprintf("%d-%d", offset, offset+length-1)
	}
	if err := s.record(ctx, audit.Event{Type: "doc.download", Actor: actor.ID, Case: caseID,
		Objects: []string{docID}, Hashes: []string{s.commit(v.SHA256)}, Attrs: attrs}); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	sha, err := hex.DecodeString(v.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: recorded hash unreadable", describe(b), ErrIntegrity)
	}
	dl := &Download{Document: d.view(true, false), Version: v, Offset: offset, Length: length, Size: storedSize(v), Verified: whole}
	key := objectKey(caseID, docID, v.Version)
	if whole {
		rc, _, err := s.store.Get(ctx, key, objstore.GetOptions{})
		if err != nil {
			return nil, err
		}
		r, err := NewReader(rc, dataKey, b, &Verify{Size: storedSize(v), SHA256: sha})
		if err != nil {
			rc.Close()
			return nil, err
		}
		dl.Body = &auditFailure{s: s, ctx: ctx, ev: failure(actor.ID, caseID, docID, v.Version), r: r, c: rc}
		return dl, nil
	}
	first, last := offset/SegmentSize, (offset+length-1)/SegmentSize
	header, err := s.readHeader(ctx, key, b)
	if err != nil {
		return nil, err
	}
	ctEnd := SegmentOffset(last + 1) // exclusive
	if full := CiphertextSize(v.Size); ctEnd > full {
		ctEnd = full
	}
	rc, _, err := s.store.Get(ctx, key, objstore.GetOptions{Offset: SegmentOffset(first), Length: ctEnd - SegmentOffset(first)})
	if err != nil {
		return nil, err
	}
	r, err := NewRangeReader(rc, header, dataKey, b, v.Size, first, last)
	if err != nil {
		rc.Close()
		return nil, err
	}
	if skip := offset - first*SegmentSize; skip > 0 {
		if _, err := io.CopyN(io.Discard, r, skip); err != nil {
			rc.Close()
			return nil, err
		}
	}
	dl.Body = &auditFailure{s: s, ctx: ctx, ev: failure(actor.ID, caseID, docID, v.Version), r: io.LimitReader(r, length), c: rc}
	return dl, nil
}

func failure(actorID, caseID, docID string, v int) audit.Event {
	return audit.Event{Type: "doc.integrity.failed", Actor: actorID, Case: caseID, Objects: []string{docID},
		Attrs: map[string]string{"version": strconv.Itoa(v)}}
}

// auditFailure records the first integrity failure of a download in the
// audit log: stored ciphertext that fails to authenticate means someone
// changed the bucket, which the log must show.
type auditFailure struct {
	s      *Service
	ctx    context.Context
	ev     audit.Event
	r      io.Reader
	c      io.Closer
	logged bool
}

func (a *auditFailure) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && errors.Is(err, ErrIntegrity) && !a.logged {
		a.logged = true
		a.s.record(context.WithoutCancel(a.ctx), a.ev)
	}
	return n, err
}

func (a *auditFailure) Close() error { return a.c.Close() }

func (s *Service) readHeader(ctx context.Context, key string, b Binding) ([]byte, error) {
	rc, _, err := s.store.Get(ctx, key, objstore.GetOptions{Length: int64(HeaderSize)})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	header := make([]byte, HeaderSize)
	if _, err := io.ReadFull(rc, header); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: %w: stream shorter than its header", describe(b), ErrIntegrity)
		}
		return nil, err
	}
	return header, nil
}

// ---- sharing ----

// Person is someone whose access a share changes.
type Person struct {
	AccountID string `json:"accountId"`
	Name      string `json:"name"`
	Role      string `json:"role"` // mediator, party, counsel, observer
	Side      string `json:"side,omitempty"`
}

// ShareResult says what a share did, or (dry run) would do.
type ShareResult struct {
	Document Document `json:"document"`
	From     Audience `json:"from"`
	To       Audience `json:"to"`
	// Gaining are the case members who may download the document after
	// the share and could not before; Losing the reverse.
	Gaining []Person `json:"gaining"`
	Losing  []Person `json:"losing"`
	DryRun  bool     `json:"dryRun"`
	Changed bool     `json:"changed"`
	// NeedsApproval (dry runs): the document is a side's own material
	// (wherever it is now) and the share reaches beyond that side, which
	// has not approved it; ApprovalSide names the side whose party or
	// lawyer must (RequestShare), the first of them if several must.
	NeedsApproval bool   `json:"needsApproval,omitempty"`
	ApprovalSide  string `json:"approvalSide,omitempty"`
}

// Share changes a document's audience (every version's). With dryRun it
// changes nothing and only reports who would gain and lose access, so a
// person can confirm first. A share is audited before it takes effect, and
// only if the audience is still the one the result was computed from.
func (s *Service) Share(ctx context.Context, actor account.Account, caseID, docID string, to Audience, dryRun bool) (ShareResult, error) {
	return s.ShareWithKeys(ctx, actor, caseID, docID, to, dryRun, nil)
}

// ShareWithKeys is Share; an end-to-end encrypted document is shared only
// with wraps, made on the actor's device, of every stored version's key
// for the new audience (ErrRewrapNeeded otherwise). They replace the
// versions' wraps once the audience has changed: devices outside the new
// audience get no copy from the server any more.
func (s *Service) ShareWithKeys(ctx context.Context, actor account.Account, caseID, docID string, to Audience, dryRun bool, wraps []VersionWrap) (ShareResult, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return ShareResult{}, err
	}
	d, err := s.loadDoc(ctx, cs, docID, policy.DocShare)
	if err != nil {
		return ShareResult{}, err
	}
	if err := to.check(cs.c); err != nil {
		return ShareResult{}, err
	}
	if d.Class == ClassMediatorNotes && to.Kind != policy.AudienceMediators {
		return ShareResult{}, fault.Invalid("audience", "mediator notes are shared with the mediators only")
	}
	from := d.Audience
	res := ShareResult{From: from, To: to, DryRun: dryRun, Changed: !from.Equal(to)}
	// A side's own material leaves the side only with the side's
	// approval of exactly this share (approval.go), wherever the document
	// is now; policy decides, given the approvals recorded for the
	// document's current version.
	approvals, err := s.approvals(ctx, caseID, docID)
	if err != nil {
		return ShareResult{}, err
	}
	mayShare := func(r *docRecord) bool {
		return cs.dec.DecideShare(shareDoc(r, cs.c), shareTarget(to, approvedBy(approvals, r, to))).Allowed
	}
	// lacking names the first side whose approval r's share still lacks.
	lacking := func(r *docRecord) string {
		sides := cs.dec.SidesToApprove(shareDoc(r, cs.c), shareTarget(to, approvedBy(approvals, r, to)))
		if len(sides) == 0 {
			return ""
		}
		return sides[0]
	}
	if res.Changed && !mayShare(d) {
		side := lacking(d)
		if !dryRun || side == "" {
			s.record(ctx, refusal(cs, policy.DocShare, docID)) // best effort: the refusal stands either way
			if side == "" {
				return ShareResult{}, fmt.Errorf("%s: %w", policy.DocShare, fault.ErrForbidden)
			}
			return ShareResult{}, errNeedsApproval(cs.c, side)
		}
		res.NeedsApproval, res.ApprovalSide = true, side
	}
	res.Gaining, res.Losing = s.accessChange(cs.c, policyDoc(from, d.Class), policyDoc(to, d.Class))
	e2e := slices.ContainsFunc(d.Versions, func(v VersionInfo) bool { return v.E2EE && !v.Erased })
	if !dryRun && !res.Changed && e2e && len(wraps) > 0 {
		// Sharing an end-to-end encrypted document again with its
		// audience's wraps writes them: that is how a share whose audience
		// changed but whose keys were not all stored (below) is finished.
		// The new members have no wrap until then, and no holder can give
		// them one (its wraps name the old audience).
		if err := checkShareWraps(d, actor.ID, to, wraps); err != nil {
			return ShareResult{}, err
		}
		ev := audit.Paired(audit.Event{Type: "doc.keys.wrap", Actor: actor.ID, Case: caseID, Objects: []string{docID},
			Attrs: map[string]string{"wraps": strconv.Itoa(len(wraps)), "audience": to.String(), "replace": "true"}})
		if err := s.record(ctx, ev); err != nil {
			return ShareResult{}, fmt.Errorf("audit: %w", err)
		}
		if err := s.writeKeys(ctx, caseID, docID, wraps, true); err != nil {
			s.settle(ctx, ev, "doc.keys.wrap", err, s.keysLanded(caseID, docID, wraps, true))
			return ShareResult{}, fmt.Errorf("the document's keys were not all stored (share it again): %w", err)
		}
	}
	if dryRun || !res.Changed {
		res.Document = d.view(true, false)
		return res, nil
	}
	if e2e {
		if err := checkShareWraps(d, actor.ID, to, wraps); err != nil {
			return ShareResult{}, err
		}
	} else if len(wraps) > 0 {
		return ShareResult{}, fault.Invalid("wraps", "the document is not end-to-end encrypted")
	}
	attrs := map[string]string{"from": from.String(), "to": to.String(),
		"gained": strconv.Itoa(len(res.Gaining)), "lost": strconv.Itoa(len(res.Losing))}
	// Audited first, so a share is never missing from the log; a share
	// that then fails is corrected by doc.share.failed (settle: only once
	// the record, read back, shows the audience not changed to to).
	ev := audit.Paired(audit.Event{Type: "doc.share", Actor: actor.ID, Case: caseID, Objects: []string{docID}, Attrs: attrs})
	if err := s.record(ctx, ev); err != nil {
		return ShareResult{}, fmt.Errorf("audit: %w", err)
	}
	updated, err := metastore.Update(ctx, s.meta, docKey(caseID, docID), func(r *docRecord) error {
		if !r.Audience.Equal(from) {
			return fmt.Errorf("document %s was shared by someone else meanwhile; review and try again: %w", docID, fault.ErrConflict)
		}
		if !cs.allowed(policy.DocShare, r.policyDoc()) {
			return fmt.Errorf("%s: %w", policy.DocShare, fault.ErrForbidden)
		}
		if !mayShare(r) {
			// A version added since the approval was read: the approval
			// named another version.
			if side := lacking(r); side != "" {
				return errNeedsApproval(cs.c, side)
			}
			return fmt.Errorf("%s: %w", policy.DocShare, fault.ErrForbidden)
		}
		// The document's sides are written down before it moves (a record
		// from before they were recorded keeps those derived where it is).
		keepSides(r, cs.c, "")
		r.Audience = to
		return nil
	})
	if err != nil {
		s.settle(ctx, ev, "doc.share", err, func(ctx context.Context) (bool, error) {
			var r docRecord
			if _, err := s.meta.Get(ctx, docKey(caseID, docID), &r); err != nil {
				return false, err
			}
			return r.Audience.Equal(to), nil
		})
		return ShareResult{}, err
	}
	if e2e {
		if err := s.writeKeys(ctx, caseID, docID, wraps, true); err != nil {
			return ShareResult{}, fmt.Errorf("the document was shared, but its keys were not all stored (share it again): %w", err)
		}
	}
	res.Document = updated.view(true, false)
	return res, nil
}

// accessChange lists the case members whose download access differs
// between two descriptions of a document, asking policy for each.
func (s *Service) accessChange(c *cases.Case, before, after policy.Document) (gaining, losing []Person) {
	facts := c.Facts()
	check := func(p Person, u policy.User) {
		dec := s.policy.Documents(u, facts)
		was, will := dec.Decide(policy.DocDownload, before).Allowed, dec.Decide(policy.DocDownload, after).Allowed
		switch {
		case will && !was:
			gaining = append(gaining, p)
		case was && !will:
			losing = append(losing, p)
		}
	}
	for _, m := range c.Mediators {
		check(Person{AccountID: m.AccountID, Name: m.Name, Role: "mediator"}, policy.User{ID: m.AccountID, Role: policy.RoleMediator})
	}
	for _, p := range c.Participants {
		check(Person{AccountID: p.AccountID, Name: p.Name, Role: string(p.Role), Side: p.Side}, policy.User{ID: p.AccountID, Role: policy.RoleParticipant})
	}
	if gaining == nil {
		gaining = []Person{}
	}
	if losing == nil {
		losing = []Person{}
	}
	return gaining, losing
}
