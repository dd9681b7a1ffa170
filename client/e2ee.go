package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/tlogverify"
)

// End-to-end encryption, client side (docs/protocol.md). A device's private
// keys and what it has verified live in a directory of its own (the CLI's
// config dir): device.json (private keys), keydir.json (the pinned log key
// and the last checkpoint verified), statements.json (the first
// membership statement seen per case, pinned), firsts.json (each
// account's first device, pinned the first time it was seen) and
// revoked.json (each account's devices of its own chain whose revocation
// this device verified, each with the log index of that revocation, at
// most e2ee.MaxRevocationPinsPerAccount per account: past it an answer is
// refused, never a pin dropped; a file of id lists, saved before pins had
// an index, is read as pins of unknown index, which the next check sets).
// Pin files are saved only once every check of an answer passed, merged
// with the file as it is then.
// Directories are 0700 and files 0600; private keys never leave them.

const (
	deviceFile     = "device.json"
	keydirFile     = "keydir.json"
	statementsFile = "statements.json"
	firstsFile     = "firsts.json"
	revokedFile    = "revoked.json"
)

// ErrNoDevice: this config dir has no device keys yet (`parley keys init`).
var ErrNoDevice = errors.New("this device has no end-to-end keys yet: run `parley keys init`")

type deviceJSON struct {
	Account string `json:"account"`
	Device  string `json:"device"`
	KEM     uint16 `json:"kem"`
	SigSeed []byte `json:"sigSeed"`
	KEMSeed []byte `json:"kemSeed"`
	Created int64  `json:"created"`
}

// writePrivate writes a file only its owner can read, atomically.
func writePrivate(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	// A temporary file of its own (CreateTemp makes it 0600), so two
	// processes writing the same file never write into one another's.
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// InitDevice makes new device keys for account in dir. It refuses to
// replace existing keys.
func InitDevice(dir, account string, kem e2ee.KEMID) (*e2ee.DeviceKeys, error) {
	path := filepath.Join(dir, deviceFile)
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%s already holds this device's keys", path)
	}
	d, err := e2ee.NewDeviceKeys(account, kem, time.Now())
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(deviceJSON{Account: d.Account, Device: d.ID, KEM: uint16(d.KEM), SigSeed: d.SigSeed, KEMSeed: d.KEMSeed, Created: d.Created})
	return d, writePrivate(path, b)
}

// LoadDevice reads the device keys in dir.
func LoadDevice(dir string) (*e2ee.DeviceKeys, error) {
	path := filepath.Join(dir, deviceFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoDevice
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	var j deviceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%s is damaged", path)
	}
	d, err := e2ee.DeviceKeysFromSeeds(j.Account, e2ee.KEMID(j.KEM), j.SigSeed, j.KEMSeed, j.Created)
	if err != nil {
		return nil, err
	}
	if d.ID != j.Device {
		return nil, fmt.Errorf("%s is damaged (device id does not match its keys)", path)
	}
	return d, nil
}

// E2EE is a client's end-to-end state: its device keys and the verified
// view of the key directory, kept in Dir.
type E2EE struct {
	C   *Client
	Dir string
	Me  *e2ee.DeviceKeys

	mu sync.Mutex // one key-directory fetch and verify at a time
}

// E2EE loads the device keys in dir for this client.
func (c *Client) E2EE(dir string) (*E2EE, error) {
	d, err := LoadDevice(dir)
	if err != nil {
		return nil, err
	}
	return &E2EE{C: c, Dir: dir, Me: d}, nil
}

func (x *E2EE) loadView() tlogverify.View {
	var v tlogverify.View
	if b, err := os.ReadFile(filepath.Join(x.Dir, keydirFile)); err == nil {
		json.Unmarshal(b, &v)
	}
	return v
}

// fetchProven calls the key directory and verifies the answer against the
// saved view it asked from, then saves the newer view. An answer that does
// not verify against that view — a rollback, a fork, a bad signature, a
// changed key — is final: an error naming it, never asked again (a server
// showing a split view must not get a second try that hides the first).
// Only when another process of this user saved a newer checkpoint
// meanwhile, and the answer is older than it (or newer, with no proof it
// extends it), is the directory asked again, from the saved one; a saved
// checkpoint of the same size as the answer, or as the one it was asked
// from, must be the same log (checked: else a fork, final).
func (x *E2EE) fetchProven(ctx context.Context, method, path string, body any) (*tlogverify.Verified, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var lastErr error
	for range 3 {
		view := x.loadView()
		sep := "?"
		if u, err := url.Parse(path); err == nil && u.RawQuery != "" {
			sep = "&"
		}
		var p api.Proven
		if err := x.C.Do(ctx, method, path+sep+"since="+strconv.FormatInt(view.Size(), 10), body, &p); err != nil {
			return nil, err
		}
		v, err := tlogverify.Verify(&p, view)
		if err != nil {
			return nil, err
		}
		now := x.loadView()
		if now.Key != view.Key || !bytes.Equal(now.Checkpoint, view.Checkpoint) {
			// Another process of this user saved a view meanwhile.
			switch size := now.Size(); {
			case now.Key == view.Key && size == view.Size():
				// A different checkpoint of the size this answer was
				// verified from: the same log (the same root) or a fork.
				// The answer's proof, from that size, must hold against it.
				if _, err := tlogverify.Verify(&p, now); err != nil {
					return nil, err
				}
			case now.Key == view.Key && size < view.Size():
				// Nothing newer than what this answer extends.
			case now.Key == p.Key && v.Checkpoint.Size != size && size > view.Size():
				lastErr = fmt.Errorf("%w: the log moved on while this device asked (another process of yours saw %d entries, this answer has %d)", tlogverify.ErrLog, size, v.Checkpoint.Size)
				continue
			default:
				// The same size (or a key pinned meanwhile): the same log,
				// or a fork.
				if _, err := tlogverify.Verify(&api.Proven{Key: p.Key, Checkpoint: p.Checkpoint}, now); err != nil {
					return nil, err
				}
			}
		}
		if v.Checkpoint.Size >= now.Size() {
			b, _ := json.Marshal(v.View)
			if err := writePrivate(filepath.Join(x.Dir, keydirFile), b); err != nil {
				return nil, err
			}
		}
		return v, nil
	}
	return nil, lastErr
}

// Register registers this device's public record for its account.
func (x *E2EE) Register(ctx context.Context) error {
	v, err := x.fetchProven(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: x.Me.Record().Raw})
	if err != nil {
		return err
	}
	if len(v.Devices) != 1 || v.Devices[0].ID != x.Me.ID {
		return errors.New("the key directory did not log this device")
	}
	return nil
}

// MyDevices returns this account's devices, verified against the log.
func (x *E2EE) MyDevices(ctx context.Context) (*e2ee.Devices, *tlogverify.Verified, error) {
	v, err := x.fetchProven(ctx, http.MethodGet, "/api/v1/keys/devices", nil)
	if err != nil {
		return nil, nil, err
	}
	d, err := v.Directory(strictDevices())
	if err != nil {
		return nil, nil, err
	}
	return d, v, x.checkPins(d)
}

// strictDevices is the directory every client uses: an account's devices
// after its first count only when endorsed (docs/protocol.md, "Adding a
// device").
func strictDevices() *e2ee.Devices {
	d := e2ee.NewDevices()
	d.RequireEndorsement()
	return d
}

// Revoke revokes one of this account's devices (signed by this device).
func (x *E2EE) Revoke(ctx context.Context, device string) error {
	_, err := x.fetchProven(ctx, http.MethodPost, "/api/v1/keys/revocations",
		api.RecordRequest{Record: x.Me.Revoke(device, time.Now())})
	return err
}

// StillLinked lists the devices of this account that device linked
// (directly or through a device it linked) and that still count: after
// device is revoked, the ones to revoke too unless they are this person's
// (a link logged before its signer's revocation keeps counting, so a
// thief who linked a device of their own from a stolen one keeps it).
// This device, and what it linked, are left out.
func (x *E2EE) StillLinked(ctx context.Context, device string) ([]e2ee.Link, error) {
	devs, _, err := x.MyDevices(ctx)
	if err != nil {
		return nil, err
	}
	return devs.LinkedBy(x.Me.Account, device, x.Me.ID), nil
}

// CaseDevices returns the verified devices of everyone in a case.
func (x *E2EE) CaseDevices(ctx context.Context, caseID string) (*e2ee.Devices, *tlogverify.Verified, error) {
	v, err := x.fetchProven(ctx, http.MethodGet, "/api/v1/cases/"+url.PathEscape(caseID)+"/devices", nil)
	if err != nil {
		return nil, nil, err
	}
	d, err := v.Directory(strictDevices())
	if err != nil {
		return nil, nil, err
	}
	return d, v, x.checkPins(d)
}

// checkPins checks d against what this device pinned and pins what it
// sees for the first time: each account's first device (firsts.json) and
// each revocation that counted, with its log index (revoked.json). The log
// proves each listed record is in it, not that the list is complete: a
// server that left an account's real first device out would make a device
// of its own the first, and one that left a revocation out (or showed a
// later one in its place) would make a lost device active again, or what
// it signed after its revocation count; either would get keys sealed to
// it. Nothing is saved unless every check passed, and what is saved is
// merged with the files as they are then (savePins), so another process
// that pinned meanwhile keeps its pins.
func (x *E2EE) checkPins(d *e2ee.Devices) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	firsts := e2ee.FirstPins{}
	if err := x.readPins(firstsFile, &firsts); err != nil {
		return err
	}
	revoked := e2ee.RevocationPins{}
	if err := x.readPins(revokedFile, &revoked); err != nil {
		return err
	}
	firstsChanged, err := d.CheckFirsts(firsts)
	if err != nil {
		return fmt.Errorf("%w (refusing to send to or trust this account's devices: the server may be hiding one)", err)
	}
	revokedChanged, err := d.CheckRevocations(revoked)
	if err != nil {
		return revocationWords(err)
	}
	if firstsChanged {
		if err := savePins(x, firstsFile, func(saved e2ee.FirstPins) error {
			for a, id := range firsts {
				if _, ok := saved[a]; !ok {
					saved[a] = id // the saved one wins, as in the browser's mergePins
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if revokedChanged {
		return savePins(x, revokedFile, func(saved e2ee.RevocationPins) error {
			return revocationWords(saved.Merge(revoked))
		})
	}
	return nil
}

// revocationWords says what a refused revocation check means (nil stays
// nil).
func revocationWords(err error) error {
	if errors.Is(err, e2ee.ErrRevocationPinsFull) {
		return fmt.Errorf("%w (refusing to send to or trust this account's devices: the server shows more of them taken out of use than an account can have)", err)
	}
	if err != nil {
		return fmt.Errorf("%w (refusing to send to or trust this account's devices: the server may be bringing back a device its person took out of use)", err)
	}
	return nil
}

// savePins reads the pin file name as it is now, lets merge add this
// check's pins to it, and writes it (a temporary file renamed over it).
// Another process's pins saved since this one read the file are kept;
// two processes renaming within the same instant can still lose one
// check's new pins, which the next check pins again.
func savePins[T ~map[K]V, K comparable, V any](x *E2EE, name string, merge func(saved T) error) error {
	saved := T{}
	if err := x.readPins(name, &saved); err != nil {
		return err
	}
	if err := merge(saved); err != nil {
		return err
	}
	b, err := json.Marshal(saved)
	if err != nil {
		return err
	}
	return writePrivate(filepath.Join(x.Dir, name), b)
}

// readPins reads a pin file of this device into v (nothing when missing).
func (x *E2EE) readPins(name string, v any) error {
	path := filepath.Join(x.Dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s is damaged", path)
	}
	return nil
}

type pin struct {
	First  []byte `json:"first"`  // hash of statement 1
	Seq    uint64 `json:"seq"`    // the latest statement this device verified
	Latest []byte `json:"latest"` // and its hash
	// Entries are the sealed rooms' entries this device's chain held
	// (openings and signed closings): added before the server's on every
	// fetch, so a closing it saw stands for a fresh process too.
	Entries [][]byte `json:"entries,omitempty"`
}

// Statements fetches and verifies a case's membership chain against dir.
// The chain must start with the statement this device pinned the first
// time (trust on first use) and contain the latest one it verified before,
// unchanged: a server cannot show it another history or take statements
// back. The pin then moves to the new latest.
func (x *E2EE) Statements(ctx context.Context, caseID string, dir e2ee.Directory) (*e2ee.Chain, error) {
	return x.statements(ctx, caseID, dir, nil)
}

// statements is Statements that also adds the sealed-room entries in
// seen (what an open chat verified before) with the server's.
func (x *E2EE) statements(ctx context.Context, caseID string, dir e2ee.Directory, seen [][]byte) (*e2ee.Chain, error) {
	v, err := x.fetchProven(ctx, http.MethodGet, "/api/v1/cases/"+url.PathEscape(caseID)+"/e2ee/statements", nil)
	if err != nil {
		return nil, err
	}
	chain := e2ee.NewChain(caseID)
	for _, st := range v.Statements {
		if err := chain.Extend(st, dir); err != nil {
			return nil, err
		}
	}
	// The entries of the sealed rooms this person is in (the statements
	// hold only commitments to them): the server gives them to the rooms'
	// members only. One that no statement commits to, or that breaks a
	// rule, is left out — its room is then not shown, never shown
	// otherwise than signed. A list that cannot be had leaves them all out
	// (the standing rooms do not depend on it).
	// What this client held goes in first, so it takes precedence over the
	// server's list; two openings of one room are refused outright.
	if chain.Len() > 0 {
		x.mu.Lock()
		held := x.pinned(caseID).Entries
		x.mu.Unlock()
		seen = append(slices.Clone(seen), held...)
		rooms, _ := x.C.DefinedRooms(ctx, caseID)
		var listed [][]byte
		for _, r := range rooms {
			listed = append(listed, r.Entries...)
		}
		for _, entries := range [][][]byte{seen, listed} {
			if err := chain.AddEntries(entries); errors.Is(err, e2ee.ErrRoomConflict) {
				return nil, fmt.Errorf("the server shows a room of case %s opened twice, with different people; this device will not use the case until a mediator looks into it: %w", caseID, err)
			}
		}
	}
	if d, ok := dir.(*e2ee.Devices); ok {
		d.AdmitFrom(chain) // the case's mediators may admit participants' new devices
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	pins := map[string]pin{}
	path := filepath.Join(x.Dir, statementsFile)
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &pins)
	}
	p, pinned := pins[caseID]
	if chain.Len() == 0 {
		if pinned {
			return nil, fmt.Errorf("%w: the server shows no membership statements for case %s, but this device verified %d", e2ee.ErrMembership, caseID, p.Seq)
		}
		return chain, nil
	}
	first, _ := chain.Get(1)
	h1 := first.Hash()
	if pinned {
		if string(p.First) != string(h1[:]) {
			return nil, fmt.Errorf("%w: the first membership statement of case %s is not the one this device pinned (the server shows another history)", e2ee.ErrMembership, caseID)
		}
		old, ok := chain.Get(p.Seq)
		if !ok {
			return nil, fmt.Errorf("%w: case %s's membership chain is shorter (%d) than this device saw (%d)", e2ee.ErrMembership, caseID, chain.Len(), p.Seq)
		}
		if h := old.Hash(); string(h[:]) != string(p.Latest) {
			return nil, fmt.Errorf("%w: membership statement %d of case %s changed since this device verified it", e2ee.ErrMembership, p.Seq, caseID)
		}
	}
	latest := chain.Latest()
	hl := latest.Hash()
	pins[caseID] = pin{First: h1[:], Seq: latest.Seq, Latest: hl[:], Entries: chain.Entries()}
	b, _ := json.Marshal(pins)
	return chain, writePrivate(path, b)
}

// pinned is what this device pinned of caseID (x.mu held).
func (x *E2EE) pinned(caseID string) pin {
	pins := map[string]pin{}
	if b, err := os.ReadFile(filepath.Join(x.Dir, statementsFile)); err == nil {
		json.Unmarshal(b, &pins)
	}
	return pins[caseID]
}

// postStatement publishes a signed statement.
func (x *E2EE) postStatement(ctx context.Context, caseID string, raw []byte) error {
	_, err := x.fetchProven(ctx, http.MethodPost, "/api/v1/cases/"+url.PathEscape(caseID)+"/e2ee/statements", api.RecordRequest{Record: raw})
	return err
}

// SafetyNumber returns the safety number between this account and other,
// from both accounts' verified active devices in caseID: the devices that
// count in the case, as a session counts them — a device a mediator of the
// case's latest verified statement admitted too (the browser's
// safetyNumber reads its session's directory, so both show the same).
func (x *E2EE) SafetyNumber(ctx context.Context, caseID, other string) (string, error) {
	devs, _, err := x.CaseDevices(ctx, caseID)
	if err != nil {
		return "", err
	}
	if _, err := x.Statements(ctx, caseID, devs); err != nil { // lets the case's mediators admit (Devices.AdmitFrom)
		return "", err
	}
	mine, theirs := devs.Active(x.Me.Account), devs.Active(other)
	if len(theirs) == 0 {
		return "", fmt.Errorf("%s has no registered device in case %s", other, caseID)
	}
	return e2ee.SafetyNumber(x.Me.Account, mine, other, theirs), nil
}

// SecureEvent is something that happened in a room, decrypted and
// checked. Exactly one of Text (with Kind), Seal or Rejected is meaningful.
type SecureEvent struct {
	Room   string
	Pos    api.Position
	At     time.Time
	From   string // account
	Device string
	Kind   int // e2ee.KindText, KindNotice, KindCarryProposal, KindCarried or KindCarryDeclined
	Text   string
	Carry  *CarryInfo
	// FromMediator: the sender is a mediator in the signed membership
	// statement its keys were issued under (never the case record). Only
	// a mediator's proposal in a caucus is a carry's proposal.
	FromMediator bool
	Seal         *api.Seal
	// Rejected says why a payload was refused (it wraps an e2ee.Err…).
	Rejected error
	// Notice is a membership event for people: who a mediator's device
	// admitted, or why it refused to sign.
	Notice string
}

// CarryInfo is the carry a proposal, a decline or a carried message
// names.
type CarryInfo struct {
	ID   string
	Room string // proposal, decline: the target; carried: the source
	// Ref and RefHash (proposal, decline) are the original's position in
	// the caucus and its payload's hash; always zero for a carried
	// message, which names neither (whoever reads the caucus finds the
	// original through ID and the proposal there).
	Ref      api.Position
	RefHash  [32]byte
	Proposer string // carried: the mediator who proposed it
}

func eventFrom(room string, m api.Message, r *e2ee.Received, chain *e2ee.Chain) SecureEvent {
	ev := SecureEvent{Room: room, Pos: m.Pos(), At: time.UnixMilli(m.At), From: m.From, Device: r.Ctx.Device,
		Kind: r.Plain.Kind, Text: r.Plain.Text, FromMediator: SignedMediator(chain, r.Ctx.StatementSeq, m.From)}
	if ev.Kind == e2ee.KindNotice && !ev.FromMediator {
		// Only a mediator sends notices: anyone else's "notice" is an
		// ordinary message from them. Who is a mediator comes from the
		// signed membership statement the sender's keys were issued
		// under, never from the server's case record.
		ev.Kind = e2ee.KindText
	}
	if r.Plain.Kind != e2ee.KindText && r.Plain.Kind != e2ee.KindNotice {
		ev.Carry = &CarryInfo{ID: r.Plain.CarryID, Room: r.Plain.Room, Proposer: r.Plain.Proposer}
		if r.Plain.Kind != e2ee.KindCarried {
			// A carried copy's position and hash are ignored: clients
			// write them zero, and one an older client wrote would tell
			// the joint room about the author's caucus.
			ev.Carry.Ref = api.Position{Epoch: r.Plain.Ref.Epoch, Offset: r.Plain.Ref.Offset}
			ev.Carry.RefHash = r.Plain.RefHash
		}
	}
	return ev
}

// ReadRoom reads a room's history from the server and decrypts it: every
// message after from (the zero Position: from the start). Key
// distributions are read from the start of from's epoch. Messages this
// device cannot read come back with Rejected set.
func (x *E2EE) ReadRoom(ctx context.Context, caseID, room string, from api.Position) ([]SecureEvent, error) {
	devs, _, err := x.CaseDevices(ctx, caseID)
	if err != nil {
		return nil, err
	}
	chain, err := x.Statements(ctx, caseID, devs)
	if err != nil {
		return nil, err
	}
	sess := x.newSession(caseID, chain, devs)
	var out []SecureEvent
	// A message resent after a dropped connection may be stored twice
	// (same sender, same id); the copy is skipped, as Chat does.
	seen := map[string]bool{}
	pos := api.Position{Epoch: max(from.Epoch, 1)}
	for range 100000 {
		var page api.HistoryPage
		path := fmt.Sprintf("/api/v1/cases/%s/rooms/%s/messages?epoch=%d&offset=%d&limit=500",
			url.PathEscape(caseID), url.PathEscape(room), pos.Epoch, pos.Offset)
		if err := x.C.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		for _, m := range page.Messages {
			if m.From == "" || seen[m.From+"\x00"+m.ID] {
				continue
			}
			seen[m.From+"\x00"+m.ID] = true
			r, err := sess.Receive(room, m.Epoch, m.From, m.Body)
			if !from.Before(m.Pos()) {
				continue
			}
			switch {
			case err != nil:
				out = append(out, SecureEvent{Room: room, Pos: m.Pos(), At: time.UnixMilli(m.At), From: m.From, Rejected: err})
			case r.Plain != nil:
				out = append(out, eventFrom(room, m, r, chain))
			}
		}
		if !pos.Before(page.Next) {
			return out, nil
		}
		pos = page.Next
	}
	return out, nil
}

// SignedMediator reports whether account is a mediator in statement seq of
// the verified membership chain (a mediator's device signed it).
func SignedMediator(chain *e2ee.Chain, seq uint64, account string) bool {
	if chain == nil {
		return false
	}
	st, ok := chain.Get(seq)
	if !ok {
		return false
	}
	p, ok := st.Person(account)
	return ok && p.Role == e2ee.RoleMediator
}
