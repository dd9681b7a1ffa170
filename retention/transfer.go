package retention

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// A transfer hands a case file to an archive or a court before the case
// is destroyed: a tar archive encrypted with age (filippo.io/age) to the
// recipient's X25519 public key, which records staff give when they
// choose it. The server cannot open a bundle once it is made; only the
// recipient's private key does. It holds:
//
//	README.txt            what the bundle is, how to check it
//	manifest.json         the case's id and reference, the outcome, every
//	                      document carried (name, media type, class,
//	                      size, SHA-256) and how many were withheld
//	documents/<doc>-v<n>/<name>   each document version carried
//	audit/checkpoint.txt  a signed checkpoint of the audit log
//	audit/key.txt         the audit log's verifier key
//	audit/entries.jsonl   the case's audit excerpt: each entry's canonical
//	                      bytes and its inclusion proof against the
//	                      checkpoint (tlog.CheckRecord)
//
// What it carries (policy.DecideTransferDocument, retention.cedar): the
// case's joint documents — those everyone in the case saw — except
// mediator notes. Never a caucus document, one shared with named people,
// or the mediators' own. The audit excerpt holds the case's entries of
// the kinds listed in excerptTypes, and document entries (share requests
// and a side's answers to them included) and a document hold's entries
// (placed, released, restored, and their corrections) only for the
// documents carried, so it names nothing withheld either.
//
// Steps, each resumable (Apply runs them before any page, so everything
// carried is still stored): the journal (retention/plans/<plan>/
// transfers/<case>, create-only) fixes what goes; one "retention.transfer"
// audit entry; the signed checkpoint the excerpt is proven against, kept
// in the journal; the bundle, stored create-only at
// retention/transfers/<plan>/<case>.age; its SHA-256 in the journal, which
// the certificate carries. A rerun builds the same contents from the
// journal, and the first bundle stored is the one.

// MaxExcerpt bounds a transfer's audit excerpt.
const MaxExcerpt = 20_000

// TransferFormat is the manifest's format name.
const TransferFormat = "parley-transfer-v1"

func transferJournalKey(planID, caseID string) string {
	return planPrefix(planID) + "transfers/" + caseID
}
func bundleKey(planID, caseID string) string {
	return "retention/transfers/" + planID + "/" + caseID + ".age"
}

// transferJournal is a transfer's journal.
type transferJournal struct {
	api.Transfer
	// SignedCheckpoint: the checkpoint the excerpt is proven against.
	SignedCheckpoint string `json:"signedCheckpoint,omitempty"`
}

// excerptTypes are the audit entries of a case a transfer's excerpt
// carries (document entries only for the documents carried).
var excerptTypes = map[string]bool{
	"case.created": true, "case.invite.created": true, "case.invite.redeemed": true, "case.invite.withdrawn": true, "case.mediator.added": true,
	"case.reentry.created": true, "case.reentry.redeemed": true, "case.hold": true, "case.imported": true,
	"hold.placed": true, "hold.released": true, "retention.action": true, "retention.kept": true,
	"retention.transfer": true,
	// A hold's storage holds set again by a release that had cleared them
	// (clearUncovered): why a doc.hold or case.hold "on" by the releasing
	// person follows. And what a case hold placed as a disposal
	// destroyed some of the case does not keep (hold.place.overtaken).
	"hold.restored": true, "hold.restore.unknown": true, "hold.place.overtaken": true,
	"doc.upload": true, "doc.download": true, "doc.share": true, "doc.hold": true,
	// A side's consent to a share of its own material (and the
	// mediator's request for it): why a carried document left a caucus.
	"doc.share.requested": true, "doc.share.approved": true, "doc.share.declined": true,
	// The corrections of entries whose change then failed (audit.Failed):
	// an excerpt that carries the entry carries its correction.
	"case.hold.failed": true, "hold.place.failed": true, "hold.release.failed": true,
	"doc.share.failed": true, "doc.hold.failed": true, "doc.upload.failed": true,
	"doc.share.requested.failed": true, "doc.share.approved.failed": true, "doc.share.declined.failed": true,
	"retention.action.failed": true,
	// And those saying the outcome was not confirmed (audit.Unknown).
	"case.hold.unknown": true, "hold.place.unknown": true, "hold.release.unknown": true,
	"doc.share.unknown": true, "doc.hold.unknown": true, "doc.upload.unknown": true,
	"doc.share.requested.unknown": true, "doc.share.approved.unknown": true, "doc.share.declined.unknown": true,
	"retention.action.unknown": true,
}

// shareRequestEntry reports whether an entry type is a share request's
// (vault/approval.go): its Objects are the document and the request.
func shareRequestEntry(typ string) bool {
	for _, base := range []string{"doc.share.requested", "doc.share.approved", "doc.share.declined"} {
		if typ == base || strings.HasPrefix(typ, base+".") {
			return true
		}
	}
	return false
}

// excerptable reports whether ev goes in caseID's excerpt, given the
// documents carried, their versions carried ("doc@version") and the
// document of each document hold of the case (holdDocs: from the log's
// hold.placed entries before ev).
func excerptable(ev audit.Event, caseID string, docs, versions map[string]bool, holdDocs map[string]string) bool {
	if ev.Case != caseID || !excerptTypes[ev.Type] {
		return false
	}
	if strings.HasPrefix(ev.Type, "hold.") {
		return holdExcerptable(ev, docs, holdDocs)
	}
	if strings.HasPrefix(ev.Type, "doc.") {
		objects := ev.Objects
		if shareRequestEntry(ev.Type) {
			// The document, then the request's id: carried with the
			// document, never with another object in its place. A side's
			// answer (doc.share.approved, doc.share.declined and their
			// corrections) names, third, the device that signed it
			// (vault.DecideShareRequest; answers from before answers were
			// signed name none): the consent's evidence, carried with it.
			answer := !strings.HasPrefix(ev.Type, "doc.share.requested")
			switch {
			case len(objects) == 3 && answer && ids.Valid("dv", objects[2]):
			case len(objects) == 2:
			default:
				return false
			}
			if !ids.Valid("sa", objects[1]) {
				return false
			}
			// And only a request about a version carried: one declined
			// for a version that never left the caucus is not the
			// recipient's to read.
			if !versions[objects[0]+"@"+ev.Attrs["version"]] {
				return false
			}
			objects = objects[:1]
		}
		for _, o := range objects {
			if !docs[o] {
				return false
			}
		}
		return len(objects) > 0
	}
	if rec := ev.Attrs["record"]; strings.Contains(rec, "@") { // a document's review or keep
		doc, _, _ := strings.Cut(strings.TrimPrefix(rec, caseID+"/"), "@")
		return docs[doc]
	}
	return true
}

// holdExcerptable reports whether a hold's entry (hold.placed,
// hold.released, hold.restored and their corrections) goes in the
// excerpt. A case hold's always; any other only with its document
// carried, so that a hold on a withheld document leaves neither the
// document's id nor the hold's in the bundle. hold.placed and
// hold.restored name the hold, then the document; hold.released names
// only the hold, whose document holdDocs gives (none known: left out).
func holdExcerptable(ev audit.Event, docs map[string]bool, holdDocs map[string]string) bool {
	if ev.Attrs["scope"] == "case" {
		return len(ev.Objects) == 1
	}
	switch {
	case ev.Type == "hold.released" || strings.HasPrefix(ev.Type, "hold.release."):
		if len(ev.Objects) != 1 {
			return false
		}
		doc := holdDocs[ev.Objects[0]]
		return doc != "" && docs[doc]
	default:
		return len(ev.Objects) == 2 && docs[ev.Objects[1]]
	}
}

// makeTransfers makes the bundle of every case the plan transfers.
func (s *Service) makeTransfers(ctx context.Context, actor account.Account, p Plan) (Plan, error) {
	if err := s.allow(ctx, actor, policy.RetentionTransfer); err != nil {
		return Plan{}, fmt.Errorf("a plan with a transfer is carried out by records staff: %w", err)
	}
	for _, caseID := range p.transferCases() {
		if err := s.transferCase(ctx, actor, p, caseID); err != nil {
			return Plan{}, fmt.Errorf("transfer of case %s: %w", caseID, err)
		}
	}
	if err := s.step("transfers"); err != nil {
		return Plan{}, err
	}
	return s.updatePlan(ctx, p.ID, func(r *Plan) { r.TransfersDone = true })
}

func (s *Service) transferCase(ctx context.Context, actor account.Account, p Plan, caseID string) error {
	a := p.Actions[caseID]
	jkey := transferJournalKey(p.ID, caseID)
	var j transferJournal
	if _, err := s.meta.Get(ctx, jkey, &j); errors.Is(err, metastore.ErrNotFound) {
		j = transferJournal{Transfer: api.Transfer{Case: caseID, Recipient: a.Recipient, RecipientName: a.RecipientName,
			Documents: []api.TransferDocument{}}}
		held, err := s.vault.CaseHeld(ctx, caseID)
		if err != nil {
			return err
		}
		holds, err := s.activeHolds(ctx, caseID)
		if err != nil {
			return err
		}
		if held || len(holds[""]) > 0 {
			j.Held = true
		} else {
			c, err := s.cases.Load(ctx, caseID)
			if err != nil {
				return err
			}
			j.Reference = c.Reference
			cands, err := s.vault.TransferCandidates(ctx, caseID)
			if err != nil {
				return err
			}
			for _, cd := range cands {
				if s.policy.DecideTransferDocument(actor.Principal(), cd.Policy()).Allowed {
					j.Documents = append(j.Documents, api.TransferDocument{Doc: cd.Doc, Version: cd.Version, Commit: cd.Commit, Size: cd.Size})
				} else {
					j.Withheld++
				}
			}
		}
		if _, err := s.meta.Create(ctx, jkey, j); err != nil && !errors.Is(err, metastore.ErrExists) {
			return err
		}
		if _, err := s.meta.Get(ctx, jkey, &j); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if j.Held {
		return nil
	}
	if j.Audit == nil {
		ev := audit.Event{Type: "retention.transfer", Actor: actor.ID, Case: caseID, Time: s.now().UTC(),
			Objects: []string{p.ID}, Hashes: []string{s.commit(j.RecipientName)},
			Attrs: map[string]string{"plan": p.ID, "recipient": j.Recipient, "documents": strconv.Itoa(len(j.Documents)),
				"withheld": strconv.Itoa(j.Withheld)}}
		for _, d := range j.Documents {
			ev.Objects = append(ev.Objects, d.Doc)
		}
		idx, err := s.audit.Append(ctx, ev)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		if j, err = s.updateTransfer(ctx, jkey, func(r *transferJournal) {
			if r.Audit == nil {
				r.Audit = &idx
			}
		}); err != nil {
			return err
		}
	}
	if err := s.step("transfer-audit"); err != nil {
		return err
	}
	if j.SignedCheckpoint == "" {
		signed, err := s.audit.Checkpoint(ctx)
		if err != nil {
			return err
		}
		cp, err := audit.OpenCheckpoint(signed, s.signer.VerifierKey())
		if err != nil {
			return err
		}
		if j, err = s.updateTransfer(ctx, jkey, func(r *transferJournal) {
			if r.SignedCheckpoint == "" {
				r.SignedCheckpoint, r.Checkpoint = string(signed), cp.Size
			}
		}); err != nil {
			return err
		}
	}
	if j.SHA256 == "" {
		key := bundleKey(p.ID, caseID)
		if _, err := s.store.Stat(ctx, key); errors.Is(err, objstore.ErrNotFound) {
			entries, err := s.buildBundle(ctx, p, &j, key)
			if err != nil {
				return err
			}
			j.AuditEntries = entries
		} else if err != nil {
			return err
		}
		if err := s.step("transfer-bundle"); err != nil {
			return err
		}
		sum, size, err := s.hashObject(ctx, key)
		if err != nil {
			return err
		}
		entries := j.AuditEntries
		if j, err = s.updateTransfer(ctx, jkey, func(r *transferJournal) {
			r.Object, r.SHA256, r.Size = key, sum, size
			if entries > 0 {
				r.AuditEntries = entries
			}
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) updateTransfer(ctx context.Context, key string, change func(*transferJournal)) (transferJournal, error) {
	return metastore.Update(ctx, s.meta, key, func(r *transferJournal) error { change(r); return nil })
}

func (s *Service) hashObject(ctx context.Context, key string) (string, int64, error) {
	rc, _, err := s.store.Get(ctx, key, objstore.GetOptions{})
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", 0, err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n, nil
}

// Manifest is a transfer bundle's manifest.json.
type Manifest struct {
	Format        string        `json:"format"`
	Case          string        `json:"case"`
	Reference     string        `json:"reference,omitempty"`
	Plan          string        `json:"plan"`
	RecipientName string        `json:"recipientName"`
	Made          time.Time     `json:"made"`
	Outcome       *api.Outcome  `json:"outcome,omitempty"`
	Documents     []ManifestDoc `json:"documents"`
	Withheld      int           `json:"withheld"`
	WithheldRule  string        `json:"withheldRule"`
	Checkpoint    int64         `json:"checkpoint"`
	AuditEntries  int           `json:"auditEntries"`
}

// ManifestDoc is one document version in a bundle.
type ManifestDoc struct {
	Doc       string `json:"doc"`
	Version   int    `json:"version"`
	Name      string `json:"name"`
	MediaType string `json:"mediaType"`
	Class     string `json:"class"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	Path      string `json:"path"`
}

// ExcerptEntry is one line of audit/entries.jsonl: an audit entry's
// canonical bytes and its inclusion proof (the tree's hashes) against the
// bundle's checkpoint.
type ExcerptEntry struct {
	Index int64    `json:"index"`
	Entry string   `json:"entry"` // base64 of the canonical bytes
	Proof []string `json:"proof"` // base64 of each hash
}

// WithheldRule is what the manifest says of the documents left out.
const WithheldRule = "Only documents shared with everyone in the case (joint), other than mediator notes, are carried. " +
	"Caucus documents, documents shared with named people only and the mediators' own are withheld."

const bundleReadme = `Parley case transfer bundle (` + TransferFormat + `)

manifest.json lists the case, its outcome and every document carried, with
its SHA-256. audit/entries.jsonl is an excerpt of the service's audit log for
the case: each line is an entry (base64 of its canonical bytes) and an
inclusion proof against audit/checkpoint.txt, a checkpoint signed with the
key in audit/key.txt (golang.org/x/mod/sumdb/note; check each with
tlog.CheckRecord(proof, checkpoint size, checkpoint hash, index,
tlog.RecordHash(entry))). ` + WithheldRule + "\n"

// buildBundle writes the bundle of j's case to key (create-only) and
// returns how many audit entries its excerpt holds.
func (s *Service) buildBundle(ctx context.Context, p Plan, j *transferJournal, key string) (int, error) {
	rcpt, err := age.ParseX25519Recipient(j.Recipient)
	if err != nil {
		return 0, err
	}
	cp, err := audit.OpenCheckpoint([]byte(j.SignedCheckpoint), s.signer.VerifierKey())
	if err != nil {
		return 0, err
	}
	c, err := s.cases.Load(ctx, j.Case)
	if err != nil {
		return 0, err
	}
	cands, err := s.vault.TransferCandidates(ctx, j.Case)
	if err != nil {
		return 0, err
	}
	byRef := map[string]vault.TransferCandidate{}
	for _, cd := range cands {
		byRef[cd.Doc+"@"+strconv.Itoa(cd.Version)] = cd
	}
	docs, versions := map[string]bool{}, map[string]bool{}
	for _, d := range j.Documents {
		docs[d.Doc] = true
		versions[d.Doc+"@"+strconv.Itoa(d.Version)] = true
	}
	var excerpt []ExcerptEntry
	holdDocs := map[string]string{}
	for i := range cp.Size {
		ev, err := s.audit.Entry(ctx, i)
		if err != nil {
			return 0, err
		}
		if ev.Case == j.Case && ev.Type == "hold.placed" && ev.Attrs["scope"] == "document" && len(ev.Objects) == 2 {
			holdDocs[ev.Objects[0]] = ev.Objects[1]
		}
		if !excerptable(ev, j.Case, docs, versions, holdDocs) {
			continue
		}
		if len(excerpt) >= MaxExcerpt {
			return 0, fmt.Errorf("the case's audit excerpt is over %d entries: %w", MaxExcerpt, fault.ErrTooLarge)
		}
		data, err := ev.Encode()
		if err != nil {
			return 0, err
		}
		proof, err := s.audit.InclusionProof(i, cp.Size)
		if err != nil {
			return 0, err
		}
		e := ExcerptEntry{Index: i, Entry: base64.StdEncoding.EncodeToString(data), Proof: make([]string, len(proof))}
		for k, h := range proof {
			e.Proof[k] = base64.StdEncoding.EncodeToString(h[:])
		}
		excerpt = append(excerpt, e)
	}
	tmp, err := os.CreateTemp("", "parley-transfer-*.age")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	enc, err := age.Encrypt(tmp, rcpt)
	if err != nil {
		return 0, err
	}
	tw := tar.NewWriter(enc)
	made := s.now().UTC()
	file := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: made, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	m := Manifest{Format: TransferFormat, Case: j.Case, Reference: j.Reference, Plan: p.ID, RecipientName: j.RecipientName,
		Made: made, Outcome: c.Outcome, Documents: []ManifestDoc{}, Withheld: j.Withheld, WithheldRule: WithheldRule,
		Checkpoint: cp.Size, AuditEntries: len(excerpt)}
	for _, d := range j.Documents {
		cd, ok := byRef[d.Doc+"@"+strconv.Itoa(d.Version)]
		if !ok {
			return 0, fmt.Errorf("document %s version %d is no longer stored: %w", d.Doc, d.Version, fault.ErrGone)
		}
		path := fmt.Sprintf("documents/%s-v%d/%s", d.Doc, d.Version, safeName(cd.Name))
		if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: cd.Size, ModTime: made, Format: tar.FormatPAX}); err != nil {
			return 0, err
		}
		rc, err := s.vault.OpenForTransfer(ctx, j.Case, cd)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(tw, rc)
		rc.Close()
		if err != nil {
			return 0, fmt.Errorf("document %s version %d: %w", d.Doc, d.Version, err)
		}
		m.Documents = append(m.Documents, ManifestDoc{Doc: d.Doc, Version: d.Version, Name: cd.Name, MediaType: cd.MediaType,
			Class: string(cd.Class), Size: cd.Size, SHA256: cd.SHA256, Path: path})
	}
	mb, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return 0, err
	}
	var lines []byte
	for _, e := range excerpt {
		b, err := json.Marshal(e)
		if err != nil {
			return 0, err
		}
		lines = append(append(lines, b...), '\n')
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"README.txt", []byte(bundleReadme)}, {"manifest.json", mb}, {"audit/checkpoint.txt", []byte(j.SignedCheckpoint)},
		{"audit/key.txt", []byte(s.signer.VerifierKey() + "\n")}, {"audit/entries.jsonl", lines}} {
		if err := file(f.name, f.b); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := enc.Close(); err != nil {
		return 0, err
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	_, err = s.store.Put(ctx, key, tmp, size, objstore.PutOptions{IfNoneMatch: true, ContentType: "application/octet-stream"})
	if err != nil && !errors.Is(err, objstore.ErrPrecondition) { // another run's bundle stands
		return 0, err
	}
	return len(excerpt), nil
}

// safeName keeps a document's name usable as one path segment.
func safeName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == ".." {
		return "document"
	}
	return name
}

// Transfers lists a plan's transfer journals (the bundles made so far).
func (s *Service) Transfers(ctx context.Context, actor account.Account, planID string) ([]api.Transfer, error) {
	p, err := s.GetPlan(ctx, actor, planID)
	if err != nil {
		return nil, err
	}
	return s.transfers(ctx, p)
}

func (s *Service) transfers(ctx context.Context, p Plan) ([]api.Transfer, error) {
	out := []api.Transfer{}
	for _, caseID := range p.transferCases() {
		var j transferJournal
		if _, err := s.meta.Get(ctx, transferJournalKey(p.ID, caseID), &j); errors.Is(err, metastore.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, j.Transfer)
	}
	return out, nil
}

// TransferBundle opens a plan's transfer bundle of one case, for records
// staff to hand to its recipient (audited).
func (s *Service) TransferBundle(ctx context.Context, actor account.Account, planID, caseID string) (io.ReadCloser, api.Transfer, error) {
	if err := s.allow(ctx, actor, policy.RetentionTransfer); err != nil {
		return nil, api.Transfer{}, err
	}
	p, _, err := s.loadPlan(ctx, planID)
	if err != nil {
		return nil, api.Transfer{}, err
	}
	if a, ok := p.Actions[caseID]; !ok || a.Kind != ActionTransfer {
		return nil, api.Transfer{}, fmt.Errorf("plan %s transfers no case %q: %w", planID, caseID, fault.ErrNotFound)
	}
	var j transferJournal
	if _, err := s.meta.Get(ctx, transferJournalKey(planID, caseID), &j); err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return nil, api.Transfer{}, err
	}
	if j.SHA256 == "" {
		return nil, api.Transfer{}, fmt.Errorf("the bundle of case %s is not made yet (the plan is made when it is carried out): %w", caseID, fault.ErrNotFound)
	}
	if err := s.record(ctx, audit.Event{Type: "retention.transfer.download", Actor: actor.ID, Case: caseID,
		Objects: []string{planID}, Hashes: []string{j.SHA256}}); err != nil {
		return nil, api.Transfer{}, fmt.Errorf("audit: %w", err)
	}
	rc, _, err := s.store.Get(ctx, j.Object, objstore.GetOptions{})
	return rc, j.Transfer, err
}
