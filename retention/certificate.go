package retention

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// A certificate of destruction is a signed note (C2SP signed-note, as the
// audit log's checkpoints): a header line, the certificate as indented
// JSON, and an Ed25519 signature line by the server's audit signing key.
// Anyone with the audit log's public verifier key (`parley audit key`,
// GET /api/v1/audit/key) can check it offline. It holds ids, classes,
// sizes, dates and the keyed content hashes the audit log carries — never
// a name or a byte of content, nor a review's reason or a keep's
// authority (their keyed hashes) — so it can be handed to a court or an
// auditor as it is. One is stored per plan, create-only, at
// retention/certificates/<plan>, and the audit log's
// "retention.certificate" entry carries its SHA-256.

// CertificateHeader is the first line of every certificate's text.
const CertificateHeader = "Parley certificate of destruction v1"

// MaxCertificateSize bounds a stored certificate read back.
const MaxCertificateSize = 128 << 20

func certificateKey(planID string) string { return "retention/certificates/" + planID }

// CertRecord is one record in a certificate.
type CertRecord struct {
	Case string `json:"case"`
	// Reference is the case's docket or file number, as of the plan.
	Reference string         `json:"reference,omitempty"`
	Doc       string         `json:"doc,omitempty"`
	Version   int            `json:"version,omitempty"`
	Class     string         `json:"class"`
	Commit    string         `json:"commit,omitempty"`
	Size      int64          `json:"size"`
	Trigger   policy.Trigger `json:"trigger"`
	TriggerAt time.Time      `json:"triggerAt"`
	Held      []string       `json:"held,omitempty"`
	// Kept says why a case record not held was kept for now; for a
	// record a review or a keep kept (Action), until when or for good and
	// the keyed hash of the reason or authority ("reviewed: kept until
	// 2027-06-01; reason: keyed hash 3f…", "kept permanently; authority:
	// keyed hash 3f…"), the same as the retention.kept entry's (Audit),
	// never the text.
	Kept string `json:"kept,omitempty"`
	// Missing says that a case record was gone, and not destroyed by
	// Parley (Certificate.Missing).
	Missing string `json:"missing,omitempty"`
	// Action: the action chosen besides destroy (actions.go): "transfer"
	// (transferred, then destroyed), "reviewed" or "kept-permanently"
	// (Kept says until when or on what authority).
	Action string `json:"action,omitempty"`
	// Counts: for a case class's record, the stored objects destroyed by
	// class (a case record's include its participants' accounts).
	Counts map[string]int `json:"counts,omitempty"`
	// Audit is the audit entry that recorded this record's destruction
	// (case classes; documents and message history are recorded in
	// entries that name many, within the certificate's audit range), or,
	// for a record a review or a keep kept, its retention.kept entry.
	Audit *int64 `json:"audit,omitempty"`
}

// ClassCount is how much of one class a certificate's plan destroyed:
// Records are plan records (document versions, message histories, case
// classes of one case, stubs), Objects the stored objects among them
// where counted (case classes and accounts).
type ClassCount struct {
	Class   string `json:"class"`
	Records int    `json:"records"`
	Objects int    `json:"objects,omitempty"`
}

// Certificate is what a certificate of destruction says.
type Certificate struct {
	ID        string          `json:"id"` // the plan's id: one certificate per plan
	Method    string          `json:"method"`
	AsOf      time.Time       `json:"asOf"`
	Schedule  policy.Schedule `json:"schedule"`
	Planner   string          `json:"planner"`
	Planned   time.Time       `json:"planned"`
	Approver  string          `json:"approver"`
	Approved  time.Time       `json:"approved"`
	Started   time.Time       `json:"started"`
	Completed time.Time       `json:"completed"`
	Destroyed []CertRecord    `json:"destroyed"`
	// Kept are the records the plan named that were under hold.
	Kept []CertRecord `json:"kept"`
	// Missing are the case records the plan named that were gone when it
	// reached them, though no retention plan destroyed them (deleted
	// outside Parley, say): not destroyed by this plan, nor certified as
	// destroyed (OutcomeMissing).
	Missing []CertRecord `json:"missing,omitempty"`
	// CaseKeys are the cases whose case key is destroyed (nothing of the
	// case remains): backups of their records open nothing either.
	CaseKeys []string `json:"caseKeys"`
	Records  int      `json:"records"`
	Bytes    int64    `json:"bytes"`
	// Classes: every class destroyed, with counts, in schedule order.
	Classes []ClassCount `json:"classes"`
	// AuditFrom and AuditTo bound the audit log entries [from, to) that
	// recorded this plan's apply: every one of its destructions is among
	// them (each names the plan in its "plan" attribute), and the
	// certificate's own link follows. AuditEntries lists those written
	// for one case each (case classes).
	AuditFrom    int64   `json:"auditFrom"`
	AuditTo      int64   `json:"auditTo"`
	AuditEntries []int64 `json:"auditEntries"`
	// Transfers: the bundles made for an archive or a court before their
	// cases were destroyed (transfer.go), each with its SHA-256.
	Transfers []api.Transfer `json:"transfers,omitempty"`
	// Residue: what the sweep destroyed that no class covers, by kind
	// (counts only; sweep.go).
	Residue map[string]int `json:"residue,omitempty"`
}

// Method is the sanitization method certificates name.
const Method = "NIST SP 800-88 Rev. 1 cryptographic erase: every stored copy of each record's data key " +
	"destroyed first, then every stored version of its ciphertext and metadata deleted; case keys destroyed " +
	"where nothing of the case remains; message history (end-to-end encrypted, no server key) deleted in every stored version; " +
	"a case's other records (sealed with the records key) and its participants' accounts deleted in every stored version, " +
	"the case record last, after a statistical stub without personal data is stored"

// certify makes, signs, stores and links the plan's certificate, once.
func (s *Service) certify(ctx context.Context, actor account.Account, p Plan) (Plan, error) {
	var err error
	if p.Completed == nil {
		p, err = s.updatePlan(ctx, p.ID, func(r *Plan) {
			if r.Completed == nil {
				now := s.now().UTC()
				r.Completed, r.State = &now, StateCertifying
				r.LinkFrom = s.audit.Size()
			}
		})
		if err != nil {
			return Plan{}, err
		}
	}
	key := certificateKey(p.ID)
	signed, err := s.readCertificate(ctx, p.ID)
	if errors.Is(err, objstore.ErrNotFound) {
		c, err := s.buildCertificate(ctx, p)
		if err != nil {
			return Plan{}, err
		}
		if signed, err = s.sign(c); err != nil {
			return Plan{}, err
		}
		_, err = s.store.Put(ctx, key, bytes.NewReader(signed), int64(len(signed)), objstore.PutOptions{IfNoneMatch: true, ContentType: "text/plain; charset=utf-8"})
		if errors.Is(err, objstore.ErrPrecondition) {
			// Another apply of the same plan stored it first: that one is
			// the certificate.
			signed, err = s.readCertificate(ctx, p.ID)
		}
		if err != nil {
			return Plan{}, err
		}
	} else if err != nil {
		return Plan{}, err
	}
	if err := s.step("certificate"); err != nil {
		return Plan{}, err
	}
	if err := s.link(ctx, actor, p, signed); err != nil {
		return Plan{}, err
	}
	if err := s.step("link"); err != nil {
		return Plan{}, err
	}
	return s.updatePlan(ctx, p.ID, func(r *Plan) { r.State, r.Certificate = StateDone, r.ID })
}

func certHash(signed []byte) string {
	sum := sha256.Sum256(signed)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// link appends the certificate's audit entry unless an earlier, stopped
// run of the same step did.
func (s *Service) link(ctx context.Context, actor account.Account, p Plan, signed []byte) error {
	hash := certHash(signed)
	for i := p.LinkFrom; ; i++ {
		ev, err := s.audit.Entry(ctx, i)
		if errors.Is(err, objstore.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		if ev.Type == "retention.certificate" && len(ev.Objects) > 0 && ev.Objects[0] == p.ID {
			return nil
		}
	}
	return s.record(ctx, audit.Event{Type: "retention.certificate", Actor: actor.ID, Objects: []string{p.ID},
		Hashes: []string{hash}, Attrs: map[string]string{"object": certificateKey(p.ID),
			"records": strconv.Itoa(p.Records), "held": strconv.Itoa(p.Held)}})
}

func (s *Service) buildCertificate(ctx context.Context, p Plan) (Certificate, error) {
	c := Certificate{ID: p.ID, Method: Method, AsOf: p.AsOf, Schedule: p.Schedule, Planner: p.Planner,
		Planned: p.Created, Completed: *p.Completed, Destroyed: []CertRecord{}, Kept: []CertRecord{}, CaseKeys: []string{}}
	if p.Approved != nil {
		c.Approver, c.Approved = p.Approved.By, p.Approved.At
	}
	if p.Started != nil {
		c.Started = *p.Started
	}
	c.AuditFrom, c.AuditTo, c.AuditEntries = p.AuditFrom, p.LinkFrom, []int64{}
	classes := map[string]*ClassCount{}
	count := func(class string, records, objects int) {
		cc := classes[class]
		if cc == nil {
			cc = &ClassCount{Class: class}
			classes[class] = cc
		}
		cc.Records += records
		cc.Objects += objects
	}
	seen := map[string]bool{}
	var err error
	for n := range p.Pages {
		items, err := s.loadPage(ctx, p.ID, n)
		if err != nil {
			return Certificate{}, err
		}
		var done pageDone
		if _, err := s.meta.Get(ctx, pageDoneKey(p.ID, n), &done); err != nil {
			return Certificate{}, fmt.Errorf("page %d outcomes: %w", n, err)
		}
		if len(done.Outcomes) != len(items) {
			return Certificate{}, fmt.Errorf("page %d: %d outcomes for %d records", n, len(done.Outcomes), len(items))
		}
		for i, it := range items {
			r := CertRecord{Case: it.Case, Reference: it.Reference, Doc: it.Doc, Version: it.Version, Class: it.Class, Commit: it.Commit,
				Size: it.Size, Trigger: it.Trigger, TriggerAt: it.TriggerAt}
			if a := p.actionFor(it); a.Kind == ActionTransfer {
				r.Action = ActionTransfer
			}
			if o := done.Outcomes[i]; o.Result == OutcomeReviewed || o.Result == OutcomeKeptPermanently {
				r.Action = o.Result
			}
			if o := done.Outcomes[i]; o.Result == OutcomeDestroyed {
				r.Counts, r.Audit = o.Counts, o.Audit
				c.Destroyed = append(c.Destroyed, r)
				c.Records++
				c.Bytes += it.Size
				if o.Audit != nil {
					c.AuditEntries = append(c.AuditEntries, *o.Audit)
				}
				if len(o.Counts) == 0 {
					count(it.Class, 1, 0)
				}
				for class, k := range o.Counts {
					recs := 0
					if class == it.Class {
						recs = 1
					}
					count(class, recs, k)
				}
			} else if o.Result == OutcomeMissing {
				r.Missing = o.Missing
				c.Missing = append(c.Missing, r)
			} else {
				r.Held, r.Kept = o.Held, o.Kept
				if o.Result == OutcomeReviewed || o.Result == OutcomeKeptPermanently {
					// The reason or authority is free text (it may name
					// people): the sealed plan keeps it, the certificate
					// its keyed commitment and the retention.kept entry.
					r.Kept, r.Audit = s.certKept(p.actionFor(it)), o.Audit
				}
				// Kept by a storage hold after some of its claimed
				// accounts were destroyed (heldAfterAccounts): those
				// are counted, and their audit entry named.
				if len(o.Counts) > 0 {
					r.Counts, r.Audit = o.Counts, o.Audit
					for class, k := range o.Counts {
						count(class, 0, k)
					}
					if o.Audit != nil {
						c.AuditEntries = append(c.AuditEntries, *o.Audit)
					}
				}
				c.Kept = append(c.Kept, r)
			}
			if !seen[it.Case] {
				seen[it.Case] = true
				versions, err := s.store.Versions(ctx, kms.CaseKeyPrefix+it.Case)
				if errors.Is(err, objstore.ErrNotFound) || (err == nil && len(versions) == 0) {
					c.CaseKeys = append(c.CaseKeys, it.Case)
				} else if err != nil {
					return Certificate{}, err
				}
			}
		}
	}
	if err := s.certifyLateSeats(ctx, p, &c, count); err != nil { // lateseats.go
		return Certificate{}, err
	}
	if c.Residue, err = s.certifyResidue(ctx, p, count); err != nil { // sweep.go
		return Certificate{}, err
	}
	order := append(policy.RecordClasses(), policy.ClassParticipantAccount)
	for _, class := range order {
		if cc := classes[class]; cc != nil {
			c.Classes = append(c.Classes, *cc)
		}
	}
	if c.Classes == nil {
		c.Classes = []ClassCount{}
	}
	slices.Sort(c.AuditEntries)
	if len(p.transferCases()) > 0 {
		var err error
		if c.Transfers, err = s.transfers(ctx, p); err != nil {
			return Certificate{}, err
		}
	}
	return c, nil
}

// certKept is what a certificate says of a record a review or a keep
// kept: until when, or for good, and the keyed commitment of the reason
// or authority (the hash the audit log's retention.kept entry carries),
// never the text, which is in the sealed plan only: the certificate is
// stored unsealed and never disposed of.
func (s *Service) certKept(a DisposalAction) string {
	if a.Kind == ActionReview {
		return "reviewed: kept until " + a.Until.Format("2006-01-02") + "; reason: keyed hash " + s.commit(a.Reason)
	}
	return "kept permanently; authority: keyed hash " + s.commit(a.Authority)
}

// sign encodes and signs a certificate.
func (s *Service) sign(c Certificate) ([]byte, error) {
	body, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: CertificateHeader + "\n" + string(body) + "\n"}, s.signer)
}

func (s *Service) readCertificate(ctx context.Context, planID string) ([]byte, error) {
	rc, _, err := s.store.Get(ctx, certificateKey(planID), objstore.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxCertificateSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxCertificateSize {
		return nil, fmt.Errorf("certificate %s: over %d bytes: %w", planID, MaxCertificateSize, fault.ErrTooLarge)
	}
	return b, nil
}

// SignedCertificate returns a plan's stored certificate, as signed.
func (s *Service) SignedCertificate(ctx context.Context, actor account.Account, planID string) ([]byte, error) {
	if err := s.allow(ctx, actor, policy.RetentionCertificateRead); err != nil {
		return nil, err
	}
	if !ids.Valid("p", planID) {
		return nil, fmt.Errorf("certificate: %w", fault.ErrNotFound)
	}
	b, err := s.readCertificate(ctx, planID)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("certificate %s: %w", planID, fault.ErrNotFound)
	}
	return b, err
}

// ErrBadCertificate: a certificate's signature or form does not check.
var ErrBadCertificate = errors.New("certificate does not verify")

// VerifyCertificate checks a signed certificate against the server's
// verifier key (note format, as `parley audit key` prints it) and returns
// what it says and the SHA-256 the audit log links it by.
func VerifyCertificate(signed []byte, vkey string) (Certificate, string, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return Certificate{}, "", fmt.Errorf("verifier key: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Certificate{}, "", fmt.Errorf("%w: %w", ErrBadCertificate, err)
	}
	body, ok := strings.CutPrefix(n.Text, CertificateHeader+"\n")
	if !ok {
		return Certificate{}, "", fmt.Errorf("%w: not a certificate of destruction", ErrBadCertificate)
	}
	var c Certificate
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Certificate{}, "", fmt.Errorf("%w: %w", ErrBadCertificate, err)
	}
	return c, certHash(signed), nil
}
