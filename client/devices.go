package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

// Adding a device (docs/protocol.md, "Adding a device"). The old device
// starts a pairing and shows its code; the new device (its keys made with
// InitDevice for the same account, signed in as that account) claims it;
// both show PairingSafetyNumber; on confirmation the old device endorses
// the new one and seals it the chain keys it holds; the new device
// collects them into shared.json (0600) beside its keys. Without an old
// device, a mediator admits the new device in a case (AdmitDevice).

const sharedFile = "shared.json"

// PairingSafetyNumber is the number both devices show during a pairing:
// the safety number of the old and the new device's keys. If the server
// swapped either device's record, the two screens differ.
func PairingSafetyNumber(old, new *e2ee.DeviceRecord) string {
	return e2ee.SafetyNumber(old.Account, []*e2ee.DeviceRecord{old}, new.Account, []*e2ee.DeviceRecord{new})
}

// DeviceNumber is one device's own number (its fingerprint alone, 30
// digits): what a mediator compares, by phone, with the number the party's
// new device shows before admitting it.
func DeviceNumber(rec *e2ee.DeviceRecord) string {
	return e2ee.Fingerprint(rec.Account, []*e2ee.DeviceRecord{rec})
}

// AdmittedToMe lists the devices a mediator admitted to this account in a
// case (other than this device): a device that counts tells its person,
// who may not have asked for it.
func (x *E2EE) AdmittedToMe(ctx context.Context, caseID string) ([]e2ee.Admission, error) {
	devs, _, err := x.CaseDevices(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if _, err := x.Statements(ctx, caseID, devs); err != nil {
		return nil, err
	}
	var out []e2ee.Admission
	for _, a := range devs.Admitted(x.Me.Account) {
		if a.Device.ID != x.Me.ID {
			out = append(out, a)
		}
	}
	return out, nil
}

// StartPairing opens a pairing from this (old) device; the answer's Code
// is shown to the person, this once.
func (x *E2EE) StartPairing(ctx context.Context) (*api.Pairing, error) {
	var p api.Pairing
	return &p, x.C.Do(ctx, http.MethodPost, "/api/v1/keys/pairings", api.PairingStart{Device: x.Me.ID}, &p)
}

// Pairing fetches a pairing of this account.
func (x *E2EE) Pairing(ctx context.Context, id string) (*api.Pairing, error) {
	var p api.Pairing
	return &p, x.C.Do(ctx, http.MethodGet, "/api/v1/keys/pairings/"+url.PathEscape(id), nil, &p)
}

// CancelPairing ends a pairing this device started before it is
// completed (the safety numbers differed): nothing is endorsed or shared,
// and the new device stops waiting (CollectPairing says it was cancelled).
func (x *E2EE) CancelPairing(ctx context.Context, id string) error {
	var p api.Pairing
	return x.C.Do(ctx, http.MethodPost, "/api/v1/keys/pairings/"+url.PathEscape(id)+"/cancel", nil, &p)
}

// ErrPairingCancelled is what CollectPairing returns when the person
// cancelled the pairing on the other device.
var ErrPairingCancelled = errors.New("the pairing was cancelled on your other device: nothing was added. If you did not cancel it because the numbers differed, start again there")

// ClaimPairing is the new device entering the code. It returns the
// pairing and the old device's record, checked against the key directory
// (an accepted device of this account), for the safety number.
func (x *E2EE) ClaimPairing(ctx context.Context, code string) (*api.Pairing, *e2ee.DeviceRecord, error) {
	var p api.Pairing
	if err := x.C.Do(ctx, http.MethodPost, "/api/v1/keys/pairings/claim", api.PairingClaim{Code: code, Record: x.Me.Record().Raw}, &p); err != nil {
		return nil, nil, err
	}
	old, err := x.oldDevice(ctx, p.OldDevice)
	return &p, old, err
}

// oldDevice returns an accepted device of this account from the verified
// directory.
func (x *E2EE) oldDevice(ctx context.Context, id string) (*e2ee.DeviceRecord, error) {
	devs, _, err := x.MyDevices(ctx)
	if err != nil {
		return nil, err
	}
	rec, ok := devs.Device(x.Me.Account, id, -1)
	if !ok {
		return nil, fmt.Errorf("%w: the device that showed the code is not one of your accepted devices", e2ee.ErrUnknownDevice)
	}
	return rec, nil
}

// WaitClaimed waits (polling, bounded by ctx) until the new device has
// claimed the pairing and returns its record, for the safety number.
func (x *E2EE) WaitClaimed(ctx context.Context, id string) (*e2ee.DeviceRecord, error) {
	for {
		p, err := x.Pairing(ctx, id)
		if err != nil {
			return nil, err
		}
		switch p.State {
		case "claimed":
			rec, err := e2ee.DecodeDeviceRecord(p.NewRecord)
			if err != nil {
				return nil, err
			}
			if rec.Account != x.Me.Account {
				return nil, errors.New("the claimed device belongs to another account")
			}
			return rec, nil
		case "open":
		default:
			return nil, fmt.Errorf("the pairing is %s: start again", p.State)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Shared is what CompletePairing handed the new device: how many chains,
// from how many cases, and the cases left out (the new device reads those
// only onward).
type Shared struct {
	Chains int
	Cases  int
	Left   []string
}

// PairingTTLForGathering is how long CompletePairing gathers cases when
// the pairing's expiry cannot be read (keydir.PairingTTL less a minute).
const PairingTTLForGathering = 9 * time.Minute

// maxSharedChains bounds one pairing's chains (e2ee.MaxSharedChains; a
// test lowers it).
var maxSharedChains = e2ee.MaxSharedChains

// CompletePairing is the old device's step after the person confirmed the
// safety number: it endorses rec and seals it the chain keys this device
// holds in the given cases (all of the account's, so that the new device,
// which counts in every case once linked, reads their earlier messages).
// A case goes whole or not at all: one whose chains would take the share
// past e2ee.MaxSharedChains, or whose keys or history could not be checked
// or read, is left out (Shared.Left), as in the browser; so is every case
// not started a minute before the pairing expires (it must still be open
// to complete).
func (x *E2EE) CompletePairing(ctx context.Context, id string, rec *e2ee.DeviceRecord, cases []string) (Shared, error) {
	var chains []e2ee.SharedChain
	var out Shared
	until := time.Now().Add(PairingTTLForGathering)
	if p, err := x.Pairing(ctx, id); err == nil && !p.Expires.IsZero() {
		until = p.Expires.Add(-time.Minute)
	}
	for _, c := range cases {
		if !time.Now().Before(until) {
			out.Left = append(out.Left, c)
			continue
		}
		cc, err := x.chainsOf(ctx, c)
		if err != nil && ctx.Err() != nil {
			return out, err
		}
		if err != nil || len(chains)+len(cc) > maxSharedChains {
			out.Left = append(out.Left, c)
			continue
		}
		chains = append(chains, cc...)
		out.Cases++
	}
	out.Chains = len(chains)
	now := time.Now()
	end, err := x.Me.Endorse(rec, "", now)
	if err != nil {
		return out, err
	}
	share, err := x.Me.ShareKeys(rec, chains, now)
	if err != nil {
		return out, err
	}
	var p api.Pairing
	err = x.C.Do(ctx, http.MethodPost, "/api/v1/keys/pairings/"+url.PathEscape(id)+"/complete",
		api.PairingComplete{Endorsement: end, Share: share}, &p)
	return out, err
}

// chainsOf collects every chain key this device was given (or was handed
// by another device of its account) in a case: it reads the key
// distributions of every room it is a member of.
func (x *E2EE) chainsOf(ctx context.Context, caseID string) ([]e2ee.SharedChain, error) {
	devs, _, err := x.CaseDevices(ctx, caseID)
	if err != nil {
		return nil, err
	}
	chain, err := x.Statements(ctx, caseID, devs)
	if err != nil {
		return nil, err
	}
	sess := e2ee.NewSession(x.Me, caseID, chain, devs)
	rooms := map[string]bool{}
	for seq := uint64(1); seq <= uint64(chain.Len()); seq++ {
		st, _ := chain.Get(seq)
		for _, r := range st.AllRooms() {
			if st.IsMember(r.Name, x.Me.Account) {
				rooms[r.Name] = true
			}
		}
	}
	var out []e2ee.SharedChain
	for _, c := range x.loadShared() {
		if c.Ctx.Case == caseID {
			out = append(out, c)
		}
	}
	for room := range rooms {
		pos := api.Position{Epoch: 1}
		for range 100000 {
			var page api.HistoryPage
			path := fmt.Sprintf("/api/v1/cases/%s/rooms/%s/messages?epoch=%d&offset=%d&limit=500",
				url.PathEscape(caseID), url.PathEscape(room), pos.Epoch, pos.Offset)
			if err := x.C.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
				return nil, err
			}
			for _, m := range page.Messages {
				if len(m.Body) < 4 || m.Body[3] != e2ee.TypeKeyDist {
					continue
				}
				if sc, err := sess.Share(room, m.Epoch, m.From, m.Body); err == nil && sc != nil {
					out = append(out, *sc)
				}
			}
			if !pos.Before(page.Next) {
				break
			}
			pos = page.Next
		}
	}
	return out, nil
}

// CollectPairing is the new device's last step: it waits (bounded by
// ctx) for the old device's confirmation, checks the key share was signed
// by old, and keeps its chains. It returns how many it received.
func (x *E2EE) CollectPairing(ctx context.Context, id string, old *e2ee.DeviceRecord) (int, error) {
	for {
		var p api.Pairing
		if err := x.C.Do(ctx, http.MethodPost, "/api/v1/keys/pairings/"+url.PathEscape(id)+"/collect", nil, &p); err != nil {
			return 0, err
		}
		switch {
		case len(p.Share) > 0:
			ks, err := e2ee.DecodeKeyShare(p.Share)
			if err != nil {
				return 0, err
			}
			chains, err := ks.Open(x.Me, old)
			if err != nil {
				return 0, err
			}
			return len(chains), x.saveShared(chains)
		case p.State == "open" || p.State == "claimed":
		case p.State == "cancelled":
			return 0, ErrPairingCancelled
		default:
			return 0, fmt.Errorf("the pairing is %s: start again on your other device", p.State)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

type sharedJSON struct {
	Case      string `json:"case"`
	Room      string `json:"room"`
	Epoch     int64  `json:"epoch"`
	Statement uint64 `json:"statement"`
	Account   string `json:"account"`
	Device    string `json:"device"`
	Chain     []byte `json:"chain"`
	Iteration uint32 `json:"iteration"`
	Key       []byte `json:"key"`
}

func (x *E2EE) loadShared() []e2ee.SharedChain {
	b, err := os.ReadFile(filepath.Join(x.Dir, sharedFile))
	if err != nil {
		return nil
	}
	var js []sharedJSON
	if json.Unmarshal(b, &js) != nil {
		return nil
	}
	out := make([]e2ee.SharedChain, 0, len(js))
	for _, j := range js {
		c := e2ee.SharedChain{Ctx: e2ee.ChainContext{Case: j.Case, Room: j.Room, Epoch: j.Epoch, StatementSeq: j.Statement,
			Account: j.Account, Device: j.Device}, Iteration: j.Iteration, CK: j.Key}
		if len(j.Chain) != len(c.Ctx.Chain) || len(j.Key) != 32 {
			continue
		}
		copy(c.Ctx.Chain[:], j.Chain)
		out = append(out, c)
	}
	return out
}

func (x *E2EE) saveShared(add []e2ee.SharedChain) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	all := append(x.loadShared(), add...)
	js := make([]sharedJSON, len(all))
	for i, c := range all {
		js[i] = sharedJSON{Case: c.Ctx.Case, Room: c.Ctx.Room, Epoch: c.Ctx.Epoch, Statement: c.Ctx.StatementSeq,
			Account: c.Ctx.Account, Device: c.Ctx.Device, Chain: c.Ctx.Chain[:], Iteration: c.Iteration, Key: c.CK}
	}
	b, _ := json.Marshal(js)
	return writePrivate(filepath.Join(x.Dir, sharedFile), b)
}

// newSession starts a session with the chains another device of this
// account handed this one.
func (x *E2EE) newSession(caseID string, chain *e2ee.Chain, devs e2ee.Directory) *e2ee.Session {
	s := e2ee.NewSession(x.Me, caseID, chain, devs)
	s.AddShared(x.loadShared())
	return s
}

// PendingDevices lists, per participant of a case, the registered devices
// that no other device of theirs linked and no mediator admitted yet.
func (x *E2EE) PendingDevices(ctx context.Context, caseID string) (map[string][]*e2ee.DeviceRecord, error) {
	devs, _, err := x.CaseDevices(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if _, err := x.Statements(ctx, caseID, devs); err != nil {
		return nil, err
	}
	c, err := x.C.Case(ctx, caseID)
	if err != nil {
		return nil, err
	}
	out := map[string][]*e2ee.DeviceRecord{}
	for _, p := range c.Participants {
		if pend := devs.Pending(p.AccountID); len(pend) > 0 {
			out[p.AccountID] = pend
		}
	}
	return out, nil
}

// AdmitDevice is a mediator's admission of a participant's new device in
// a case (for someone who lost every device they had): this mediator's
// device signs an endorsement of it for the case. The device reads the
// messages sent from then on (no earlier chain key was sealed to it) and,
// once a device that holds them passes them on (WrapForNewcomers, or a
// mediator's browser opening the documents), the keys of every earlier
// end-to-end encrypted document of the person's audiences.
func (x *E2EE) AdmitDevice(ctx context.Context, caseID, account, device string) error {
	devs, _, err := x.CaseDevices(ctx, caseID)
	if err != nil {
		return err
	}
	rec, ok := devs.Record(account, device)
	if !ok {
		return fmt.Errorf("%w: %s has no device %s", e2ee.ErrUnknownDevice, account, device)
	}
	end, err := x.Me.Endorse(rec, caseID, time.Now())
	if err != nil {
		return err
	}
	_, err = x.fetchProven(ctx, http.MethodPost, "/api/v1/cases/"+url.PathEscape(caseID)+"/e2ee/admissions", api.RecordRequest{Record: end})
	return err
}
