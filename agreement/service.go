package agreement

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// Limits.
const (
	// MaxTextLen bounds one version's text (bytes of UTF-8).
	MaxTextLen = 100_000
	// MaxVersions bounds the versions of one agreement.
	MaxVersions = 500
	// MaxSignatures bounds the signatures an agreement keeps (every
	// version's).
	MaxSignatures = 2000
	// MaxClockSkew is how far a device's clock in a signature may be from
	// the server's.
	MaxClockSkew = 15 * time.Minute
)

// Devices finds the device that signs for a person (keydir.Service's
// ConsentDevice): registered, unrevoked, and counting for the account by
// its own chain, not by a mediator's admission.
type Devices interface {
	ConsentDevice(ctx context.Context, account, device string) (rec *e2ee.DeviceRecord, how string, err error)
}

// SignatureLog is the key directory's transparency log
// (keydir.Service.LogAgreementSignature).
type SignatureLog interface {
	LogAgreementSignature(ctx context.Context, record []byte) (index int64, entry []byte, err error)
}

// Config is what a Service needs.
type Config struct {
	Meta    *metastore.Store
	Cases   *cases.Service
	Docs    Docs
	Devices Devices
	Log     SignatureLog
	Policy  *policy.Engine
	Audit   *audit.Log
}

// Service keeps the settlement agreements of cases: one per case.
type Service struct {
	cfg Config
	now func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Meta == nil || cfg.Cases == nil || cfg.Docs == nil || cfg.Devices == nil || cfg.Log == nil || cfg.Policy == nil || cfg.Audit == nil {
		return nil, errors.New("agreement: New needs Meta, Cases, Docs, Devices, Log, Policy and Audit")
	}
	return &Service{cfg: cfg, now: time.Now}, nil
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Key is where a case's agreement record is (sealed).
func Key(caseID string) string { return "agreements/" + caseID + "/agreement" }

// record is what is stored: the versions' numbering (the texts are in
// Docs), every signature, and the filing.
//
// A document is written only after the record claims it (Starting, a
// version's Claim, Filing): of two mediators racing, the one whose claim
// lands second is refused before it writes anything, so no loser's
// document or version is ever listed. The claim is completed (Doc,
// DocVer, Filed) once the document is stored, and released when storing
// it fails. A claim older than claimTTL was abandoned (its node stopped
// between the claim and the completion) and is taken over or dropped.
//
// A write whose document the vault stored but could not confirm
// (vault.ErrUnconfirmed: it may still appear) keeps its claim, marked
// Unconfirmed and naming the document, as does a version's save that was
// abandoned or slow: the next read, save, start or filing settles it
// against the document (settle): listed there, the claim is completed
// (a version's, unless a signature was recorded after its claim: then it
// is dropped); not listed once claimTTL has passed, it is dropped (a
// start's, released).
//
// A completion's audit entry, and a withdrawal's, is kept in the record
// (Unaudited) by the update that makes it, until it is written.
type record struct {
	Case      string            `json:"case"`
	Title     string            `json:"title"`
	Template  string            `json:"template"`
	Outcome   api.OutcomeResult `json:"outcome"`
	Doc       string            `json:"doc"`
	Versions  []version         `json:"versions"`
	Sigs      []signature       `json:"signatures"`
	Started   time.Time         `json:"started"`
	StartedBy string            `json:"startedBy"`
	Filed     string            `json:"filed,omitempty"`
	FiledAt   *time.Time        `json:"filedAt,omitempty"`
	// Starting: a Start claimed the record and is storing version 1; until
	// it completes the case has no agreement (loadFor says errNone).
	Starting *claim `json:"starting,omitempty"`
	// Filing: a File claimed the filing and is storing the signed PDF.
	Filing *claim `json:"filing,omitempty"`
	// Unaudited: completions (a start, save or filing) whose audit entry
	// is not known to be in the audit log yet (writeAudit).
	Unaudited []unaudited `json:"unaudited,omitempty"`
}

// unaudited is the audit entry of a completion (or of a version's
// withdrawal: Save), kept in the record by the same update that makes it,
// and removed once the entry is written: so every completion is audited though the request that made it
// ends, or its audit write or record update fails, in between. Writing is
// a lease: the request writing it now, since then; after auditLease a
// read takes it over (flushAudits).
type unaudited struct {
	ID      string      `json:"id"` // the completed claim's
	Event   audit.Event `json:"event"`
	Writing *time.Time  `json:"writing,omitempty"`
	// After: the ID of an entry that must be in the log before this one
	// (a withdrawal's saved entry); this one is not written while the
	// record holds that one.
	After string `json:"after,omitempty"`
}

// auditTimeout bounds one completion's audit write, on a context that is
// not the request's (a browser that leaves does not cancel it);
// auditLease, longer, is how long a lease on writing it stands.
const (
	auditTimeout = 10 * time.Second
	auditLease   = 30 * time.Second
)

// pending is the entry ev of the completion of claim id, leased to this
// request.
func (s *Service) pending(id string, ev audit.Event) unaudited {
	now := s.now().UTC()
	return unaudited{ID: id, Event: ev, Writing: &now}
}

// leasedTo reports whether r still holds u with u's lease.
func leasedTo(r *record, u unaudited) bool {
	i := slices.IndexFunc(r.Unaudited, func(x unaudited) bool { return x.ID == u.ID })
	if i < 0 {
		return false
	}
	w := r.Unaudited[i].Writing
	return w != nil && u.Writing != nil && w.Equal(*u.Writing)
}

// writeAudit writes u's entry, which r holds leased to this request, and
// then removes it from the record; when the entry was not written, the
// lease is released, so that a later read writes it (flushAudits). An
// entry audit.Log.Append gave an index is written, though its checkpoint
// could not be stored (Append returns the index with that error; the
// next append signs it): it is removed, and no error is returned. It runs
// on a context that is not the request's, bounded by auditTimeout. An
// entry is logged twice when it was written but its removal from the
// record then failed (it is written again once its lease has passed), or
// when Append failed without an index though the entry's write had landed
// (a store that answered an error after storing it); it is never lost.
func (s *Service) writeAudit(ctx context.Context, caseID string, u unaudited) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	ev := u.Event
	ev.Time = s.now().UTC()
	idx, err := s.cfg.Audit.Append(actx, ev)
	if idx >= 0 {
		err = nil // in the log for good; only its checkpoint is late
	}
	metastore.Update(actx, s.cfg.Meta, Key(caseID), func(x *record) error {
		if !leasedTo(x, u) {
			return errNotOurs
		}
		i := slices.IndexFunc(x.Unaudited, func(y unaudited) bool { return y.ID == u.ID })
		if err != nil {
			x.Unaudited[i].Writing = nil
		} else {
			x.Unaudited = slices.Delete(x.Unaudited, i, i+1)
		}
		return nil
	})
	return err
}

// flushAudits writes the entries r holds that nobody is writing now: one
// whose writer failed, or ended before it could (its lease passed). Each
// is leased first, so that two readers do not both write it. r itself is
// returned: what it shows does not change.
func (s *Service) flushAudits(ctx context.Context, r *record) *record {
	for _, u := range r.Unaudited {
		if u.Writing != nil && s.now().Sub(*u.Writing) < auditLease {
			continue
		}
		lease := s.now().UTC()
		_, err := metastore.Update(ctx, s.cfg.Meta, Key(r.Case), func(x *record) error {
			i := slices.IndexFunc(x.Unaudited, func(y unaudited) bool { return y.ID == u.ID })
			if i < 0 {
				return errNotOurs // written meanwhile
			}
			if w := x.Unaudited[i].Writing; (w == nil) != (u.Writing == nil) || (w != nil && !w.Equal(*u.Writing)) {
				return errNotOurs // leased by another meanwhile
			}
			if u.After != "" && slices.ContainsFunc(x.Unaudited, func(y unaudited) bool { return y.ID == u.After }) {
				return errNotOurs // the entry it follows is not written yet
			}
			x.Unaudited[i].Writing = &lease
			return nil
		})
		if err != nil {
			continue
		}
		u.Writing = &lease
		s.writeAudit(ctx, r.Case, u)
	}
	return r
}

// claim is a write in progress: who, when, and an id that only the
// request that made it holds.
type claim struct {
	ID string    `json:"id"`
	By string    `json:"by"`
	At time.Time `json:"at"`
	// Unconfirmed: the document write answered vault.ErrUnconfirmed; the
	// request that made the claim has ended, and settle completes or drops
	// it. At is then when the vault answered, not when the claim was made:
	// the write may land from then on.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
	// Doc (a start's or a filing's): the document that may still appear,
	// as the vault named it; SHA256 (a filing's): its PDF's hash.
	Doc    string `json:"doc,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// claimTTL is how long a claim stands; an older one was abandoned. A claim
// covers storing one agreement text or one PDF (well under a second).
const claimTTL = 2 * time.Minute // "two minutes" in the refusals that name it

func (s *Service) newClaim(actor account.Account) *claim {
	return &claim{ID: ids.New("claim"), By: actor.ID, At: s.now().UTC()}
}

// live reports whether c stands (made, and not abandoned).
func (s *Service) live(c *claim) bool { return c != nil && s.now().Sub(c.At) < claimTTL }

// dropAbandoned removes a filing that was abandoned. It does no I/O (it
// runs inside metastore.Update). A filing whose PDF may still appear
// (claim.Doc), and a version whose save was abandoned, are not dropped
// here but by settle, once the vault is seen not to list them.
func (s *Service) dropAbandoned(r *record) {
	if r.Filing != nil && !s.live(r.Filing) && r.Filing.Doc == "" {
		r.Filing = nil
	}
}

// saving is the version being saved now, if any.
func (r *record) saving() *version {
	for i := range r.Versions {
		if r.Versions[i].Claim != nil {
			return &r.Versions[i]
		}
	}
	return nil
}

// supersededSigs reports whether a signature (on any version) was
// recorded in r after v's claim was made (more signatures than when it
// was claimed): completing v now would supersede a signature given while
// it was not shown.
func supersededSigs(r *record, v version) bool {
	return len(r.Sigs) > v.SigsBefore
}

type version struct {
	Num      int       `json:"num"`
	DocVer   int       `json:"docVersion"`
	SHA256   string    `json:"sha256"`
	Size     int       `json:"size"`
	Saved    time.Time `json:"saved"`
	By       string    `json:"by"`
	ByName   string    `json:"byName"`
	Template bool      `json:"template,omitempty"`
	// Claim: the version is being saved (its text is not stored yet); it
	// is not shown, signed or filed.
	Claim *claim `json:"claim,omitempty"`
	// Settled: the claim a read completed this version from (settle),
	// while its save may still have been running; a save that then fails
	// withdraws it (Save).
	Settled string `json:"settled,omitempty"`
	// SigsBefore: how many signatures the record held when the version
	// was claimed (signatures are only ever appended), so that a
	// signature given meanwhile is told by the count, not by comparing
	// clocks of different nodes.
	SigsBefore int `json:"sigsBefore,omitempty"`
}

type signature struct {
	Record   []byte    `json:"record"` // e2ee.AgreementRecord
	Account  string    `json:"account"`
	Version  int       `json:"version"`
	Device   string    `json:"device"`
	DevRec   []byte    `json:"deviceRecord"` // the signing device's e2ee record
	Trust    string    `json:"trust"`
	Recorded time.Time `json:"recorded"`
	LogIndex int64     `json:"logIndex"`
}

// current is the latest version whose text is stored.
func (r *record) current() version {
	for i := len(r.Versions) - 1; i > 0; i-- {
		if r.Versions[i].Claim == nil {
			return r.Versions[i]
		}
	}
	return r.Versions[0]
}

// SHA256Hex is the hash a signature covers: lower-case hex SHA-256 of the
// version's text bytes.
func SHA256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Fingerprint is how a device key is shown to people: the first 16 bytes
// of SHA-256 of the Ed25519 public key, hex, in groups of four.
func Fingerprint(key []byte) string {
	h := sha256.Sum256(key)
	x := hex.EncodeToString(h[:16])
	var parts []string
	for i := 0; i < len(x); i += 4 {
		parts = append(parts, x[i:i+4])
	}
	return strings.Join(parts, " ")
}

// CommentPrefix starts a joint-room message that comments on a version:
// "[agreement v3] text". The browser shows such a message as a comment on
// that version; the server never reads it (messages are end-to-end
// encrypted).
const CommentPrefix = "[agreement v"

// CommentBody is the message body of a comment on version v.
func CommentBody(v int, text string) string { return CommentPrefix + strconv.Itoa(v) + "] " + text }

// ParseComment reads a comment's version and text; ok is false for any
// other message.
func ParseComment(body string) (v int, text string, ok bool) {
	rest, ok := strings.CutPrefix(body, CommentPrefix)
	if !ok {
		return 0, "", false
	}
	num, text, ok := strings.Cut(rest, "] ")
	if !ok {
		return 0, "", false
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 1 || strconv.Itoa(v) != num {
		return 0, "", false
	}
	return v, text, true
}

func (s *Service) audit(ctx context.Context, ev audit.Event) error {
	ev.Time = s.now().UTC()
	_, err := s.cfg.Audit.Append(ctx, ev)
	return err
}

// authorize loads the case and asks policy. An outsider is told the case
// does not exist, exactly as for a case that does not exist and audited
// alike (cases.LoadFor); someone in it, that they may not.
func (s *Service) authorize(ctx context.Context, actor account.Account, caseID string, a policy.Action) (*cases.Case, error) {
	c, err := s.cfg.Cases.LoadFor(ctx, actor, caseID, a)
	if err != nil {
		return nil, err
	}
	// A mediator no seated mediator has confirmed reads and drafts no
	// agreement (unconfirmed-mediators-see-no-agreement): the refusal names
	// the rule in the log and says what they wait for.
	if err := s.cfg.Cases.Admission(ctx, c); err != nil {
		return nil, err
	}
	d := s.cfg.Policy.Decide(actor.Principal(), a, c.Facts())
	if d.Allowed {
		return c, nil
	}
	if slices.Contains(d.Policies, cases.RuleUnconfirmedAgreement) {
		s.audit(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID,
			Attrs: map[string]string{"action": string(a), "rule": cases.RuleUnconfirmedAgreement}})
		return nil, c.NotConfirmed("read or draft this case's settlement agreement")
	}
	s.audit(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID, Attrs: map[string]string{"action": string(a)}})
	_, isMed := c.Mediator(actor.ID)
	_, isPart := c.Participant(actor.ID)
	if !isMed && !isPart {
		return nil, fmt.Errorf("case %s: %w", caseID, fault.ErrNotFound)
	}
	return nil, fmt.Errorf("you may not do this with the case's agreement: %w", fault.ErrForbidden)
}

// errNone: the case has no agreement yet. Someone who may read it is not
// refused: GET answers state "none", anything else is a conflict.
var errNone = fmt.Errorf("this case has no agreement yet; a mediator drafts one first: %w", fault.ErrConflict)

// loadRaw is the record as stored, one being started included.
func (s *Service) loadRaw(ctx context.Context, caseID string) (*record, error) {
	var r record
	if _, err := s.cfg.Meta.Get(ctx, Key(caseID), &r); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return nil, errNone
		}
		return nil, err
	}
	return &r, nil
}

// loadFor is load after settle: what actor reads, saves, signs or files
// on. drafter: actor may draft the agreement (a mediator of the case, who
// sees its joint documents), so a claimed document actor does not find
// is not there; anyone else only completes claims, never drops one (the
// vault answers a document someone may not see as not found).
func (s *Service) loadFor(ctx context.Context, actor account.Account, caseID string, drafter bool) (*record, error) {
	r, err := s.loadRaw(ctx, caseID)
	if err != nil {
		return nil, err
	}
	r = s.settleStart(ctx, actor, r, drafter)
	r = s.settle(ctx, actor, r, drafter)
	r = s.settleFiling(ctx, actor, r, drafter)
	r = s.flushAudits(ctx, r)
	if r.Starting != nil {
		return nil, errNone // being started: nothing of it is visible yet
	}
	return r, nil
}

// unsettled reports whether c is a start's or filing's claim that settle
// must look at: its document may have landed (Doc), and the request that
// made it has ended (Unconfirmed) or was abandoned.
func (s *Service) unsettled(c *claim) bool {
	return c != nil && c.Doc != "" && (c.Unconfirmed || !s.live(c))
}

// settleStart settles a start whose document the vault did not confirm:
// version 1 listed in the named document completes the start; not listed
// once the claim's lifetime has passed, the claim forgets the document
// and is released (a Start may take it over). On any error r is returned
// as it is (the case reads as having no agreement yet).
func (s *Service) settleStart(ctx context.Context, actor account.Account, r *record, drafter bool) *record {
	st := r.Starting
	if !s.unsettled(st) || len(r.Versions) == 0 {
		return r
	}
	dv, err := s.cfg.Docs.Find(ctx, actor, r.Case, st.Doc, r.Versions[0].SHA256, 0)
	if err != nil || (dv == 0 && (s.live(st) || !drafter)) {
		return r
	}
	u := s.pending(st.ID, audit.Event{Type: "agreement.started", Actor: st.By, Case: r.Case, Objects: []string{st.Doc, "1"},
		Attrs: map[string]string{"template": r.Template, "outcome": string(r.Outcome), "settled": "later"}})
	out, err := metastore.Update(ctx, s.cfg.Meta, Key(r.Case), func(x *record) error {
		if x.Starting == nil || x.Starting.ID != st.ID {
			return errNotOurs
		}
		if dv == 0 {
			x.Starting.Doc, x.Starting.At = "", time.Time{}
			return nil
		}
		x.Starting, x.Doc, x.Versions[0].DocVer = nil, st.Doc, dv
		x.Unaudited = append(x.Unaudited, u)
		return nil
	})
	return s.completed(ctx, r, &out, err, dv != 0, u)
}

// completed ends a settle's update (out, err): the record as it is now,
// and, when the update completed a claim (done) and the record holds its
// entry leased to this request (so also when the update landed but
// answered an error), the entry written.
func (s *Service) completed(ctx context.Context, r, out *record, err error, done bool, u unaudited) *record {
	if err != nil {
		again, lerr := s.loadRaw(ctx, r.Case)
		if lerr != nil {
			return r
		}
		out = again
	}
	if done && leasedTo(out, u) {
		s.writeAudit(ctx, r.Case, u)
	}
	return out
}

// settleFiling settles a filing whose PDF the vault did not confirm, or
// whose request was abandoned after the vault named its document: the
// document listed completes the filing; not listed once the claim's
// lifetime has passed, the filing is dropped. On any error r is returned
// as it is (not filed; saves and filings are refused meanwhile).
func (s *Service) settleFiling(ctx context.Context, actor account.Account, r *record, drafter bool) *record {
	fl := r.Filing
	if r.Starting != nil || r.Filed != "" || !s.unsettled(fl) {
		return r
	}
	dv, err := s.cfg.Docs.Find(ctx, actor, r.Case, fl.Doc, fl.SHA256, 0)
	if err != nil || (dv == 0 && (s.live(fl) || !drafter)) {
		return r
	}
	u := s.pending(fl.ID, audit.Event{Type: "agreement.filed", Actor: fl.By, Case: r.Case, Objects: []string{fl.Doc, strconv.Itoa(r.current().Num)},
		Attrs: map[string]string{"outcome": string(r.Outcome), "settled": "later"}})
	out, err := metastore.Update(ctx, s.cfg.Meta, Key(r.Case), func(x *record) error {
		if x.Filing == nil || x.Filing.ID != fl.ID {
			return errNotOurs
		}
		if dv == 0 {
			x.Filing = nil
			return nil
		}
		now := s.now().UTC()
		x.Filed, x.FiledAt, x.Filing = fl.Doc, &now, nil
		x.Unaudited = append(x.Unaudited, u)
		return nil
	})
	return s.completed(ctx, r, &out, err, dv != 0, u)
}

// settle completes or drops a version whose save ended without completing
// its claim: one the vault did not confirm (Unconfirmed), or one abandoned
// or slow (older than claimTTL: its node stopped after the claim, or the
// vault is taking long). It looks in the agreement's document for a
// version, newer than every version of the agreement, whose text has the
// claimed hash. One rule, whatever the claim's age or mark:
//
//   - found, the agreement's version is completed with it (and audited as
//     saved, by whoever saved it), unless a signature (on any version) was
//     recorded after the claim was made (supersededSigs): made current, it
//     would supersede that signature, given on a version everyone was told
//     stands. It is then dropped by a mediator's read (it stays a version
//     of the document that the agreement does not list); anyone else's
//     read leaves it, not shown;
//   - not found, the claim stands while it is live (the version may still
//     appear) and is dropped by a mediator's read once it is not (claimTTL
//     from the vault's answer for an unconfirmed claim, from the claim
//     otherwise).
//
// A claim that is live and not marked Unconfirmed is a save under way,
// completed by its own request, and is left alone. When the document
// cannot be read, or the record not written, r is returned as it is: the
// claimed version is not shown, and the next read settles it.
func (s *Service) settle(ctx context.Context, actor account.Account, r *record, drafter bool) *record {
	v := r.saving()
	if r.Starting != nil || v == nil || (s.live(v.Claim) && !v.Claim.Unconfirmed) {
		return r
	}
	after := 0
	for _, x := range r.Versions {
		if x.Claim == nil {
			after = max(after, x.DocVer)
		}
	}
	dv, err := s.cfg.Docs.Find(ctx, actor, r.Case, r.Doc, v.SHA256, after)
	if err != nil || (dv == 0 && (s.live(v.Claim) || !drafter)) {
		return r
	}
	if dv != 0 && supersededSigs(r, *v) {
		if !drafter {
			return r
		}
		dv = 0 // dropped: a signature was given meanwhile
	}
	cl := *v.Claim
	u := s.pending(cl.ID, audit.Event{Type: "agreement.saved", Actor: cl.By, Case: r.Case, Objects: []string{r.Doc, strconv.Itoa(v.Num)},
		Attrs: map[string]string{"settled": "later"}})
	out, err := metastore.Update(ctx, s.cfg.Meta, Key(r.Case), func(x *record) error {
		i := slices.IndexFunc(x.Versions, func(y version) bool { return y.Claim != nil && y.Claim.ID == cl.ID })
		if i < 0 {
			return errNotOurs // settled meanwhile
		}
		if dv == 0 {
			x.Versions = slices.Delete(x.Versions, i, i+1)
		} else if supersededSigs(x, x.Versions[i]) {
			return errNotOurs // signed meanwhile: the next read drops it
		} else {
			x.Versions[i].DocVer, x.Versions[i].Claim, x.Versions[i].Settled = dv, nil, cl.ID
			x.Unaudited = append(x.Unaudited, u)
		}
		return nil
	})
	return s.completed(ctx, r, &out, err, dv != 0, u)
}

func checkText(text string) error {
	switch {
	case strings.TrimSpace(text) == "":
		return fault.Invalid("text", "required")
	case len(text) > MaxTextLen:
		return fault.Invalid("text", fmt.Sprintf("at most %d bytes", MaxTextLen))
	case !utf8.ValidString(text):
		return fault.Invalid("text", "UTF-8 text")
	}
	if r, bad := Unshowable(text); bad {
		return fault.Invalid("text", fmt.Sprintf("the text has %s, which the signed PDF cannot show exactly; remove or replace it (the PDF shows Western European letters, digits and common punctuation)", describeRune(r)))
	}
	return nil
}

// Templates lists the program's templates.
func (s *Service) Templates() api.AgreementTemplates {
	return api.AgreementTemplates{Templates: slices.Clone(Templates)}
}

// Start begins a case's agreement from a template (empty: the default for
// the case's type), with the case's parties and objectives filled in, as
// version 1 in the joint room.
func (s *Service) Start(ctx context.Context, actor account.Account, caseID string, req api.AgreementStartRequest) (api.Agreement, error) {
	c, err := s.authorize(ctx, actor, caseID, policy.AgreementDraft)
	if err != nil {
		return api.Agreement{}, err
	}
	if c.Closed != nil {
		return api.Agreement{}, fmt.Errorf("the case is closed: %w", fault.ErrConflict)
	}
	if req.Template == "" {
		req.Template = DefaultTemplate(c.Type)
	}
	t, ok := Template(req.Template)
	if !ok {
		return api.Agreement{}, fault.Invalid("template", "one of the program's templates (parley agreement templates)")
	}
	switch req.Outcome {
	case "":
		req.Outcome = api.FullAgreement
	case api.FullAgreement, api.PartialAgreement:
	default:
		return api.Agreement{}, fault.Invalid("outcome", "full-agreement or partial-agreement")
	}
	if _, err := s.loadFor(ctx, actor, caseID, true); err == nil {
		return api.Agreement{}, fmt.Errorf("this case already has an agreement; save a new version of it instead: %w", fault.ErrConflict)
	} else if !errors.Is(err, errNone) {
		return api.Agreement{}, err
	}
	now := s.now().UTC()
	text := Render(t.Text, c, now)
	if err := checkText(text); err != nil {
		return api.Agreement{}, err
	}
	m, _ := c.Mediator(actor.ID)
	cl := s.newClaim(actor)
	claimed := &record{Case: caseID, Title: t.Title, Template: t.ID, Outcome: req.Outcome, Started: now, StartedBy: actor.ID, Starting: cl,
		Versions: []version{{Num: 1, SHA256: SHA256Hex([]byte(text)), Size: len(text), Saved: now, By: actor.ID, ByName: m.Name, Template: true}}}
	// The record is claimed before the document is written: a second
	// Start is refused here and writes nothing.
	if _, err := s.cfg.Meta.Create(ctx, Key(caseID), claimed); errors.Is(err, metastore.ErrExists) {
		_, err = metastore.Update(ctx, s.cfg.Meta, Key(caseID), func(x *record) error {
			switch {
			case x.Starting == nil:
				return fmt.Errorf("this case already has an agreement; save a new version of it instead: %w", fault.ErrConflict)
			case x.Starting.Unconfirmed && s.live(x.Starting):
				return fmt.Errorf("storage did not confirm an earlier start of this case's agreement, so it may still appear; read the agreement again in a few minutes before starting it: %w", fault.ErrConflict)
			case x.Starting.Doc != "":
				// Not settled (settleStart could not read its document).
				return fmt.Errorf("an earlier start of this case's agreement could not be checked against storage just now; try again shortly: %w", fault.ErrUnavailable)
			case s.live(x.Starting):
				return fmt.Errorf("another mediator is starting this case's agreement now: %w", fault.ErrConflict)
			}
			*x = *claimed // an abandoned start: taken over
			return nil
		})
		if err != nil {
			return api.Agreement{}, err
		}
	} else if err != nil {
		return api.Agreement{}, err
	}
	docID, dv, err := s.cfg.Docs.Create(ctx, actor, caseID, "Settlement agreement.txt", []byte(text))
	if err != nil {
		var ue *vault.UnconfirmedError
		unconfirmed := errors.As(err, &ue)
		metastore.Update(context.WithoutCancel(ctx), s.cfg.Meta, Key(caseID), func(x *record) error {
			if x.Starting == nil || x.Starting.ID != cl.ID {
				return errNotOurs
			}
			if unconfirmed {
				// The document may still appear: the claim is kept,
				// naming it, and settled by a later read (settleStart).
				// Its lifetime runs from now (see Save).
				x.Starting.Unconfirmed, x.Starting.Doc, x.Starting.At = true, ue.Doc, s.now().UTC()
				return nil
			}
			// Released: the claim is marked abandoned so that a Start
			// may take it over now.
			x.Starting.At = time.Time{}
			return nil
		})
		return api.Agreement{}, err
	}
	u := s.pending(cl.ID, audit.Event{Type: "agreement.started", Actor: actor.ID, Case: caseID, Objects: []string{docID, "1"},
		Attrs: map[string]string{"template": t.ID, "outcome": string(req.Outcome)}})
	r, err := metastore.Update(ctx, s.cfg.Meta, Key(caseID), func(x *record) error {
		if x.Starting == nil || x.Starting.ID != cl.ID {
			return fmt.Errorf("this start took longer than two minutes and another mediator's start took its place; read the agreement again: %w", fault.ErrConflict)
		}
		x.Starting, x.Doc, x.Versions[0].DocVer = nil, docID, dv
		x.Unaudited = append(x.Unaudited, u)
		return nil
	})
	if err != nil {
		// It may have landed: a later read writes its entry once the
		// lease has passed (flushAudits).
		return api.Agreement{}, err
	}
	if err := s.writeAudit(ctx, caseID, u); err != nil {
		return api.Agreement{}, fmt.Errorf("the agreement was started, but the audit log could not be written yet (it will be, at a later read): %w", err)
	}
	return s.view(ctx, actor, c, &r, true)
}

// errNotOurs: a claim being released is no longer this request's.
var errNotOurs = errors.New("agreement: the claim is no longer this request's")

// Save stores text as a new version. base is the version the mediator
// edited; a save on anything but the current version is refused. Every
// signature on earlier versions stays recorded but signs nothing now:
// everyone signs the new version again.
func (s *Service) Save(ctx context.Context, actor account.Account, caseID string, req api.AgreementSaveRequest) (api.Agreement, error) {
	if err := checkText(req.Text); err != nil {
		return api.Agreement{}, err
	}
	c, err := s.authorize(ctx, actor, caseID, policy.AgreementDraft)
	if err != nil {
		return api.Agreement{}, err
	}
	r, err := s.loadFor(ctx, actor, caseID, true)
	if err != nil {
		return api.Agreement{}, err
	}
	s.dropAbandoned(r)
	if err := s.saveRefusal(r, req); err != nil {
		return api.Agreement{}, err
	}
	m, _ := c.Mediator(actor.ID)
	// The version is claimed before its text is written: a concurrent
	// save or filing is refused here and writes nothing.
	cl := s.newClaim(actor)
	var num int
	if _, err := metastore.Update(ctx, s.cfg.Meta, Key(caseID), func(r *record) error {
		s.dropAbandoned(r)
		if err := s.saveRefusal(r, req); err != nil {
			return err
		}
		num = r.current().Num + 1
		r.Versions = append(r.Versions, version{Num: num, SHA256: SHA256Hex([]byte(req.Text)), Size: len(req.Text),
			Saved: cl.At, By: actor.ID, ByName: m.Name, Claim: cl, SigsBefore: len(r.Sigs)})
		return nil
	}); err != nil {
		return api.Agreement{}, err
	}
	ours := func(v version) bool { return v.Claim != nil && v.Claim.ID == cl.ID }
	dv, err := s.cfg.Docs.AddVersion(ctx, actor, caseID, r.Doc, []byte(req.Text))
	if err != nil {
		// w: the withdrawal's audit entry, kept in the record like a
		// completion's (unaudited), leased to this request.
		w := s.pending(cl.ID+"/withdrawn", audit.Event{Type: "agreement.save.withdrawn", Actor: actor.ID, Case: caseID, Objects: []string{r.Doc, strconv.Itoa(num)}})
		logged := false
		out, uerr := metastore.Update(context.WithoutCancel(ctx), s.cfg.Meta, Key(caseID), func(r *record) error {
			logged = false
			if errors.Is(err, vault.ErrUnconfirmed) {
				// The text was stored but the vault could not confirm
				// the version, which may still appear in the document:
				// the claim is kept, so the version is neither listed
				// before it is there nor lost if it lands, and a later
				// read or save settles it against the document (settle).
				// Not settled here at once: the vault has just read the
				// document back and not found it, and a write that lands
				// later lands after any bounded re-read too.
				i := slices.IndexFunc(r.Versions, ours)
				if i < 0 {
					return errNotOurs
				}
				// The claim's lifetime runs from now: the write may
				// land from now on, however long the vault took.
				r.Versions[i].Claim.Unconfirmed, r.Versions[i].Claim.At = true, s.now().UTC()
				return nil
			}
			r.Versions = slices.DeleteFunc(r.Versions, ours)
			// A save slower than claimTTL may have been completed by a
			// read that found its version (settle) before the vault took
			// the version back (a hold or fence check after it was
			// listed): the version is withdrawn too, while nothing
			// depends on it (the latest version, unsigned, not being
			// filed).
			last := len(r.Versions) - 1
			if last > 0 && r.Versions[last].Settled == cl.ID && r.Versions[last].Num == num && r.Filed == "" && r.Filing == nil &&
				!slices.ContainsFunc(r.Sigs, func(g signature) bool { return g.Version == num }) {
				r.Versions = r.Versions[:last]
				// Its agreement.saved entry: written (not in the record),
				// the withdrawal is logged after it; still in the record
				// (leased, or released after a write that may have landed
				// all the same: unknown), it is kept, and the withdrawal
				// is logged once it is written (flushAudits writes an
				// entry After another only once that one is): at worst
				// the log says saved, then withdrawn.
				i := slices.IndexFunc(r.Unaudited, func(u unaudited) bool { return u.ID == cl.ID })
				switch {
				case i < 0:
					r.Unaudited = append(r.Unaudited, w)
					logged = true
				default:
					r.Unaudited = append(r.Unaudited, unaudited{ID: w.ID, Event: w.Event, After: cl.ID})
				}
			}
			return nil
		})
		// Written when the record holds it leased to this request (so
		// also when the update landed but answered an error).
		s.completed(context.WithoutCancel(ctx), r, &out, uerr, logged, w)
		return api.Agreement{}, err
	}
	u := s.pending(cl.ID, audit.Event{Type: "agreement.saved", Actor: actor.ID, Case: caseID, Objects: []string{r.Doc, strconv.Itoa(num)}})
	completed, dropped := false, false
	out, err := metastore.Update(ctx, s.cfg.Meta, Key(caseID), func(r *record) error {
		completed, dropped = false, false
		i := slices.IndexFunc(r.Versions, ours)
		if i >= 0 && !s.live(r.Versions[i].Claim) && supersededSigs(r, r.Versions[i]) {
			// Slower than claimTTL, and signed meanwhile (settle's
			// rule): dropped, so that no signature given since is
			// superseded; the document keeps the version unlisted.
			r.Versions = slices.Delete(r.Versions, i, i+1)
			dropped = true
			return nil
		}
		if i < 0 {
			if slices.ContainsFunc(r.Versions, func(v version) bool { return v.Claim == nil && v.Num == num && v.DocVer == dv }) {
				// Completed already by a read that settled it, which
				// audited it (settle): not audited again here.
				return nil
			}
			return fmt.Errorf("this save took longer than two minutes and was dropped (not found in time, or the agreement was signed meanwhile); read the agreement and save again: %w", fault.ErrConflict)
		}
		r.Versions[i].DocVer, r.Versions[i].Claim = dv, nil
		r.Unaudited = append(r.Unaudited, u)
		completed = true
		return nil
	})
	if err != nil {
		// It may have landed: a later read writes its entry once the
		// lease has passed (flushAudits).
		return api.Agreement{}, err
	}
	if dropped {
		return api.Agreement{}, fmt.Errorf("this save took longer than two minutes and the agreement was signed meanwhile, so version %d was not made current; read the agreement and save again: %w", num, fault.ErrConflict)
	}
	if completed {
		if err := s.writeAudit(ctx, caseID, u); err != nil {
			return api.Agreement{}, fmt.Errorf("version %d was saved, but the audit log could not be written yet (it will be, at a later read): %w", num, err)
		}
	}
	return s.view(ctx, actor, c, &out, true)
}

// saveRefusal refuses a save r cannot take now. It does no I/O, so it may
// run inside a metastore.Update.
func (s *Service) saveRefusal(r *record, req api.AgreementSaveRequest) error {
	cur := r.current()
	switch {
	case r.Filed != "":
		return fmt.Errorf("the signed agreement was filed; it cannot change: %w: %w", ErrFiled, fault.ErrConflict)
	case r.Filing != nil && r.Filing.Unconfirmed && s.live(r.Filing):
		return fmt.Errorf("storage did not confirm the filing of the signed agreement, so it may still appear; it cannot change meanwhile: read the agreement again in a few minutes: %w", fault.ErrConflict)
	case r.Filing != nil && r.Filing.Doc != "":
		// Not settled (settleFiling could not read its document).
		return fmt.Errorf("an earlier filing of the signed agreement could not be checked against storage just now; try again shortly: %w", fault.ErrUnavailable)
	case s.live(r.Filing):
		return fmt.Errorf("the signed agreement is being filed now; it cannot change: %w", fault.ErrConflict)
	case r.saving() != nil && !s.live(r.saving().Claim):
		// Not settled (settle could not read the agreement's document).
		return fmt.Errorf("version %d's earlier save could not be checked against the stored agreement just now; try again shortly: %w",
			r.saving().Num, fault.ErrUnavailable)
	case r.saving() != nil && r.saving().Claim.Unconfirmed:
		return fmt.Errorf("storage did not confirm %s's save of version %d, so it may still appear; read the agreement again in a few minutes before saving: %w",
			r.saving().ByName, r.saving().Num, fault.ErrConflict)
	case r.saving() != nil:
		return fmt.Errorf("%s is saving version %d now; read it and edit again: %w", r.saving().ByName, r.saving().Num, fault.ErrConflict)
	case req.Base != cur.Num:
		return fmt.Errorf("version %d was saved since you began editing version %d; read it and edit again: %w", cur.Num, req.Base, fault.ErrConflict)
	case SHA256Hex([]byte(req.Text)) == cur.SHA256:
		return fmt.Errorf("this text is already version %d: %w", cur.Num, fault.ErrConflict)
	case len(r.Versions) >= MaxVersions:
		return fault.Invalid("text", fmt.Sprintf("an agreement keeps at most %d versions", MaxVersions))
	}
	return nil
}

// Get is the agreement as actor sees it, with the current version's text.
func (s *Service) Get(ctx context.Context, actor account.Account, caseID string) (api.Agreement, error) {
	c, err := s.authorize(ctx, actor, caseID, policy.AgreementRead)
	if err != nil {
		return api.Agreement{}, err
	}
	r, err := s.loadFor(ctx, actor, caseID, s.cfg.Policy.Decide(actor.Principal(), policy.AgreementDraft, c.Facts()).Allowed)
	if errors.Is(err, errNone) {
		return api.Agreement{Case: caseID, State: api.AgreementNone, Versions: []api.AgreementVersion{}, Signers: []api.AgreementSigner{},
			MaySign:  s.cfg.Policy.Decide(actor.Principal(), policy.AgreementSign, c.Facts()).Allowed,
			MayDraft: s.cfg.Policy.Decide(actor.Principal(), policy.AgreementDraft, c.Facts()).Allowed}, nil
	}
	if err != nil {
		return api.Agreement{}, err
	}
	return s.view(ctx, actor, c, r, true)
}

// Version returns one version with its text (num < 1 is refused as
// invalid, after the access decision).
func (s *Service) Version(ctx context.Context, actor account.Account, caseID string, num int) (api.AgreementVersion, error) {
	if _, err := s.authorize(ctx, actor, caseID, policy.AgreementRead); err != nil {
		return api.AgreementVersion{}, err
	}
	if num < 1 {
		return api.AgreementVersion{}, fault.Invalid("version", "a version number (1 or more)")
	}
	r, err := s.loadFor(ctx, actor, caseID, false)
	if err != nil {
		return api.AgreementVersion{}, err
	}
	// A version being saved (claimed: its text may not be stored) is not
	// shown, as in the agreement's history.
	if num < 1 || num > len(r.Versions) || r.Versions[num-1].Claim != nil {
		return api.AgreementVersion{}, fmt.Errorf("version %d: %w", num, fault.ErrNotFound)
	}
	v := r.Versions[num-1]
	text, err := s.text(ctx, actor, r, v)
	if err != nil {
		return api.AgreementVersion{}, err
	}
	out := versionView(v)
	out.Text = text
	return out, nil
}

// text reads a version's text and checks it is what was saved.
func (s *Service) text(ctx context.Context, actor account.Account, r *record, v version) (string, error) {
	b, err := s.cfg.Docs.Read(ctx, actor, r.Case, r.Doc, v.DocVer, MaxTextLen)
	if err != nil {
		return "", err
	}
	if SHA256Hex(b) != v.SHA256 {
		return "", fmt.Errorf("agreement: version %d's text does not match its recorded hash", v.Num)
	}
	return string(b), nil
}

func versionView(v version) api.AgreementVersion {
	return api.AgreementVersion{Version: v.Num, SHA256: v.SHA256, Size: v.Size, Saved: v.Saved, By: v.ByName}
}

// signers is everyone who must sign: the case's parties and counsel.
func signers(c *cases.Case) []cases.Participant {
	var out []cases.Participant
	for _, p := range c.Participants {
		if p.Role == cases.RoleParty || p.Role == cases.RoleCounsel {
			out = append(out, p)
		}
	}
	return out
}

func sideLabel(c *cases.Case, side string) string {
	for _, sd := range c.Sides {
		if sd.ID == side {
			return sd.Label
		}
	}
	return ""
}

func sigView(c *cases.Case, g signature) api.AgreementSignature {
	a, sig, _ := e2ee.DecodeAgreementRecord(g.Record)
	out := api.AgreementSignature{AccountID: g.Account, Version: g.Version, SHA256: a.TextSHA, Device: g.Device,
		DeviceKey: base64.StdEncoding.EncodeToString(a.DeviceKey), Fingerprint: Fingerprint(a.DeviceKey), SignedAt: a.At,
		Signature: base64.StdEncoding.EncodeToString(sig), Recorded: g.Recorded, LogIndex: g.LogIndex}
	if p, ok := c.Participant(g.Account); ok {
		out.Name, out.Role, out.Side = p.Name, p.Role, sideLabel(c, p.Side)
	}
	return out
}

// state is drafting, signing or signed, and each signer's signature on the
// current version.
func state(c *cases.Case, r *record) (string, []api.AgreementSigner, func(signature) bool) {
	cur := r.current()
	onCurrent := func(g signature) bool { return g.Version == cur.Num }
	var out []api.AgreementSigner
	all, any := true, false
	for _, p := range signers(c) {
		sg := api.AgreementSigner{AccountID: p.AccountID, Name: p.Name, Role: p.Role, Side: sideLabel(c, p.Side)}
		for _, g := range r.Sigs {
			if g.Account == p.AccountID && onCurrent(g) {
				v := sigView(c, g)
				sg.Signed = &v
				break
			}
		}
		if sg.Signed == nil {
			all = false
		} else {
			any = true
		}
		out = append(out, sg)
	}
	switch {
	case all && len(out) > 0:
		return api.AgreementSigned, out, onCurrent
	case any:
		return api.AgreementSigning, out, onCurrent
	}
	return api.AgreementDrafting, out, onCurrent
}

func (s *Service) view(ctx context.Context, actor account.Account, c *cases.Case, r *record, withText bool) (api.Agreement, error) {
	st, sgs, onCurrent := state(c, r)
	v := api.Agreement{Case: r.Case, Title: r.Title, Template: r.Template, Outcome: r.Outcome, State: st, Signers: sgs,
		Document: r.Doc, Filed: r.Filed, FiledAt: r.FiledAt, Started: r.Started,
		MaySign:  s.cfg.Policy.Decide(actor.Principal(), policy.AgreementSign, c.Facts()).Allowed,
		MayDraft: s.cfg.Policy.Decide(actor.Principal(), policy.AgreementDraft, c.Facts()).Allowed}
	if v.Signers == nil {
		v.Signers = []api.AgreementSigner{}
	}
	for _, ver := range r.Versions {
		if ver.Claim == nil {
			v.Versions = append(v.Versions, versionView(ver))
		}
	}
	v.Current = versionView(r.current())
	for _, g := range r.Sigs {
		if !onCurrent(g) {
			v.Superseded = append(v.Superseded, sigView(c, g))
		}
	}
	if withText {
		text, err := s.text(ctx, actor, r, r.current())
		if err != nil {
			return api.Agreement{}, err
		}
		v.Current.Text = text
	}
	return v, nil
}

// ErrSuperseded refuses a signature on a version that is no longer the
// current one.
var ErrSuperseded = errors.New("superseded")

// ErrFiled refuses a signature on, or a new version of, an agreement that
// was signed by everyone and filed.
var ErrFiled = errors.New("filed")

// Sign records actor's device signature on the current version. A
// signature on any other version is refused (the text changed since they
// read it); so is one whose text hash is not the version's, one by a
// device that does not count for the account by its own chain, and one
// whose signature does not verify. A second signature by the same person
// on the same version changes nothing. Only then is the signature appended
// to the key directory's transparency log, then recorded, then audited.
func (s *Service) Sign(ctx context.Context, actor account.Account, caseID string, req api.AgreementSignRequest) (api.Agreement, error) {
	c, err := s.authorize(ctx, actor, caseID, policy.AgreementSign)
	if err != nil {
		return api.Agreement{}, err
	}
	r, err := s.loadFor(ctx, actor, caseID, false)
	if err != nil {
		return api.Agreement{}, err
	}
	sigBytes, err := base64.StdEncoding.DecodeString(req.Signature)
	if err != nil || len(sigBytes) != ed25519.SignatureSize {
		return api.Agreement{}, fault.Invalid("signature", "an Ed25519 signature in base64 (64 bytes)")
	}
	if err := s.signRefusal(ctx, actor, r, req); err != nil {
		return api.Agreement{}, err
	}
	if d := time.UnixMilli(req.SignedAt).Sub(s.now()); d > MaxClockSkew || d < -MaxClockSkew {
		return api.Agreement{}, fault.Invalid("signedAt", "the device's clock is more than 15 minutes off; set the clock and try again")
	}
	dev, how, err := s.cfg.Devices.ConsentDevice(ctx, actor.ID, req.Device)
	if err != nil {
		s.audit(ctx, audit.Event{Type: "agreement.sign.refused", Actor: actor.ID, Case: caseID, Objects: []string{strconv.Itoa(req.Version)},
			Attrs: map[string]string{"reason": "device"}})
		return api.Agreement{}, fmt.Errorf("this device cannot sign for you: it is not registered, was revoked, or was added by a mediator rather than linked from your own device: %w", fault.ErrForbidden)
	}
	// The statement is the server's own account of what is signed: this
	// agreement's document, the version, its text's hash, the outcome it
	// settles and the signer's role in the case. A device that signed
	// anything else (another document, outcome or role) does not verify.
	p, _ := c.Participant(actor.ID)
	a := e2ee.AgreementSignature{Case: caseID, Doc: r.Doc, Version: req.Version, TextSHA: req.SHA256, Outcome: string(r.Outcome),
		Account: actor.ID, Role: string(p.Role), Device: dev.ID, DeviceKey: dev.SigPub, At: req.SignedAt}
	if err := e2ee.VerifyAgreement(a, sigBytes); err != nil {
		s.audit(ctx, audit.Event{Type: "agreement.sign.refused", Actor: actor.ID, Case: caseID, Objects: []string{strconv.Itoa(req.Version)},
			Attrs: map[string]string{"reason": "signature"}})
		return api.Agreement{}, fault.Invalid("signature", fmt.Sprintf("a signature by your registered device over version %d of this agreement, what it settles (%s) and your role as %s",
			req.Version, strings.ReplaceAll(string(r.Outcome), "-", " "), RoleWord(string(p.Role))))
	}
	st, _ := a.Statement()
	rec := e2ee.AgreementRecord(st, sigBytes)
	// Checked before anything is logged: a second signature by the same
	// person on the same version changes nothing and is not logged again.
	signedAlready := func(r *record) bool {
		return slices.ContainsFunc(r.Sigs, func(g signature) bool { return g.Account == actor.ID && g.Version == req.Version })
	}
	if signedAlready(r) {
		return s.view(ctx, actor, c, r, true)
	}
	if len(r.Sigs) >= MaxSignatures {
		return api.Agreement{}, fault.Invalid("signature", "this agreement holds no more signatures")
	}
	idx, _, err := s.cfg.Log.LogAgreementSignature(ctx, rec)
	if err != nil {
		return api.Agreement{}, err
	}
	added := false
	out, err := metastore.Update(ctx, s.cfg.Meta, Key(caseID), func(r *record) error {
		added = false
		// No audit in here (this may run more than once): a refusal
		// is audited once the update has ended.
		if err := signCheck(r, req); err != nil {
			return err
		}
		if signedAlready(r) {
			return nil // signed this version meanwhile (a concurrent request)
		}
		if len(r.Sigs) >= MaxSignatures {
			return fault.Invalid("signature", "this agreement holds no more signatures")
		}
		r.Sigs = append(r.Sigs, signature{Record: rec, Account: actor.ID, Version: req.Version, Device: dev.ID, DevRec: dev.Raw,
			Trust: how, Recorded: s.now().UTC(), LogIndex: idx})
		added = true
		return nil
	})
	if err != nil {
		s.auditSignRefusal(ctx, actor, caseID, req, err)
		return api.Agreement{}, err
	}
	if added {
		// The signature stands once recorded: its entry is written though
		// the request ends now (a browser closing), within auditTimeout.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
		defer cancel()
		if err := s.audit(actx, audit.Event{Type: "agreement.signed", Actor: actor.ID, Case: caseID,
			Objects: []string{r.Doc, strconv.Itoa(req.Version), dev.ID}, Attrs: map[string]string{"device": how, "logIndex": strconv.FormatInt(idx, 10)}}); err != nil {
			return api.Agreement{}, fmt.Errorf("your signature was recorded, but the audit log could not be written: %w", err)
		}
	}
	return s.view(ctx, actor, c, &out, true)
}

// signRefusal is signCheck's refusal of a signature on r, audited.
func (s *Service) signRefusal(ctx context.Context, actor account.Account, r *record, req api.AgreementSignRequest) error {
	err := signCheck(r, req)
	s.auditSignRefusal(ctx, actor, r.Case, req, err)
	return err
}

// auditSignRefusal audits a refusal of signCheck's that the audit log
// records: a signature on a superseded version. Other errors are not.
func (s *Service) auditSignRefusal(ctx context.Context, actor account.Account, caseID string, req api.AgreementSignRequest, err error) {
	if errors.Is(err, ErrSuperseded) {
		s.audit(ctx, audit.Event{Type: "agreement.sign.refused", Actor: actor.ID, Case: caseID, Objects: []string{strconv.Itoa(req.Version)},
			Attrs: map[string]string{"reason": "superseded"}})
	}
}

// signCheck refuses a signature that r cannot take: one on another than
// the current version (ErrSuperseded when on an earlier one), on another
// text, or on a filed agreement. It does no I/O, so it may run inside a
// metastore.Update.
func signCheck(r *record, req api.AgreementSignRequest) error {
	cur := r.current()
	if req.Version != cur.Num {
		if req.Version >= 1 && req.Version < cur.Num {
			return fmt.Errorf("version %d is no longer the agreement: version %d replaced it; read version %d and sign that instead: %w: %w",
				req.Version, cur.Num, cur.Num, ErrSuperseded, fault.ErrConflict)
		}
		return fault.Invalid("version", fmt.Sprintf("the current version, %d", cur.Num))
	}
	if req.SHA256 != cur.SHA256 {
		return fault.Invalid("sha256", fmt.Sprintf("the hash of version %d's text", cur.Num))
	}
	if r.Filed != "" {
		return fmt.Errorf("the agreement was already signed by everyone and filed: %w: %w", ErrFiled, fault.ErrConflict)
	}
	return nil
}

// Signed returns the signed agreement as its PDF's content: the current
// version's text and every signature on it. It fails unless every party
// and lawyer has signed the current version.
func (s *Service) Signed(ctx context.Context, actor account.Account, caseID string) (*Signed, error) {
	c, err := s.authorize(ctx, actor, caseID, policy.AgreementRead)
	if err != nil {
		return nil, err
	}
	r, err := s.loadFor(ctx, actor, caseID, false)
	if err != nil {
		return nil, err
	}
	return s.signed(ctx, actor, c, r)
}

func (s *Service) signed(ctx context.Context, actor account.Account, c *cases.Case, r *record) (*Signed, error) {
	st, sgs, _ := state(c, r)
	if st != api.AgreementSigned {
		var missing []string
		for _, sg := range sgs {
			if sg.Signed == nil {
				missing = append(missing, sg.Name)
			}
		}
		return nil, fmt.Errorf("not everyone has signed version %d yet; still to sign: %s: %w", r.current().Num, strings.Join(missing, ", "), fault.ErrConflict)
	}
	cur := r.current()
	text, err := s.text(ctx, actor, r, cur)
	if err != nil {
		return nil, err
	}
	out := &Signed{Format: PayloadFormat, Case: c.ID, CaseTitle: c.Title, Reference: c.Reference, Title: r.Title,
		Outcome: string(r.Outcome), Document: r.Doc, Version: cur.Num, SHA256: cur.SHA256, Text: text}
	for _, sg := range sgs {
		var g signature
		for _, x := range r.Sigs {
			if x.Account == sg.AccountID && x.Version == cur.Num {
				g = x
				break
			}
		}
		signedAs, _, _ := e2ee.DecodeAgreementRecord(g.Record)
		role := RoleWord(signedAs.Role)
		out.Signatures = append(out.Signatures, SignedBy{Name: sg.Name, Role: role, Side: sg.Side, Record: string(g.Record),
			DeviceRecord: g.DevRec, LogIndex: g.LogIndex, Recorded: g.Recorded.UTC().Format(time.RFC3339)})
	}
	return out, nil
}

// PDF renders the signed agreement's PDF (it fails until everyone signed).
func (s *Service) PDF(ctx context.Context, actor account.Account, caseID string) ([]byte, error) {
	sg, err := s.Signed(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	return RenderPDF(sg)
}

// File files the signed agreement (a mediator): its PDF becomes a document
// of record class agreement in the joint room (kept for the agreement
// class's retention period), and, when the case is at closure with no
// outcome yet, the case's outcome is recorded from it (full or partial
// agreement, as the mediator said when starting it), which is what the
// follow-up check-ins (package schedule) start from. Filing again after
// the case reached closure records the outcome then; the PDF is filed
// once. It returns the case when the outcome was recorded now, and the
// survey links RecordOutcome issued.
func (s *Service) File(ctx context.Context, actor account.Account, caseID string, req api.AgreementFileRequest) (api.Agreement, *cases.Case, []cases.SurveyLink, error) {
	c, err := s.authorize(ctx, actor, caseID, policy.AgreementDraft)
	if err != nil {
		return api.Agreement{}, nil, nil, err
	}
	// Checked before anything is filed: RecordOutcome, at closure, would
	// refuse them only once the PDF is stored.
	if err := checkEffort(req.Sessions, req.Hours); err != nil {
		return api.Agreement{}, nil, nil, err
	}
	r, err := s.loadFor(ctx, actor, caseID, true)
	if err != nil {
		return api.Agreement{}, nil, nil, err
	}
	if r.Filed == "" {
		sg, err := s.signed(ctx, actor, c, r)
		if err != nil {
			return api.Agreement{}, nil, nil, err
		}
		pdf, err := RenderPDF(sg)
		if err != nil {
			return api.Agreement{}, nil, nil, err
		}
		// The filing is claimed before the PDF is written: a save or
		// another filing meanwhile is refused and writes nothing, and a
		// version saved before the claim refuses this filing before its
		// PDF is written.
		cl := s.newClaim(actor)
		cl.SHA256 = SHA256Hex(pdf)
		claimed, err := metastore.Update(ctx, s.cfg.Meta, Key(caseID), func(x *record) error {
			s.dropAbandoned(x)
			switch {
			case x.Filed != "":
				return nil // filed meanwhile
			case x.Filing != nil && x.Filing.Unconfirmed && s.live(x.Filing):
				return fmt.Errorf("storage did not confirm an earlier filing of the signed agreement, so it may still appear; read the agreement again in a few minutes before filing: %w", fault.ErrConflict)
			case x.Filing != nil && x.Filing.Doc != "":
				return fmt.Errorf("an earlier filing of the signed agreement could not be checked against storage just now; try again shortly: %w", fault.ErrUnavailable)
			case s.live(x.Filing):
				return fmt.Errorf("another mediator is filing the agreement now: %w", fault.ErrConflict)
			case x.saving() != nil && x.saving().Claim.Unconfirmed:
				return fmt.Errorf("storage did not confirm the save of version %d, so it may still appear; read the agreement again in a few minutes before filing: %w",
					x.saving().Num, fault.ErrConflict)
			case x.saving() != nil || x.current().Num != sg.Version:
				return fmt.Errorf("a new version was saved while filing; everyone signs it first: %w", fault.ErrConflict)
			}
			x.Filing = cl
			return nil
		})
		if err != nil {
			return api.Agreement{}, nil, nil, err
		}
		r = &claimed
		if r.Filed == "" {
			if r, err = s.file(ctx, actor, caseID, sg, pdf, cl); err != nil {
				return api.Agreement{}, nil, nil, err
			}
		}
	}
	var closed *cases.Case
	var links []cases.SurveyLink
	if c.Stage == cases.StageClosure && c.Outcome == nil {
		closed, links, err = s.cfg.Cases.RecordOutcome(ctx, actor, caseID, r.Outcome, req.Sessions, req.Hours)
		if err != nil {
			return api.Agreement{}, nil, nil, err
		}
		c = closed
	}
	v, err := s.view(ctx, actor, c, r, true)
	return v, closed, links, err
}

// checkEffort checks a filing's sessions and hours with the bounds
// cases.Service.RecordOutcome applies (cases/outcome.go).
func checkEffort(sessions int, hours float64) error {
	if sessions < 0 || sessions > 1000 {
		return fault.Invalid("sessions", "a whole number between 0 and 1000")
	}
	if hours < 0 || hours > 10000 || math.IsNaN(hours) {
		return fault.Invalid("hours", "between 0 and 10000")
	}
	return nil
}

// file stores the signed PDF under the filing claim cl and completes the
// filing; when storing fails, the claim is released.
func (s *Service) file(ctx context.Context, actor account.Account, caseID string, sg *Signed, pdf []byte, cl *claim) (*record, error) {
	docID, err := s.cfg.Docs.File(ctx, actor, caseID, fmt.Sprintf("Signed settlement agreement (version %d).pdf", sg.Version), "application/pdf", pdf)
	if err != nil {
		var ue *vault.UnconfirmedError
		unconfirmed := errors.As(err, &ue)
		metastore.Update(context.WithoutCancel(ctx), s.cfg.Meta, Key(caseID), func(x *record) error {
			if x.Filing == nil || x.Filing.ID != cl.ID {
				return errNotOurs
			}
			if unconfirmed {
				// The PDF may still appear: the claim is kept, naming
				// it, and settled by a later read (settleFiling).
				// Its lifetime runs from now (see Save).
				x.Filing.Unconfirmed, x.Filing.Doc, x.Filing.At = true, ue.Doc, s.now().UTC()
				return nil
			}
			x.Filing = nil
			return nil
		})
		return nil, err
	}
	u := s.pending(cl.ID, audit.Event{Type: "agreement.filed", Actor: actor.ID, Case: caseID, Objects: []string{docID, strconv.Itoa(sg.Version)},
		Attrs: map[string]string{"outcome": string(sg.Outcome)}})
	out, err := metastore.Update(ctx, s.cfg.Meta, Key(caseID), func(x *record) error {
		if x.Filing == nil || x.Filing.ID != cl.ID {
			return fmt.Errorf("this filing took longer than two minutes and was dropped; file again: %w", fault.ErrConflict)
		}
		now := s.now().UTC()
		x.Filed, x.FiledAt, x.Filing = docID, &now, nil
		x.Unaudited = append(x.Unaudited, u)
		return nil
	})
	if err != nil {
		// It may have landed: a later read writes its entry once the
		// lease has passed (flushAudits).
		return nil, err
	}
	if err := s.writeAudit(ctx, caseID, u); err != nil {
		return nil, fmt.Errorf("the agreement was filed, but the audit log could not be written yet (it will be, at a later read): %w", err)
	}
	return &out, nil
}
