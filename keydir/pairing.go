package keydir

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/objstore"
)

// Pairing links a second device to an account (docs/protocol.md, "Adding
// a device"). The old device starts it and shows a short code; the new
// device, signed in to the same account, claims it with the code and its
// device record; both show the safety number of the two device keys; on
// confirmation the old device endorses the new one and seals it the room
// keys it holds. The server relays; it cannot make the endorsement, and
// the key share is sealed to the new device.
//
// A code is single-use, expires after PairingTTL, and a pairing is spent
// after MaxPairingAttempts wrong codes on the account.
const (
	PairingTTL         = 10 * time.Minute
	MaxPairingAttempts = 5
	maxOpenPairings    = 5
	// codeAlphabet has no 0/O or 1/I/L: 8 characters carry about 40 bits.
	codeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
	codeLen      = 8
)

// Pairing states.
const (
	PairingOpen      = "open"
	PairingClaimed   = "claimed"
	PairingDone      = "done"
	PairingDelivered = "delivered"
	PairingSpent     = "spent"
	// PairingCancelled: the person cancelled it (the safety numbers
	// differed): nothing is endorsed or shared, and the new device stops
	// waiting.
	PairingCancelled = "cancelled"
)

type pairing struct {
	ID        string    `json:"id"`
	Account   string    `json:"account"`
	OldDevice string    `json:"oldDevice"`
	CodeHash  []byte    `json:"codeHash"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	Attempts  int       `json:"attempts"`
	State     string    `json:"state"`
	NewRecord []byte    `json:"newRecord,omitempty"`
	Share     []byte    `json:"share,omitempty"`
}

func (p *pairing) view() *api.Pairing {
	return &api.Pairing{ID: p.ID, State: p.State, Expires: p.Expires, OldDevice: p.OldDevice, NewRecord: p.NewRecord}
}

func pairingKey(account, id string) string { return "keydir/pairings/" + account + "/" + id }

func codeHash(id, code string) []byte {
	h := sha256.Sum256([]byte("parley/pairing-code\x00" + id + "\x00" + code))
	return h[:]
}

// NormalizeCode upper-cases a typed code and drops spaces and dashes.
func NormalizeCode(s string) string {
	s = strings.ToUpper(s)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
}

func newCode() string {
	b := make([]byte, codeLen)
	rand.Read(b)
	out := make([]byte, codeLen)
	for i := range b {
		// 31 letters: reject-free mapping is biased by < 1%; the code is
		// an authorisation to relay, not a key (safety numbers authenticate).
		out[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(out[:4]) + "-" + string(out[4:])
}

// SetClock replaces the service's clock (tests of expiry).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

const maxPairing = 6 << 20

func (s *Service) readPairing(ctx context.Context, account, id string) (*pairing, string, error) {
	if !ids.Valid("pr", id) {
		return nil, "", fmt.Errorf("pairing: %w", fault.ErrNotFound)
	}
	rc, info, err := s.cfg.Store.Get(ctx, pairingKey(account, id), objstore.GetOptions{})
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, "", fmt.Errorf("pairing: %w", fault.ErrNotFound)
	}
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxPairing))
	if err != nil {
		return nil, "", err
	}
	var p pairing
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, "", fmt.Errorf("keydir: pairing %s: %w", id, err)
	}
	return &p, info.ETag, nil
}

func (s *Service) writePairing(ctx context.Context, p *pairing, etag string) error {
	_, err := s.putPairing(ctx, p, etag)
	if errors.Is(err, objstore.ErrPrecondition) {
		return fmt.Errorf("the pairing changed meanwhile, try again: %w", fault.ErrConflict)
	}
	return err
}

// putPairing writes p if it is still at etag (new: none) and returns the
// stored version's etag.
func (s *Service) putPairing(ctx context.Context, p *pairing, etag string) (string, error) {
	b, _ := json.Marshal(p)
	opts := objstore.PutOptions{ContentType: "application/json"}
	if etag == "" {
		opts.IfNoneMatch = true
	} else {
		opts.IfMatch = etag
	}
	info, err := s.cfg.Store.Put(ctx, pairingKey(p.Account, p.ID), bytes.NewReader(b), int64(len(b)), opts)
	return info.ETag, err
}

// countAttempt records one attempt at p's code (spending p at the last
// one allowed), retrying on a concurrent change. It returns p as counted
// and its new etag, or nil when p is no longer open.
func (s *Service) countAttempt(ctx context.Context, p *pairing, etag string) (*pairing, string, error) {
	for range 16 {
		if p.State != PairingOpen || !s.now().Before(p.Expires) {
			return nil, "", nil
		}
		p.Attempts++
		if p.Attempts >= MaxPairingAttempts {
			p.State = PairingSpent // this attempt is still compared: it is the last
		}
		tag, err := s.putPairing(ctx, p, etag)
		if err == nil {
			if p.State == PairingSpent {
				p.State = PairingOpen // as counted; the claim below sets its state
			}
			return p, tag, nil
		}
		if !errors.Is(err, objstore.ErrPrecondition) {
			return nil, "", err
		}
		if p, etag, err = s.readPairing(ctx, p.Account, p.ID); err != nil {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("the pairing kept changing, try again: %w", fault.ErrConflict)
}

// openPairings lists the account's pairings, deleting expired ones.
func (s *Service) openPairings(ctx context.Context, account string) ([]*pairing, []string, error) {
	var keys []string
	if err := s.cfg.Store.List(ctx, "keydir/pairings/"+account+"/", func(info objstore.Info) error {
		keys = append(keys, info.Key)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	var out []*pairing
	var etags []string
	now := s.now()
	for _, k := range keys {
		id := k[strings.LastIndexByte(k, '/')+1:]
		p, etag, err := s.readPairing(ctx, account, id)
		if errors.Is(err, fault.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if now.After(p.Expires.Add(PairingTTL)) {
			s.cfg.Store.Delete(ctx, k, "") // expired long ago: nothing to keep
			continue
		}
		if p.State == PairingOpen && now.Before(p.Expires) {
			out, etags = append(out, p), append(etags, etag)
		}
	}
	return out, etags, nil
}

// StartPairing opens a pairing for the caller's device and returns it
// with its code (shown this once).
func (s *Service) StartPairing(ctx context.Context, actor account.Account, device string) (*api.Pairing, error) {
	if !ids.Valid("dv", device) {
		return nil, fault.Invalid("device", "not a device id")
	}
	if _, err := s.activeDevice(ctx, actor.ID, device); err != nil {
		return nil, err
	}
	open, _, err := s.openPairings(ctx, actor.ID)
	if err != nil {
		return nil, err
	}
	if len(open) >= maxOpenPairings {
		return nil, fmt.Errorf("at most %d pairings may be open at once; wait for one to expire: %w", maxOpenPairings, fault.ErrConflict)
	}
	now := s.now().UTC()
	code := newCode()
	p := &pairing{ID: ids.New("pr"), Account: actor.ID, OldDevice: device, Created: now,
		Expires: now.Add(PairingTTL), State: PairingOpen}
	p.CodeHash = codeHash(p.ID, NormalizeCode(code))
	if s.beforePairing != nil {
		s.beforePairing(pairingKey(p.Account, p.ID))
	}
	if err := s.writePairing(ctx, p, ""); err != nil {
		return nil, err
	}
	if err := s.pairingStands(ctx, p, device); err != nil {
		return nil, err
	}
	s.cfg.Audit.Append(ctx, audit.Event{Type: "e2ee.pairing.started", Actor: actor.ID, Objects: []string{p.ID, device}})
	v := p.view()
	v.Code = code
	return v, nil
}

// pairingStands looks at the device again once its new pairing is
// visible. Retention destroys a participant's account with its devices
// and pairings (every version under keydir/devices/<account>/ and
// keydir/pairings/<account>/, listed again until nothing appears), hiding
// each record before it deletes it: a pairing stored before the last
// listing is found there, and one stored after finds the device gone here
// and deletes every version of itself — only a new pairing can be
// written then (an update's conditional write finds nothing to match).
// Any failure (device gone or revoked, or the look failed) takes the
// pairing back and is returned.
func (s *Service) pairingStands(ctx context.Context, p *pairing, device string) error {
	_, err := s.activeDevice(ctx, p.Account, device)
	if err == nil {
		return nil
	}
	key := pairingKey(p.Account, p.ID)
	dctx := context.WithoutCancel(ctx)
	vs, verr := s.cfg.Store.Versions(dctx, key)
	if errors.Is(verr, objstore.ErrNotFound) {
		return err
	}
	errs := []error{verr}
	for _, v := range vs {
		if derr := s.cfg.Store.Delete(dctx, key, v.VersionID); !errors.Is(derr, objstore.ErrNotFound) {
			errs = append(errs, derr)
		}
	}
	if derr := errors.Join(errs...); derr != nil {
		s.logger().ErrorContext(ctx, "keydir: a pairing written as its device went could not be taken back",
			"key", key, "error", derr.Error())
		return errors.Join(err, derr)
	}
	return err
}

// ErrBadCode is what a wrong, used or expired code gets (one answer for
// all three, so a guesser learns nothing).
var ErrBadCode = fault.Invalid("code", "that code is wrong, already used or expired: start again on your other device")

// ClaimPairing is the new device's step: the code shown on the old device
// and the new device's record, which is registered for the account (it
// counts for nobody until the old device endorses it).
func (s *Service) ClaimPairing(ctx context.Context, actor account.Account, code string, record []byte) (*api.Pairing, error) {
	code = NormalizeCode(code)
	if len(code) != codeLen {
		return nil, ErrBadCode
	}
	rec, err := e2ee.DecodeDeviceRecord(record)
	if err != nil {
		return nil, fault.Invalid("record", err.Error())
	}
	if rec.Account != actor.ID {
		return nil, fmt.Errorf("a device can only be linked to your own account: %w", fault.ErrForbidden)
	}
	open, etags, err := s.openPairings(ctx, actor.ID)
	if err != nil {
		return nil, err
	}
	// Every attempt is counted, on every open pairing of the account,
	// before its code is compared: guesses sent in parallel each use one of
	// the MaxPairingAttempts, none slips in on a count another one lost.
	tried, tags := open[:0], etags[:0]
	for i, p := range open {
		q, tag, err := s.countAttempt(ctx, p, etags[i])
		if err != nil {
			return nil, err
		}
		if q != nil {
			tried, tags = append(tried, q), append(tags, tag)
		}
	}
	open, etags = tried, tags
	for i, p := range open {
		if subtle.ConstantTimeCompare(p.CodeHash, codeHash(p.ID, code)) != 1 {
			continue
		}
		if rec.ID == p.OldDevice {
			return nil, fault.Invalid("record", "this is the device that showed the code")
		}
		p.State, p.NewRecord = PairingClaimed, rec.Raw
		if err := s.writePairing(ctx, p, etags[i]); err != nil {
			return nil, err
		}
		if _, err := s.Register(ctx, actor, record, 0); err != nil {
			return nil, err
		}
		s.cfg.Audit.Append(ctx, audit.Event{Type: "e2ee.pairing.claimed", Actor: actor.ID, Objects: []string{p.ID, rec.ID}})
		return p.view(), nil
	}
	s.cfg.Audit.Append(ctx, audit.Event{Type: "e2ee.pairing.refused", Actor: actor.ID})
	return nil, ErrBadCode
}

// GetPairing shows a pairing of the caller's account (without its share).
func (s *Service) GetPairing(ctx context.Context, actor account.Account, id string) (*api.Pairing, error) {
	p, _, err := s.readPairing(ctx, actor.ID, id)
	if err != nil {
		return nil, err
	}
	if (p.State == PairingOpen || p.State == PairingClaimed) && !s.now().Before(p.Expires) {
		p.State = PairingSpent
	}
	return p.view(), nil
}

// CompletePairing is the old device's step after the person confirmed
// the safety number: the endorsement of the claimed device (signed by the
// device that started the pairing) is logged, and the key share sealed
// to the new device is kept for it to collect.
func (s *Service) CompletePairing(ctx context.Context, actor account.Account, id string, req api.PairingComplete) (*api.Pairing, error) {
	p, etag, err := s.readPairing(ctx, actor.ID, id)
	if err != nil {
		return nil, err
	}
	if p.State != PairingClaimed || !s.now().Before(p.Expires) {
		return nil, fmt.Errorf("this pairing is no longer waiting for confirmation: start again: %w", fault.ErrGone)
	}
	rec, err := e2ee.DecodeDeviceRecord(p.NewRecord)
	if err != nil {
		return nil, err
	}
	e, err := e2ee.DecodeEndorsement(req.Endorsement)
	if err != nil {
		return nil, fault.Invalid("endorsement", err.Error())
	}
	if e.Case != "" || e.ByDev != p.OldDevice || e.Device != rec.ID {
		return nil, fault.Invalid("endorsement", "it must endorse the claimed device, signed by the device that showed the code")
	}
	ks, err := e2ee.DecodeKeyShare(req.Share)
	if err != nil {
		return nil, fault.Invalid("share", err.Error())
	}
	if ks.Account != actor.ID || ks.From != p.OldDevice || ks.To != rec.ID {
		return nil, fault.Invalid("share", "it must go from the device that showed the code to the claimed device")
	}
	// Audited first: once stored, the link makes the new device count for
	// the account, and it reads what is sealed to it from then on.
	if _, err := s.endorse(ctx, actor, req.Endorsement, "", func(e *e2ee.Endorsement) audit.Event {
		return audit.Event{Type: "e2ee.device.linked", Actor: actor.ID, Objects: []string{rec.ID, p.OldDevice},
			Hashes: []string{fmt.Sprintf("sha256:%x", e.Hash())}}
	}); err != nil {
		return nil, err
	}
	p.State, p.Share = PairingDone, req.Share
	if err := s.writePairing(ctx, p, etag); err != nil {
		return nil, err
	}
	return p.view(), nil
}

// CancelPairing ends an open or claimed pairing of the caller's account:
// the person pressed "They differ: cancel" (the CLI: did not type yes) on
// the device that showed the code. Nothing is endorsed or shared; the
// device that entered the code sees the state and stops waiting. One
// already cancelled answers as it is; one completed, collected or spent
// cannot be cancelled (410). Any signed-in session of the account may
// cancel, as it may start or claim one: the server could drop a pairing
// anyway.
func (s *Service) CancelPairing(ctx context.Context, actor account.Account, id string) (*api.Pairing, error) {
	for range 16 {
		p, etag, err := s.readPairing(ctx, actor.ID, id)
		if err != nil {
			return nil, err
		}
		switch p.State {
		case PairingCancelled:
			return p.view(), nil
		case PairingOpen, PairingClaimed:
		default:
			return nil, fmt.Errorf("this pairing is over and cannot be cancelled: %w", fault.ErrGone)
		}
		p.State = PairingCancelled
		if _, err := s.putPairing(ctx, p, etag); errors.Is(err, objstore.ErrPrecondition) {
			continue // claimed or completed meanwhile: look again
		} else if err != nil {
			return nil, err
		}
		s.cfg.Audit.Append(ctx, audit.Event{Type: "e2ee.pairing.cancelled", Actor: actor.ID, Objects: []string{p.ID, p.OldDevice}})
		return p.view(), nil
	}
	return nil, fmt.Errorf("the pairing kept changing, try again: %w", fault.ErrConflict)
}

// CollectPairing hands the key share to the new device, once; the server
// keeps no copy afterwards.
func (s *Service) CollectPairing(ctx context.Context, actor account.Account, id string) (*api.Pairing, error) {
	p, etag, err := s.readPairing(ctx, actor.ID, id)
	if err != nil {
		return nil, err
	}
	if p.State != PairingDone {
		v := p.view()
		return v, nil // not confirmed yet (or already collected): no share
	}
	v := p.view()
	v.Share = p.Share
	p.State, p.Share = PairingDelivered, nil
	if err := s.writePairing(ctx, p, etag); err != nil {
		return nil, err
	}
	v.State = PairingDelivered
	return v, nil
}
