package keydir

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// The log's wrapped signing key.
const (
	SigningKeyObject = "keys/keydir-signing"
	SigningKeyLabel  = "parley/keydir-signing-key/v1"
	// LogPrefix is where the transparency log lives in the object store.
	LogPrefix = "keydir/log/"
)

func init() {
	kms.RegisterKeyRule(kms.KeyRule{Object: SigningKeyObject, Label: func(string) string { return SigningKeyLabel }})
}

// MaxDevicesPerAccount bounds registrations (a person has a few devices).
const MaxDevicesPerAccount = 32

// Config is what a Service needs.
type Config struct {
	// Log receives the directory's warnings (nil: slog.Default()).
	Log       *slog.Logger
	Store     objstore.Store
	Meta      *metastore.Store // sealed carry records
	MasterKey *kms.MasterKey
	Cases     *cases.Service
	Caucus    *caucus.Service
	Policy    *policy.Engine
	Audit     *audit.Log // the audit log (carries, registrations)
	// Name is the log's origin in its checkpoints (default "parley/keydir").
	Name string
}

// Service is the key directory of one node. Several nodes share one
// store; the log's conditional writes order them.
type Service struct {
	cfg    Config
	log    *audit.Log
	signer *audit.Signer
	now    func() time.Time
	// beforeCaseRecord, for tests, is called as storeInCase begins (after
	// its caller checked the fence).
	beforeCaseRecord func(key string)
	// beforeAccountRecord, for tests, is called as storeForAccount
	// begins (after its caller's checks).
	beforeAccountRecord func(key string)
	// beforePairing, for tests, is called as StartPairing begins storing
	// a new pairing (after it checked the device).
	beforePairing func(key string)
	// statementCap, for tests, replaces MaxStatements when above zero.
	statementCap int
}

// Open loads (or starts) the key directory.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Meta == nil || cfg.MasterKey == nil || cfg.Cases == nil || cfg.Caucus == nil || cfg.Policy == nil || cfg.Audit == nil {
		return nil, errors.New("keydir: Open needs Store, Meta, MasterKey, Cases, Caucus, Policy and Audit")
	}
	if cfg.Name == "" {
		cfg.Name = "parley/keydir"
	}
	seed, err := kms.LoadOrCreateKey(ctx, cfg.Store, cfg.MasterKey, SigningKeyObject, SigningKeyLabel)
	if err != nil {
		return nil, err
	}
	signer, err := audit.NewSigner(cfg.Name, ed25519.NewKeyFromSeed(seed))
	if err != nil {
		return nil, err
	}
	log, err := audit.OpenWithPrefix(ctx, cfg.Store, signer, LogPrefix)
	if err != nil {
		return nil, fmt.Errorf("keydir log: %w", err)
	}
	return &Service{cfg: cfg, log: log, signer: signer, now: time.Now}, nil
}

// VerifierKey is the log's public key (note verifier format).
func (s *Service) VerifierKey() string { return s.signer.VerifierKey() }

// Log is the transparency log (tests and `parley audit verify`-style tools).
func (s *Service) Log() *audit.Log { return s.log }

func deviceKey(account, device string) string { return "keydir/devices/" + account + "/" + device }
func revocationKey(account, device string) string {
	return "keydir/revocations/" + account + "/" + device
}

// StatementKey is where statement seq of a case is stored.
func StatementKey(caseID string, seq uint64) string {
	return fmt.Sprintf("keydir/statements/%s/%020d", caseID, seq)
}

// stored is what the store holds for a logged record.
type stored struct {
	Kind   string `json:"kind"`
	Record []byte `json:"record"`
	Index  int64  `json:"index"`           // -1 until logged
	Entry  []byte `json:"entry,omitempty"` // the log entry's canonical bytes
}

const maxStored = 128 << 10

func (s *Service) read(ctx context.Context, key string) (*stored, string, error) {
	rc, info, err := s.cfg.Store.Get(ctx, key, objstore.GetOptions{})
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxStored))
	if err != nil {
		return nil, "", err
	}
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, "", fmt.Errorf("keydir: %s: %w", key, err)
	}
	return &st, info.ETag, nil
}

func (s *Service) write(ctx context.Context, key string, st *stored, opts objstore.PutOptions) error {
	b, _ := json.Marshal(st)
	opts.ContentType = "application/json"
	_, err := s.cfg.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), opts)
	return err
}

// eventFor is the log entry of a record.
func eventFor(kind string, record []byte) (audit.Event, error) {
	h := e2ee.PayloadHash(record)
	ev := audit.Event{Type: kind, Hashes: []string{"sha256:" + fmt.Sprintf("%x", h)}}
	switch kind {
	case EventDevice:
		r, err := e2ee.DecodeDeviceRecord(record)
		if err != nil {
			return ev, err
		}
		ev.Actor, ev.Objects = r.Account, []string{r.ID}
	case EventRevoke:
		r, err := e2ee.DecodeRevocation(record)
		if err != nil {
			return ev, err
		}
		ev.Actor, ev.Objects = r.Account, []string{r.Device, r.By}
	case EventEndorse:
		e, err := e2ee.DecodeEndorsement(record)
		if err != nil {
			return ev, err
		}
		ev.Actor, ev.Case, ev.Objects = e.By, e.Case, []string{e.Account, e.Device, e.ByDev}
	case EventStatement:
		st, err := e2ee.DecodeStatement(record)
		if err != nil {
			return ev, err
		}
		ev.Actor, ev.Case, ev.Objects = st.SignerAccount, st.Case, []string{strconv.FormatUint(st.Seq, 10), st.SignerDevice}
	case EventAgreement:
		a, _, err := e2ee.DecodeAgreementRecord(record)
		if err != nil {
			return ev, err
		}
		ev.Actor, ev.Case, ev.Objects = a.Account, a.Case, []string{strconv.Itoa(a.Version), a.Device}
	default:
		return ev, fmt.Errorf("keydir: unknown kind %q", kind)
	}
	return ev, nil
}

// storeLogged creates the record at key (create-only: the first writer of
// a key wins), appends its entry to the log, and records the index. A
// record already there with the same bytes is the same registration; one
// left unlogged by a crash is logged now.
func (s *Service) storeLogged(ctx context.Context, key, kind string, record []byte) (*stored, error) {
	err := s.write(ctx, key, &stored{Kind: kind, Record: record, Index: -1}, objstore.PutOptions{IfNoneMatch: true})
	if errors.Is(err, objstore.ErrPrecondition) {
		old, _, rerr := s.read(ctx, key)
		if rerr != nil {
			return nil, rerr
		}
		if !bytes.Equal(old.Record, record) {
			// In words, without the storage key (it names the case and
			// the account).
			return nil, fmt.Errorf("%s: %w", otherContent(kind), fault.ErrConflict)
		}
	} else if err != nil {
		return nil, err
	}
	return s.ensureLogged(ctx, key)
}

// storeInCase is storeLogged for a record that belongs to case caseID (a
// membership statement, a device admission), which a case retention is
// disposing of takes no more of (cases.RefuseAdditions, 410). The caller
// checked the fence before; it is checked again once the record is
// visible, before it is logged, and a record the fence is found on then
// is taken back (its version deleted). Retention fences first and lists
// the case's records after, so either its listing finds the record (and
// deletes it with the case) or this check finds the fence: nothing
// written to the case's key directory outlives its disposal. A record
// stored before (the same bytes again) is never taken back.
func (s *Service) storeInCase(ctx context.Context, caseID, key, kind string, record []byte) (*stored, error) {
	if s.beforeCaseRecord != nil {
		s.beforeCaseRecord(key)
	}
	b, _ := json.Marshal(&stored{Kind: kind, Record: record, Index: -1})
	info, err := s.cfg.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b)),
		objstore.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if errors.Is(err, objstore.ErrPrecondition) {
		return s.storeLogged(ctx, key, kind, record) // there before: the same record, or a conflict
	}
	if err != nil {
		return nil, err
	}
	c, err := s.cfg.Cases.Load(ctx, caseID)
	if err == nil {
		err = cases.RefuseAdditions(c)
	}
	if err != nil {
		// Fenced, gone, or unknown (the read failed): take it back.
		if derr := s.cfg.Store.Delete(context.WithoutCancel(ctx), key, info.VersionID); derr != nil {
			s.logger().ErrorContext(ctx, "keydir: a record written to a case being disposed of could not be taken back",
				"key", key, "error", derr.Error())
			return nil, errors.Join(err, derr)
		}
		return nil, err
	}
	return s.ensureLogged(ctx, key)
}

// ErrAccountGone refuses a device of an account that is no longer stored
// (destroyed by retention meanwhile).
var ErrAccountGone = fmt.Errorf("this account no longer exists: %w", fault.ErrGone)

// storeForAccount is storeLogged for a new record of account id (a
// device): it looks at the account again once the record is visible,
// before it is logged. Retention destroys a participant's account with
// its devices (every version of accounts/<id> and under
// keydir/devices/<id>/, hidden first, listed again until nothing
// appears), so either its listing finds the record or this look finds
// the account gone, and the record's version is deleted (so is it when
// the look fails) and the request refused. A record stored before (the
// same bytes again) is never taken back.
func (s *Service) storeForAccount(ctx context.Context, id, key, kind string, record []byte) (*stored, error) {
	if s.beforeAccountRecord != nil {
		s.beforeAccountRecord(key)
	}
	b, _ := json.Marshal(&stored{Kind: kind, Record: record, Index: -1})
	info, err := s.cfg.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b)),
		objstore.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if errors.Is(err, objstore.ErrPrecondition) {
		return s.storeLogged(ctx, key, kind, record) // there before: the same record, or a conflict
	}
	if err != nil {
		return nil, err
	}
	_, err = s.cfg.Meta.Stat(ctx, account.RecordKey(id))
	if errors.Is(err, metastore.ErrNotFound) {
		err = ErrAccountGone
	}
	if err != nil {
		// Gone, or unknown (the look failed): take it back.
		if derr := s.cfg.Store.Delete(context.WithoutCancel(ctx), key, info.VersionID); derr != nil && !errors.Is(derr, objstore.ErrNotFound) {
			s.logger().ErrorContext(ctx, "keydir: a device written as its account went could not be taken back",
				"key", key, "error", derr.Error())
			return nil, errors.Join(err, derr)
		}
		return nil, err
	}
	return s.ensureLogged(ctx, key)
}

// otherContent says why a record was refused because another one holds
// its place.
func otherContent(kind string) string {
	switch kind {
	case EventDevice:
		return "this device is already registered with a different record"
	case EventRevoke:
		return "this device already has a different revocation"
	case EventStatement:
		return "a different statement with this number was published first: fetch the chain and sign again"
	case EventEndorse:
		return "this device was already endorsed with a different record"
	case EventAgreement:
		return "a different signature of this agreement by this device is already recorded"
	}
	return "a different record is already stored in its place"
}

// ensureLogged reads the record at key and, if it is not in the log yet,
// appends it and records where.
func (s *Service) ensureLogged(ctx context.Context, key string) (*stored, error) {
	st, etag, err := s.read(ctx, key)
	if err != nil {
		return nil, err
	}
	if st.Index >= 0 {
		return st, nil
	}
	ev, err := eventFor(st.Kind, st.Record)
	if err != nil {
		return nil, err
	}
	ev.Time = s.now().UTC().Truncate(time.Millisecond)
	entry, err := ev.Encode()
	if err != nil {
		return nil, err
	}
	idx, err := s.log.Append(ctx, ev)
	if idx < 0 {
		return nil, err
	}
	st.Index, st.Entry = idx, entry
	err = s.write(ctx, key, st, objstore.PutOptions{IfMatch: etag})
	if errors.Is(err, objstore.ErrPrecondition) {
		// Another node logged it at the same time; its index stands (the
		// duplicate entry is harmless: same record, same hash).
		return s.read0(ctx, key)
	}
	return st, err
}

func (s *Service) read0(ctx context.Context, key string) (*stored, error) {
	st, _, err := s.read(ctx, key)
	return st, err
}

// list reads every logged record under prefix, in key order.
func (s *Service) list(ctx context.Context, prefix string) ([]*stored, error) {
	var keys []string
	err := s.cfg.Store.List(ctx, prefix, func(info objstore.Info) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*stored, 0, len(keys))
	for _, k := range keys {
		st, err := s.ensureLogged(ctx, k)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// prove builds an answer: a fresh checkpoint, and an inclusion proof for
// each record against it, plus a consistency proof from since (a size the
// client saw before; 0 for none).
func (s *Service) prove(ctx context.Context, since int64, groups ...[]*stored) (*Proven, [][]Logged, error) {
	return s.proveSome(ctx, since, func(int64) [][]*stored { return groups })
}

// proveSome is prove of the groups pick returns given the checkpoint's
// size (every record it returns must be logged before it: pick may leave
// out records by what else the checkpoint covers).
func (s *Service) proveSome(ctx context.Context, since int64, pick func(size int64) [][]*stored) (*Proven, [][]Logged, error) {
	signed, err := s.log.Checkpoint(ctx)
	if err != nil {
		return nil, nil, err
	}
	cp, err := audit.OpenCheckpoint(signed, s.VerifierKey())
	if err != nil {
		return nil, nil, err
	}
	p := &Proven{Key: s.VerifierKey(), Checkpoint: string(signed)}
	if since > cp.Size {
		return nil, nil, errSince(since, cp.Size)
	}
	if since > 0 {
		proof, err := s.log.ConsistencyProof(since, cp.Size)
		if err != nil {
			return nil, nil, err
		}
		p.Consistency = hashes(proof)
	}
	groups := pick(cp.Size)
	out := make([][]Logged, len(groups))
	for g, group := range groups {
		out[g] = []Logged{}
		for _, st := range group {
			if st.Index >= cp.Size {
				continue // logged after this checkpoint: next time
			}
			proof, err := s.log.InclusionProof(st.Index, cp.Size)
			if err != nil {
				return nil, nil, err
			}
			out[g] = append(out[g], Logged{Record: st.Record, Index: st.Index, Entry: st.Entry, Proof: hashes(proof)})
		}
	}
	return p, out, nil
}

func errSince(since, size int64) error {
	return fmt.Errorf("keydir: you have seen a log of %d entries, this one has %d: %w", since, size, fault.ErrConflict)
}

// checkSince refuses a since larger than the log (errSince, 409) before a
// call writes anything: the answer's proof (prove) could not be made, and
// a write that stood would be answered as refused.
func (s *Service) checkSince(ctx context.Context, since int64) error {
	if since <= s.log.Size() {
		return nil // the local size is at most the log's
	}
	signed, err := s.log.Checkpoint(ctx)
	if err != nil {
		return err
	}
	cp, err := audit.OpenCheckpoint(signed, s.VerifierKey())
	if err != nil {
		return err
	}
	if since > cp.Size {
		return errSince(since, cp.Size)
	}
	return nil
}

// Register adds a device of the signed-in account, in a session of the
// account's own (RegisterInSession). record is the device's self-signed
// e2ee.DeviceRecord.
func (s *Service) Register(ctx context.Context, actor account.Account, record []byte, since int64) (*Proven, error) {
	return s.RegisterInSession(ctx, actor, account.Session{}, record, since)
}

// RegisterInSession adds a device of the signed-in account, in session
// sess. The account's first device is the root of its own chain: what
// counts as the person's own consent (ConsentDevice), and, in every
// client, as the author of a carry or an agreement's signature
// (e2ee.Devices.OwnChain). A session opened by a re-entry link a mediator
// made (sess.ByMediatorLink) may be the mediator's, so it cannot register
// the account's first device: refused (403), in words that say how. Once
// the account has a device (even a revoked one: it stays first), a device
// registered there counts only if one of the account's own devices links
// it or a mediator admits it, as for every later device.
func (s *Service) RegisterInSession(ctx context.Context, actor account.Account, sess account.Session, record []byte, since int64) (*Proven, error) {
	rec, err := e2ee.DecodeDeviceRecord(record)
	if err != nil {
		return nil, fault.Invalid("record", err.Error())
	}
	if rec.Account != actor.ID {
		return nil, fmt.Errorf("a device can only be registered for your own account: %w", fault.ErrForbidden)
	}
	if !ids.Valid("u", rec.Account) || !ids.Valid("dv", rec.ID) {
		return nil, fault.Invalid("record", "account or device id malformed")
	}
	existing, err := s.list(ctx, "keydir/devices/"+actor.ID+"/")
	if err != nil {
		return nil, err
	}
	if len(existing) == 0 && sess.ByMediatorLink {
		// list logged every stored record: a device of the account's own
		// registered meanwhile is logged before anything stored after this
		// check, so it stays first.
		return nil, fmt.Errorf("%w: %w", ErrFirstDeviceByMediatorLink, fault.ErrForbidden)
	}
	if len(existing) >= MaxDevicesPerAccount {
		return nil, fmt.Errorf("at most %d devices per account: %w", MaxDevicesPerAccount, fault.ErrConflict)
	}
	if err := s.checkSince(ctx, since); err != nil {
		return nil, err
	}
	key := deviceKey(rec.Account, rec.ID)
	ev := audit.Event{Type: "e2ee.device", Actor: actor.ID, Objects: []string{rec.ID},
		Hashes: []string{fmt.Sprintf("sha256:%x", rec.Hash())}, Attrs: map[string]string{"kem": rec.KEM.String()}}
	store := func(ctx context.Context) (*stored, error) {
		return s.storeForAccount(ctx, rec.Account, key, EventDevice, record)
	}
	var st *stored
	if len(existing) == 0 {
		// Audited first: the account's first device is the root of its
		// own chain and counts at once, in every case of the account.
		st, err = s.auditFirst(ctx, ev, key, record, store)
		if err != nil {
			return nil, err
		}
	} else {
		// A later device counts for no one until linked or admitted:
		// audited after it is stored.
		if st, err = store(ctx); err != nil {
			return nil, err
		}
		ev.Attrs["log-index"] = strconv.FormatInt(st.Index, 10)
		s.recordAfter(ctx, ev)
	}
	p, groups, err := s.prove(ctx, since, []*stored{st})
	if err != nil {
		return nil, err
	}
	p.Devices = groups[0]
	return p, nil
}

// Revoke retires a device of the signed-in account. The revocation must be
// signed by the revoked device itself or by another active device of the
// account's own chain (its first device, or one linked from such a device:
// e2ee.Devices.OwnChain), as clients require: a device nobody counts — one
// registered with a stolen session, say — cannot retire the real ones, and
// neither can a device a mediator admitted (whether an admission counts
// depends on a case's statement; a revocation must count everywhere, for
// good). An admitted device can revoke itself.
func (s *Service) Revoke(ctx context.Context, actor account.Account, record []byte, since int64) (*Proven, error) {
	v, err := e2ee.DecodeRevocation(record)
	if err != nil {
		return nil, fault.Invalid("record", err.Error())
	}
	if v.Account != actor.ID {
		return nil, fmt.Errorf("you can only revoke your own devices: %w", fault.ErrForbidden)
	}
	if !ids.Valid("dv", v.Device) || !ids.Valid("dv", v.By) {
		return nil, fault.Invalid("record", "device id malformed")
	}
	by, err := s.activeDevice(ctx, actor.ID, v.By)
	if err != nil {
		return nil, err
	}
	if err := v.Verify(by); err != nil {
		return nil, fault.Invalid("record", err.Error())
	}
	if v.By != v.Device {
		d, err := s.accountDirectory(ctx, actor.ID)
		if err != nil {
			return nil, err
		}
		if !d.OwnChain(actor.ID, v.By) {
			return nil, fmt.Errorf("device %s is not your first device nor linked from one of your devices, so it can only revoke itself; a device a mediator admitted cannot revoke others: %w", v.By, fault.ErrForbidden)
		}
	}
	if _, err := s.read0(ctx, deviceKey(actor.ID, v.Device)); err != nil {
		return nil, fmt.Errorf("device %s: %w", v.Device, fault.ErrNotFound)
	}
	if err := s.checkSince(ctx, since); err != nil {
		return nil, err
	}
	key := revocationKey(actor.ID, v.Device)
	st, err := s.storeLogged(ctx, key, EventRevoke, record)
	if errors.Is(err, fault.ErrConflict) {
		// The device has another revocation already: see revokeAgain.
		st, err = s.revokeAgain(ctx, actor.ID, key, v, record)
	}
	if err != nil {
		return nil, err
	}
	s.recordAfter(ctx, audit.Event{Type: "e2ee.device.revoked", Actor: actor.ID, Objects: []string{v.Device, v.By}})
	p, groups, err := s.prove(ctx, since, []*stored{st})
	if err != nil {
		return nil, err
	}
	p.Revocations = groups[0]
	return p, nil
}

// MaxRevocationsPerDevice bounds the revocations logged of one device.
const MaxRevocationsPerDevice = 8

// revokeAgain answers a revocation of a device that has one at key
// already. When a logged revocation of the device counts, that one is the
// answer and nothing more is logged. Otherwise the stored ones are all
// ignored by clients — stored before the server checked signers, by an
// operator, or signed by a device revoked just before (two devices
// revoking each other at once) — and this one, which the server checked,
// is logged beside them at key "." and its signer's device id: one per
// signer, so no signer can fill the slots and block the others, and at
// most MaxRevocationsPerDevice in all.
func (s *Service) revokeAgain(ctx context.Context, account, key string, v *e2ee.Revocation, record []byte) (*stored, error) {
	all, err := s.list(ctx, key)
	if err != nil {
		return nil, err
	}
	d, err := s.accountDirectory(ctx, account)
	if err != nil {
		return nil, err
	}
	if at, ok := d.RevokedAt(account, v.Device); ok {
		for _, st := range all {
			if st.Index == at {
				return st, nil
			}
		}
	}
	again := key + "." + v.By
	if st, err := s.read0(ctx, again); err == nil {
		if bytes.Equal(st.Record, record) {
			return s.ensureLogged(ctx, again)
		}
		return nil, fmt.Errorf("device %s has a revocation of %s logged already: %w", v.By, v.Device, fault.ErrConflict)
	}
	if len(all) >= MaxRevocationsPerDevice {
		return nil, fmt.Errorf("device %s has been revoked %d times already: %w", v.Device, len(all), fault.ErrConflict)
	}
	return s.storeLogged(ctx, again, EventRevoke, record)
}

// activeDevice returns a registered, unrevoked device record. A stored
// revocation that clients ignore (signed by a device that did not count,
// logged before the server checked that) does not retire it.
func (s *Service) activeDevice(ctx context.Context, account, device string) (*e2ee.DeviceRecord, error) {
	st, err := s.read0(ctx, deviceKey(account, device))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("device %s is not registered for %s: %w", device, account, fault.ErrForbidden)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.read0(ctx, revocationKey(account, device)); err == nil {
		d, err := s.accountDirectory(ctx, account)
		if err != nil {
			return nil, err
		}
		if d.Revoked(account, device) {
			return nil, fmt.Errorf("device %s is revoked: %w", device, fault.ErrForbidden)
		}
	}
	return e2ee.DecodeDeviceRecord(st.Record)
}

// ErrFirstDeviceByMediatorLink: RegisterInSession refused an account's
// first device in a session opened by a re-entry link a mediator made.
var ErrFirstDeviceByMediatorLink = errors.New("this sign-in came from a link your mediator made, so it cannot set up your first device: " +
	"set it up where you joined the mediation, or sign in with a link Parley emails you (once you have confirmed your email address)")

// ConsentDevice returns the account's device that may sign a consent
// (cases.DeviceVerifier: an acceptance of terms, a disclosure's
// acknowledgement, a side's answer to a share request): registered,
// unrevoked, and counting for the account by its own chain — its first
// device, or one linked by a device that does (e2ee.Devices.OwnChain). A
// device a mediator admitted does not: anyone holding a session for the
// account (a re-entry link) could register a later one. The first device
// is the party's own because a session opened by a mediator's link cannot
// register it (RegisterInSession). how is "first" or "linked".
func (s *Service) ConsentDevice(ctx context.Context, account, device string) (*e2ee.DeviceRecord, string, error) {
	if !ids.Valid("u", account) || !ids.Valid("dv", device) {
		return nil, "", fmt.Errorf("device %s: %w", device, fault.ErrForbidden)
	}
	rec, err := s.activeDevice(ctx, account, device)
	if err != nil {
		return nil, "", err
	}
	d, err := s.accountDirectory(ctx, account)
	if err != nil {
		return nil, "", err
	}
	if !d.OwnChain(account, device) {
		return nil, "", fmt.Errorf("device %s counts for %s only through a mediator's admission, or not at all: %w", device, account, fault.ErrForbidden)
	}
	if first, ok := d.First(account); ok && first.ID == device {
		return rec, "first", nil
	}
	return rec, "linked", nil
}

// accountDirectory is an account's devices as clients count them
// (e2ee.Devices with RequireEndorsement): its devices, revocations and
// every endorsement of its devices (links, and the admissions of every
// case, whose signers Admit checked were mediators of it). The admitting
// mediators' devices are not loaded, so an admitted device does not count
// here (Trusted); OwnChain and Revoked, which do not depend on any
// admission, are as every case's clients see them.
func (s *Service) accountDirectory(ctx context.Context, account string) (*e2ee.Devices, error) {
	devs, revs, err := s.accountDevices(ctx, account)
	if err != nil {
		return nil, err
	}
	ends, err := s.accountEndorsements(ctx, account, "")
	if err != nil {
		return nil, err
	}
	d := e2ee.NewDevices()
	d.RequireEndorsement()
	for _, st := range devs {
		if r, err := e2ee.DecodeDeviceRecord(st.Record); err == nil {
			d.Add(r, st.Index)
		}
	}
	for _, st := range revs {
		if v, err := e2ee.DecodeRevocation(st.Record); err == nil {
			d.Revoke(v, st.Index)
		}
	}
	admitters := map[string][]string{} // case -> signers of its logged admissions
	for _, st := range ends {
		if e, err := e2ee.DecodeEndorsement(st.Record); err == nil {
			d.Endorse(e, st.Index)
			if e.Case != "" {
				admitters[e.Case] = append(admitters[e.Case], e.By)
			}
		}
	}
	// Admit checked each admission's signer was a mediator of its case.
	for c, by := range admitters {
		d.AdmitBy(c, by...)
	}
	return d, nil
}

// accountDevices lists an account's devices and revocations.
func (s *Service) accountDevices(ctx context.Context, account string) (devs, revs []*stored, err error) {
	if devs, err = s.list(ctx, "keydir/devices/"+account+"/"); err != nil {
		return nil, nil, err
	}
	revs, err = s.list(ctx, "keydir/revocations/"+account+"/")
	return devs, revs, err
}

// MyDevices lists the signed-in account's devices.
func (s *Service) MyDevices(ctx context.Context, actor account.Account, since int64) (*Proven, error) {
	devs, revs, err := s.accountDevices(ctx, actor.ID)
	if err != nil {
		return nil, err
	}
	ends, err := s.accountEndorsements(ctx, actor.ID, "")
	if err != nil {
		return nil, err
	}
	p, groups, err := s.prove(ctx, since, devs, revs, ends)
	if err != nil {
		return nil, err
	}
	p.Devices, p.Revocations, p.Endorsements = groups[0], groups[1], groups[2]
	return p, nil
}

// caseAccounts is everyone of a case whose devices its people need:
// every mediator ever assigned (old statements name them) and every
// participant.
func caseAccounts(c *cases.Case) []string {
	var out []string
	for _, m := range c.Mediators {
		out = append(out, m.AccountID)
	}
	for _, p := range c.Participants {
		out = append(out, p.AccountID)
	}
	return out
}

// CaseDevices lists the devices of everyone in a case, for the people of
// the case only (policy: case.read). The case's mediators (case.update)
// get every device, the ones waiting to be admitted among them (they
// admit them); anyone else gets every device of their own account and,
// of everyone else's, only the devices that may count ([endorsedOnly]):
// a participant does not learn that someone of the other side opened a
// link back in on a new device the mediator has not admitted yet.
func (s *Service) CaseDevices(ctx context.Context, actor account.Account, caseID string, since int64) (*Proven, error) {
	if err := validCase(caseID); err != nil {
		return nil, err
	}
	c, err := s.cfg.Cases.Get(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	var devs, revs, ends []*stored
	for _, a := range caseAccounts(c) {
		d, r, err := s.accountDevices(ctx, a)
		if err != nil {
			return nil, err
		}
		e, err := s.accountEndorsements(ctx, a, caseID)
		if err != nil {
			return nil, err
		}
		devs, revs, ends = append(devs, d...), append(revs, r...), append(ends, e...)
	}
	// A mediator no seated mediator has confirmed is answered as a
	// participant is (unconfirmed-mediators-read-the-roster-only): the
	// fact of who is unconfirmed is asked of the key directory only for a
	// mediator of the case (review of 2026-12-07: the full list went to
	// them, devices waiting for admission on every side included).
	if m, ok := c.Mediator(actor.ID); ok && m.Recused == nil {
		if err := s.cfg.Cases.Admission(ctx, c); err != nil {
			return nil, err
		}
	}
	all := s.cfg.Policy.Decide(actor.Principal(), policy.CaseUpdate, c.Facts()).Allowed
	p, groups, err := s.proveSome(ctx, since, func(size int64) [][]*stored {
		if all {
			return [][]*stored{devs, revs, ends}
		}
		d, r, e := endorsedOnly(actor.ID, size, devs, revs, ends)
		return [][]*stored{d, r, e}
	})
	if err != nil {
		return nil, err
	}
	p.Devices, p.Revocations, p.Endorsements = groups[0], groups[1], groups[2]
	return p, nil
}

// endorsedOnly keeps, of the devices, revocations and endorsements
// logged before size, every one of account mine and, of every other
// account, the devices that may count for it: its first device (the
// lowest log index: clients pin it, [e2ee.Devices.CheckFirsts]) and,
// until nothing changes, each device endorsed (a same-account link, or
// an admission in the case: the endorsements given) by a device kept.
// A device registered that nobody linked or admitted (someone's new
// browser waiting for the mediator) is left out with what it signed and
// what revokes it.
//
// Clients lose nothing by it: a device counts for them only if it is the
// first or endorsed by one that counts (the same rule with more
// conditions: revocations, the case's mediators, signatures), so every
// device that may count is kept; a revocation counts only if signed by
// the revoked device or one of its account's own chain, both kept; the
// first device stays the first; and an endorsement or revocation is kept
// only with its device and its signer, so clients never meet a signer
// they do not know (tlogverify.Verified.Directory refuses a revocation by
// an unknown device). Each listed record still comes with its inclusion
// proof; the log never proved the list complete.
func endorsedOnly(mine string, size int64, devs, revs, ends []*stored) (d, r, e []*stored) {
	type dev struct{ account, id string }
	logged := func(st *stored) bool { return st.Index < size }
	first := map[string]*e2ee.DeviceRecord{}
	firstAt := map[string]int64{}
	for _, st := range devs {
		rec, err := e2ee.DecodeDeviceRecord(st.Record)
		if err != nil || !logged(st) {
			continue
		}
		f, ok := first[rec.Account]
		if !ok || st.Index < firstAt[rec.Account] || (st.Index == firstAt[rec.Account] && rec.ID < f.ID) {
			first[rec.Account], firstAt[rec.Account] = rec, st.Index
		}
	}
	kept := map[dev]bool{}
	present := map[dev]bool{}
	for _, st := range devs {
		rec, err := e2ee.DecodeDeviceRecord(st.Record)
		if err != nil || !logged(st) {
			continue
		}
		present[dev{rec.Account, rec.ID}] = true
		if rec.Account == mine || first[rec.Account].ID == rec.ID {
			kept[dev{rec.Account, rec.ID}] = true
		}
	}
	var endorsements []*e2ee.Endorsement
	for _, st := range ends {
		if en, err := e2ee.DecodeEndorsement(st.Record); err == nil && logged(st) {
			endorsements = append(endorsements, en)
		} else {
			endorsements = append(endorsements, nil)
		}
	}
	// Each pass keeps at least one more device, or stops: bounded by the
	// number of devices.
	for changed := true; changed; {
		changed = false
		for _, en := range endorsements {
			if en == nil {
				continue
			}
			to := dev{en.Account, en.Device}
			if kept[to] || !present[to] || !kept[dev{en.By, en.ByDev}] {
				continue
			}
			kept[to] = true
			changed = true
		}
	}
	for _, st := range devs {
		if rec, err := e2ee.DecodeDeviceRecord(st.Record); err == nil && logged(st) && kept[dev{rec.Account, rec.ID}] {
			d = append(d, st)
		}
	}
	for _, st := range revs {
		if v, err := e2ee.DecodeRevocation(st.Record); err == nil && logged(st) && kept[dev{v.Account, v.Device}] && kept[dev{v.Account, v.By}] {
			r = append(r, st)
		}
	}
	for i, st := range ends {
		if en := endorsements[i]; en != nil && kept[dev{en.Account, en.Device}] && kept[dev{en.By, en.ByDev}] {
			e = append(e, st)
		}
	}
	return d, r, e
}

// MaxStatements is the most membership statements one case holds. A
// statement is signed for each room opened or closed, each admission and
// each change of who is in the case; a long case at the participant cap
// (cases.MaxParticipants, each joining, admitted on a second device and
// leaving) with a few hundred room changes stays well under it, while
// each invitation and link back in reads them all (SeatedMediators).
const MaxStatements = 4096

// ErrNotSeated: a mediator on the case record whom the case's signed
// membership does not seat signed a statement (its text is the
// refusal's detail).
var ErrNotSeated = errors.New("you can change who is in this case's conversation once a mediator already in it has confirmed you as a co-mediator (they check your safety number with you, then admit you)")

// ErrSignerNotCounted: PostStatement refused a statement signed by a
// device of the mediator's account that none of the account's own devices
// linked (its text is the refusal's detail).
var ErrSignerNotCounted = errors.New("this device is not linked to your account yet, so the others' apps would not accept what it signs: link it from your first device (or one already linked), or sign on a device that is")

// PostStatement stores the next membership statement of a case, signed by
// the calling mediator's device, if it keeps to the chain's authority
// rule (follows; the first one only from cases.Opener, when the case
// names one) and the case holds fewer than MaxStatements.
func (s *Service) PostStatement(ctx context.Context, actor account.Account, caseID string, record []byte, since int64) (*Proven, error) {
	if err := validCase(caseID); err != nil {
		return nil, err
	}
	c, err := s.cfg.Cases.Get(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	if !s.cfg.Policy.Decide(actor.Principal(), policy.CaseUpdate, c.Facts()).Allowed {
		s.denied(ctx, actor, caseID, "statement.post")
		return nil, fmt.Errorf("only the case's mediators sign membership: %w", fault.ErrForbidden)
	}
	// A case retention is disposing of takes no new statement (checked
	// again once it is stored: storeInCase).
	if err := cases.RefuseAdditions(c); err != nil {
		return nil, err
	}
	st, err := e2ee.DecodeStatement(record)
	if err != nil {
		return nil, fault.Invalid("record", err.Error())
	}
	if st.Case != caseID || st.SignerAccount != actor.ID {
		return nil, fault.Invalid("record", "statement of another case or signer")
	}
	dev, err := s.activeDevice(ctx, actor.ID, st.SignerDevice)
	if err != nil {
		return nil, err
	}
	if err := st.VerifySignature(dev); err != nil {
		return nil, fault.Invalid("record", err.Error())
	}
	// Clients take a statement only from a device that counts for its
	// signer by the account's own chain (its first device, or one linked
	// from one; never an admission onto a mediator's account). A device
	// registered with a stolen session of the mediator counts for nobody:
	// a statement it signed would take its place in the chain for good and
	// stop every client at it.
	if d, err := s.accountDirectory(ctx, actor.ID); err != nil {
		return nil, err
	} else if !d.OwnChain(actor.ID, st.SignerDevice) {
		s.deniedBy(ctx, actor, caseID, "statement.post", "statement-signer-counted")
		return nil, fmt.Errorf("%w: %w", ErrSignerNotCounted, fault.ErrForbidden)
	}
	all, err := s.list(ctx, "keydir/statements/"+caseID+"/")
	if err != nil {
		return nil, err
	}
	var prev [32]byte
	if len(all) > 0 {
		prev = e2ee.PayloadHash(all[len(all)-1].Record)
	}
	limit := MaxStatements
	if s.statementCap > 0 {
		limit = s.statementCap
	}
	if len(all) >= limit {
		s.deniedBy(ctx, actor, caseID, "statement.post", "statement-limit")
		return nil, fmt.Errorf("this case already has %d membership statements, the most one case holds, so no room can be opened and nobody can be admitted or let in any more: start a new case to go on: %w", limit, fault.ErrForbidden)
	}
	if st.Seq != uint64(len(all))+1 || st.Prev != prev {
		return nil, fmt.Errorf("statement %d does not follow the latest (%d): fetch the chain and sign again: %w", st.Seq, len(all), fault.ErrConflict)
	}
	// The chain's authority rule, as every client applies it: a statement
	// that breaks it would take its place in the chain for good and stop
	// every client at it. The first is signed by the case's opener alone.
	if o := cases.Opener(c); st.Seq == 1 && o != "" && o != actor.ID {
		s.deniedBy(ctx, actor, caseID, "statement.post", "statement-first-by-opener")
		return nil, fmt.Errorf("%w: %w", cases.ErrNotOpener, fault.ErrForbidden)
	}
	seated, reached := seatedBy(caseID, all)
	if reached < len(all) {
		seated = nil // stored before the rule was checked: no client gets past it
	}
	if _, ok := follows(seated, st); !ok {
		if st.Seq == 1 {
			s.deniedBy(ctx, actor, caseID, "statement.post", "statement-first-names-signer")
			return nil, fmt.Errorf("the first membership statement of a case names one mediator, the one who signs it: %w", fault.ErrForbidden)
		}
		s.deniedBy(ctx, actor, caseID, "statement.post", "statement-signer-seated")
		return nil, fmt.Errorf("%w: %w", ErrNotSeated, fault.ErrForbidden)
	}
	if err := s.checkSince(ctx, since); err != nil {
		return nil, err
	}
	// Audited first: a statement says who may read each room, and clients
	// seal to whom it names.
	key := StatementKey(caseID, st.Seq)
	ev := audit.Event{Type: "e2ee.membership", Actor: actor.ID, Case: caseID,
		Objects: []string{strconv.FormatUint(st.Seq, 10)}, Hashes: []string{fmt.Sprintf("sha256:%x", st.Hash())}}
	saved, err := s.auditFirst(ctx, ev, key, record, func(ctx context.Context) (*stored, error) {
		return s.storeInCase(ctx, caseID, key, EventStatement, record)
	})
	if err != nil {
		return nil, err
	}
	// What this node's case service cached of the seats is stale now
	// (cases.Service.Admission: an admission opens the case's content to
	// the mediator it names without waiting for the cache to expire).
	s.cfg.Cases.ForgetSeats(caseID)
	// And every node's, and the open connections' cached rights: a
	// statement that no longer seats a co-mediator ends their rooms at
	// once (web TestStatementUnseatingClosesRoomsAtOnce).
	s.cfg.Caucus.StatementStored(ctx, caseID)
	p, groups, err := s.prove(ctx, since, []*stored{saved})
	if err != nil {
		return nil, err
	}
	p.Statements = groups[0]
	return p, nil
}

// Statements lists a case's membership statements, in order, for the
// people of the case.
func (s *Service) Statements(ctx context.Context, actor account.Account, caseID string, since int64) (*Proven, error) {
	if err := validCase(caseID); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Cases.Get(ctx, actor, caseID); err != nil {
		return nil, err
	}
	all, err := s.list(ctx, "keydir/statements/"+caseID+"/")
	if err != nil {
		return nil, err
	}
	p, groups, err := s.prove(ctx, since, all)
	if err != nil {
		return nil, err
	}
	p.Statements = groups[0]
	return p, nil
}

// SeatedMediators returns the mediators of case caseID's signed
// membership (cases.MembershipReader), and whether the case has any
// statement stored: those of the latest statement that the chain, by its
// authority rule, reaches (seatedBy). PostStatement stores only a
// statement that keeps to the rule, so the walk reaches the latest one;
// a statement stored before it checked (from an account the chain does
// not seat) ends the walk, as it stops every client. Signatures were
// checked when each was stored.
func (s *Service) SeatedMediators(ctx context.Context, caseID string) ([]string, bool, error) {
	if err := validCase(caseID); err != nil {
		return nil, false, err
	}
	all, err := s.list(ctx, "keydir/statements/"+caseID+"/")
	if err != nil {
		return nil, false, err
	}
	seated, _ := seatedBy(caseID, all)
	return seated, len(all) > 0, nil
}

// seatedBy walks a case's stored statements, in order, by the chain's
// authority rule (e2ee.Chain.Extend): the first names one mediator, its
// signer, and each later one is signed by a mediator of the one before
// (follows). It returns the mediators of the last statement it reaches
// and how many it reaches; a statement that breaks the rule, or is not
// the next of the case, ends the walk.
func seatedBy(caseID string, all []*stored) (seated []string, reached int) {
	for i, st := range all {
		next, err := e2ee.DecodeStatement(st.Record)
		if err != nil || next.Case != caseID || next.Seq != uint64(i)+1 {
			break
		}
		mediators, ok := follows(seated, next)
		if !ok {
			break
		}
		seated, reached = mediators, i+1
	}
	return seated, reached
}

// follows applies the chain's authority rule to next, the statement
// after one that seats the mediators seated (none for the first): the
// first statement names one mediator, its signer; a later one is signed
// by a mediator seated. It returns the mediators next seats, and whether
// next keeps to the rule. SeatedMediators and PostStatement both decide
// by it, so the server stores only statements every client accepts by
// this rule, and seats whom they seat.
func follows(seated []string, next *e2ee.Statement) ([]string, bool) {
	var mediators []string
	for _, p := range next.People {
		if p.Role == e2ee.RoleMediator {
			mediators = append(mediators, p.Account)
		}
	}
	if next.Seq == 1 {
		return mediators, slices.Equal(mediators, []string{next.SignerAccount})
	}
	return mediators, slices.Contains(seated, next.SignerAccount)
}

// validCase checks a case id before it becomes part of an object key.
func validCase(id string) error {
	if !ids.Valid("c", id) {
		return fmt.Errorf("case %q: %w", id, fault.ErrNotFound)
	}
	return nil
}
