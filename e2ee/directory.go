package e2ee

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Devices is a [Directory] built from verified key-directory entries: the
// caller adds each device record and revocation with its log index after
// checking its inclusion proof.
type Devices struct {
	byAccount map[string]map[string]*loggedDevice

	// strict: only trusted devices count (see RequireEndorsement).
	strict    bool
	endorse   []loggedEndorsement
	revs      []loggedRevocation
	mediators map[string]map[string]bool // case -> mediator accounts
	// mu guards the trust computed lazily on first read, so that readers
	// may run at once; trusted, own and revoked are replaced, never
	// changed, once published.
	mu      sync.Mutex
	trusted map[*loggedDevice]bool  // nil: recompute
	own     map[*loggedDevice]bool  // counts by its account's own chain
	revoked map[*loggedDevice]int64 // log index of the revocation that counts
}

type loggedRevocation struct {
	v     *Revocation
	index int64
}

type loggedEndorsement struct {
	e     *Endorsement
	index int64
}

type loggedDevice struct {
	rec   *DeviceRecord
	index int64 // log index of the registration
}

// NewDevices returns an empty directory.
func NewDevices() *Devices { return &Devices{byAccount: map[string]map[string]*loggedDevice{}} }

// Add records a verified device registration at log index.
func (d *Devices) Add(rec *DeviceRecord, index int64) {
	m := d.byAccount[rec.Account]
	if m == nil {
		m = map[string]*loggedDevice{}
		d.byAccount[rec.Account] = m
	}
	if old, ok := m[rec.ID]; ok && old.index <= index {
		return
	}
	m[rec.ID] = &loggedDevice{rec: rec, index: index}
	d.invalidate()
}

// Revoke records a logged revocation at log index. Whether it counts is
// decided when trust is computed: only if it is signed by the revoked
// device itself (a device may always retire itself) or by a device of the
// account's own chain (its first device, or one linked by an own-chain
// device: [Devices.OwnChain]) that counted, unrevoked, at the revocation's
// place in the log. A device that counts only through a mediator's
// admission cannot revoke another: whether an admission counts depends on
// a case's statement, and a revocation must not count in one case and not
// in another, nor stop counting when the case's mediators change. Any
// other revocation is ignored, so that a device nobody counts (one the
// server, or anyone holding a session of the account, registered) cannot
// retire the account's real devices. Its signature is checked then too
// ([Revocation.Verify]).
func (d *Devices) Revoke(v *Revocation, index int64) {
	d.revs = append(d.revs, loggedRevocation{v, index})
	d.invalidate()
}

// revokedAt is the log index of the revocation of ld that counts.
func (d *Devices) revokedAt(ld *loggedDevice) (int64, bool) {
	_, _, rv := d.trust()
	at, ok := rv[ld]
	return at, ok
}

// Device implements Directory.
func (d *Devices) Device(account, id string, at int64) (*DeviceRecord, bool) {
	ld, ok := d.byAccount[account][id]
	if !ok || !d.isTrusted(ld) {
		return nil, false
	}
	rev, revoked := d.revokedAt(ld)
	if at < 0 {
		return ld.rec, !revoked
	}
	return ld.rec, ld.index < at && (!revoked || rev > at)
}

// Active implements Directory, sorted by device id.
func (d *Devices) Active(account string) []*DeviceRecord {
	var out []*DeviceRecord
	for _, ld := range d.byAccount[account] {
		if _, revoked := d.revokedAt(ld); !revoked && d.isTrusted(ld) {
			out = append(out, ld.rec)
		}
	}
	slices.SortFunc(out, func(a, b *DeviceRecord) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// RevokedAt returns the log index of the revocation of a device that
// counts (see [Devices.Revoke]), if there is one.
func (d *Devices) RevokedAt(account, id string) (int64, bool) {
	ld, ok := d.byAccount[account][id]
	if !ok {
		return 0, false
	}
	return d.revokedAt(ld)
}

// Revoked reports whether a device is known and revoked (by a revocation
// that counts: see [Devices.Revoke]).
func (d *Devices) Revoked(account, id string) bool {
	ld, ok := d.byAccount[account][id]
	if !ok {
		return false
	}
	_, revoked := d.revokedAt(ld)
	return revoked
}

// Record returns a device's record whether or not it is revoked.
func (d *Devices) Record(account, id string) (*DeviceRecord, bool) {
	ld, ok := d.byAccount[account][id]
	if !ok {
		return nil, false
	}
	return ld.rec, true
}

// RequireEndorsement makes the directory count, of each account, only its
// first registered device (trust on first use) and the devices endorsed by
// a counted device of the same account or, for a case, by a counted device
// of one of that case's mediators ([Devices.AdmitFrom]) when the account
// is not one of that case's mediators and the admitting device is not
// revoked (a revocation of it, logged before or after the admission, ends
// the admission; a link stays counted if logged before its signer's
// revocation). Devices the
// server registered on its own are left out: nothing is sealed to them and
// nothing they sign is accepted.
func (d *Devices) RequireEndorsement() { d.strict = true; d.invalidate() }

// Endorse records a logged endorsement at log index; its signature is
// checked when trust is computed.
func (d *Devices) Endorse(e *Endorsement, index int64) {
	d.endorse = append(d.endorse, loggedEndorsement{e, index})
	d.invalidate()
}

// AdmitFrom lets the mediators of c's latest statement admit devices for
// c's case.
func (d *Devices) AdmitFrom(c *Chain) {
	st := c.Latest()
	if st == nil {
		return
	}
	var m []string
	for _, p := range st.People {
		if p.Role == RoleMediator {
			m = append(m, p.Account)
		}
	}
	d.AdmitBy(c.Case, m...)
}

// AdmitBy lets mediators admit devices for caseID (replacing the ones
// given before for it). Clients name them from the case's latest verified
// statement ([Devices.AdmitFrom]); the key directory, which checked each
// admission's signer was a mediator of its case when it logged it, names
// the signers of the admissions it logged.
func (d *Devices) AdmitBy(caseID string, mediators ...string) {
	m := map[string]bool{}
	for _, a := range mediators {
		m[a] = true
	}
	if d.mediators == nil {
		d.mediators = map[string]map[string]bool{}
	}
	d.mediators[caseID] = m
	d.invalidate()
}

// Trusted reports whether a registered device counts (always, unless
// RequireEndorsement was called).
func (d *Devices) Trusted(account, id string) bool {
	ld, ok := d.byAccount[account][id]
	return ok && d.isTrusted(ld)
}

// Pending lists account's registered, unrevoked devices that do not count
// yet: a new device waiting to be linked or admitted.
func (d *Devices) Pending(account string) []*DeviceRecord {
	var out []*DeviceRecord
	for _, ld := range d.byAccount[account] {
		if _, revoked := d.revokedAt(ld); !revoked && !d.isTrusted(ld) {
			out = append(out, ld.rec)
		}
	}
	slices.SortFunc(out, func(a, b *DeviceRecord) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (d *Devices) isTrusted(ld *loggedDevice) bool {
	if !d.strict {
		return true
	}
	t, _, _ := d.trust()
	return t[ld]
}

// trust returns the trusted and own-chain sets and the revocations that
// count, computing them once after each change.
func (d *Devices) trust() (trusted, own map[*loggedDevice]bool, revoked map[*loggedDevice]int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.trusted == nil {
		d.computeTrust()
	}
	return d.trusted, d.own, d.revoked
}

// invalidate makes the next read compute trust again.
func (d *Devices) invalidate() {
	d.mu.Lock()
	d.trusted = nil
	d.mu.Unlock()
}

// computeTrust decides, in log order, which revocations count (each
// against the own-chain devices that counted just before it: see
// [Devices.Revoke]), then which devices
// count: first devices, then endorsements by counted devices until
// nothing changes.
func (d *Devices) computeTrust() {
	revoked := map[*loggedDevice]int64{}
	revs := slices.Clone(d.revs)
	slices.SortStableFunc(revs, func(a, b loggedRevocation) int { return cmp.Compare(a.index, b.index) })
	for _, lr := range revs {
		v := lr.v
		ld, ok := d.byAccount[v.Account][v.Device]
		if !ok {
			continue
		}
		if _, done := revoked[ld]; done {
			continue // the earliest revocation that counts stands
		}
		by, ok := d.byAccount[v.Account][v.By]
		if !ok || by.index >= lr.index || v.Verify(by.rec) != nil {
			continue
		}
		if by != ld {
			if at, ok := revoked[by]; ok && at < lr.index {
				continue
			}
			if d.strict && !d.ownBefore(lr.index, revoked)[by] {
				continue
			}
		}
		revoked[ld] = lr.index
	}
	d.revoked = revoked
	t := d.trustedBefore(-1, revoked)
	d.trusted = t
	d.own = d.ownBefore(-1, revoked)
}

// ownBefore is the set of devices that count by their account's own chain
// by the entries logged before index limit (every entry if limit < 0),
// given the revocations that count: the first devices, then those linked
// (Case "") by such a device, unrevoked at the link, until nothing
// changes — never through a mediator's admission, directly or through a
// device an admitted one linked. Without RequireEndorsement every
// registered device.
func (d *Devices) ownBefore(limit int64, revoked map[*loggedDevice]int64) map[*loggedDevice]bool {
	if !d.strict {
		return d.trustedBefore(limit, revoked)
	}
	before := func(i int64) bool { return limit < 0 || i < limit }
	own := map[*loggedDevice]bool{}
	for a := range d.byAccount {
		if first := d.first(a); first != nil && before(first.index) {
			own[first] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, le := range d.endorse {
			e := le.e
			if e.Case != "" || !before(le.index) {
				continue
			}
			ld, ok := d.byAccount[e.Account][e.Device]
			if !ok || own[ld] || !before(ld.index) {
				continue
			}
			by, ok := d.byAccount[e.By][e.ByDev]
			if !ok || !own[by] || revokedBefore(revoked, by, le.index) || e.Verify(ld.rec, by.rec) != nil {
				continue
			}
			own[ld] = true
			changed = true
		}
	}
	return own
}

// revokedBefore reports whether ld's revocation that counts comes before
// log index i.
func revokedBefore(revoked map[*loggedDevice]int64, ld *loggedDevice, i int64) bool {
	at, ok := revoked[ld]
	return ok && at < i
}

// trustedBefore is the set of devices that count by the entries logged
// before index limit (every entry if limit < 0), given the revocations
// that count: without RequireEndorsement every registered device, else
// the first devices and those endorsed by a counted device until nothing
// changes.
func (d *Devices) trustedBefore(limit int64, revoked map[*loggedDevice]int64) map[*loggedDevice]bool {
	before := func(i int64) bool { return limit < 0 || i < limit }
	t := map[*loggedDevice]bool{}
	if !d.strict {
		for _, m := range d.byAccount {
			for _, ld := range m {
				if before(ld.index) {
					t[ld] = true
				}
			}
		}
		return t
	}
	for a := range d.byAccount {
		if first := d.first(a); first != nil && before(first.index) {
			t[first] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, le := range d.endorse {
			if !before(le.index) {
				continue
			}
			e := le.e
			ld, ok := d.byAccount[e.Account][e.Device]
			if !ok || t[ld] || !before(ld.index) {
				continue
			}
			by, ok := d.byAccount[e.By][e.ByDev]
			if !ok || !t[by] || revokedBefore(revoked, by, le.index) {
				continue
			}
			// An admission counts when a mediator of its case signed it,
			// for a device of an account that is not one of them:
			// admissions are for participants' devices only. It counts
			// only while the device that signed it is unrevoked: a
			// revocation of the signer, logged at any time, ends every
			// admission it signed (a lost or stolen mediator device must
			// not keep the devices it admitted reading; a live device of a
			// mediator admits the participant's device again).
			if e.Case != "" {
				if !d.mediators[e.Case][e.By] || d.mediators[e.Case][e.Account] {
					continue
				}
				if _, gone := revoked[by]; gone {
					continue
				}
			}
			if e.Verify(ld.rec, by.rec) != nil {
				continue
			}
			t[ld] = true
			changed = true
		}
	}
	return t
}

// first is the account's device with the lowest log index in this
// answer.
func (d *Devices) first(account string) *loggedDevice {
	var first *loggedDevice
	for _, ld := range d.byAccount[account] {
		if first == nil || ld.index < first.index || (ld.index == first.index && ld.rec.ID < first.rec.ID) {
			first = ld
		}
	}
	return first
}

// OwnChain reports whether a device counts by its account's own chain: it
// is the account's first device, or was linked by a device that is. A
// device that counts only through a mediator's admission (or through a
// device such a one linked) reads what is sealed to it but is not taken
// as the author of a consent (a carry, terms, a disclosure). Without
// RequireEndorsement every registered device does.
func (d *Devices) OwnChain(account, id string) bool {
	ld, ok := d.byAccount[account][id]
	if !ok {
		return false
	}
	if !d.strict {
		return true
	}
	_, own, _ := d.trust()
	return own[ld]
}

func (d *Devices) ownChain(ld *loggedDevice) bool {
	_, own, _ := d.trust()
	return own[ld]
}

// Admission is a device that counts only through a mediator's admission,
// and the mediator account that admitted it.
type Admission struct {
	Device *DeviceRecord
	By     string
}

// Admitted lists account's unrevoked devices that count only through a
// mediator's admission (sorted by device id): what the account's own
// devices tell their person about. By names the mediator of an admission
// that counts (signed by a counted, unrevoked device of a mediator of its
// case), the earliest logged such one: not an earlier admission whose
// signer was revoked since and another mediator's re-admission replaced.
func (d *Devices) Admitted(account string) []Admission {
	var out []Admission
	for _, ld := range d.byAccount[account] {
		if _, revoked := d.revokedAt(ld); !d.strict || revoked || !d.isTrusted(ld) || d.ownChain(ld) {
			continue
		}
		var best *loggedEndorsement
		for i := range d.endorse {
			le := &d.endorse[i]
			if le.e.Case == "" || le.e.Account != account || le.e.Device != ld.rec.ID || (best != nil && best.index <= le.index) {
				continue
			}
			if d.admissionCounts(le.e, ld) {
				best = le
			}
		}
		if best != nil {
			out = append(out, Admission{Device: ld.rec, By: best.e.By})
		}
	}
	slices.SortFunc(out, func(a, b Admission) int { return strings.Compare(a.Device.ID, b.Device.ID) })
	return out
}

// admissionCounts reports whether admission e of ld counts now: signed
// by a counted, unrevoked device of a mediator of its case, for an
// account that is not one of them, with a valid signature.
func (d *Devices) admissionCounts(e *Endorsement, ld *loggedDevice) bool {
	by, ok := d.byAccount[e.By][e.ByDev]
	if !ok || !d.isTrusted(by) {
		return false
	}
	if _, revoked := d.revokedAt(by); revoked {
		return false
	}
	if !d.mediators[e.Case][e.By] || d.mediators[e.Case][e.Account] {
		return false
	}
	return e.Verify(ld.rec, by.rec) == nil
}

// Link is a device of an account linked (a same-account endorsement)
// by another device of it.
type Link struct {
	Device  *DeviceRecord
	ByDev   string // the device that signed the link
	Created int64  // when the link was made, by its signer's clock (ms since the epoch)
}

// LinkedBy lists the devices of account that device id linked, directly
// or through a device it linked, by links that count (logged before
// their signer's revocation, signature valid), and that still count and
// are unrevoked (in the order found): what a person revoking id
// is offered to revoke too. A link counts when logged before its signer's
// revocation, so revoking a lost or stolen device leaves the devices it
// linked counting, a thief's among them. The devices in keep (the one
// revoking, say) and what is reached only through them are left out.
func (d *Devices) LinkedBy(account, id string, keep ...string) []Link {
	if _, ok := d.byAccount[account][id]; !ok {
		return nil
	}
	_, _, revoked := d.trust()
	from := map[string]bool{id: true}
	seen := map[string]bool{id: true}
	for _, k := range keep {
		seen[k] = true
	}
	ends := slices.Clone(d.endorse)
	slices.SortStableFunc(ends, func(a, b loggedEndorsement) int { return cmp.Compare(a.index, b.index) })
	var out []Link
	for changed := true; changed; {
		changed = false
		for _, le := range ends {
			e := le.e
			if e.Case != "" || e.Account != account || e.By != account || !from[e.ByDev] || seen[e.Device] {
				continue
			}
			ld, ok := d.byAccount[account][e.Device]
			by := d.byAccount[account][e.ByDev]
			if !ok || revokedBefore(revoked, by, le.index) || e.Verify(ld.rec, by.rec) != nil {
				continue
			}
			seen[e.Device] = true
			from[e.Device] = true // a revoked one's earlier links count too
			changed = true
			if _, gone := revoked[ld]; !gone && d.isTrusted(ld) {
				out = append(out, Link{Device: ld.rec, ByDev: e.ByDev, Created: e.Created})
			}
		}
	}
	return out
}

// Accounts lists the accounts with a device in this directory, sorted.
func (d *Devices) Accounts() []string {
	out := make([]string, 0, len(d.byAccount))
	for a, m := range d.byAccount {
		if len(m) > 0 {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// First returns the account's first device: the lowest log index among
// the devices in this answer. The log proves each listed device is in
// it, not that the list is complete: a server that leaves the real first
// device out makes another one first. Clients therefore pin each
// account's first device the first time they see it ([FirstPins]) and
// refuse an answer that names another.
func (d *Devices) First(account string) (*DeviceRecord, bool) {
	f := d.first(account)
	if f == nil {
		return nil, false
	}
	return f.rec, true
}

// FirstPins maps an account to the id of its first device (device ids
// are hashes of their keys), as a client first saw it.
type FirstPins map[string]string

// CheckFirsts checks every account of d against pins: an account pinned
// before must have the same first device; an account seen for the first
// time is pinned (pins is updated; changed reports it). A different first
// device is an [ErrDeviceFork]: the server is showing another history of
// the account's devices, or leaving its real first device out.
func (d *Devices) CheckFirsts(pins FirstPins) (changed bool, err error) {
	for _, a := range d.Accounts() {
		f := d.first(a)
		if p, ok := pins[a]; ok {
			if p != f.rec.ID {
				return changed, fmt.Errorf("%w: %s's first device is %s, but this device pinned %s", ErrDeviceFork, a, f.rec.ID, p)
			}
			continue
		}
		pins[a] = f.rec.ID
		changed = true
	}
	return changed, nil
}

// RevocationPins maps an account to its devices whose revocation a client
// verified (one that counted: [Devices.Revoke]) and that counted by the
// account's own chain ([Devices.OwnChain]): device id → the log index of
// the revocation that counted. Device ids are hashes of their keys, so the
// id alone recognises the device in any later answer; the index keeps a
// later revocation (one the lost device signs of itself, after linking a
// device of its own) from standing in for the one pinned. An index of
// [UnknownRevocationIndex] is a pin saved before pins had one: the next
// answer that revokes the device sets it.
type RevocationPins map[string]map[string]int64

// UnknownRevocationIndex is the index of a pin saved before pins recorded
// one (revoked.json, the browser's Pins.revoked as id lists): the device
// must be revoked in every answer that lists it, and the first such answer
// sets the index.
const UnknownRevocationIndex int64 = -1

// UnmarshalJSON reads pins as saved (account → device id → index), or as
// saved before pins had an index (account → device ids): those get
// [UnknownRevocationIndex].
func (p *RevocationPins) UnmarshalJSON(b []byte) error {
	var now map[string]map[string]int64
	if err := json.Unmarshal(b, &now); err == nil {
		*p = now
		return nil
	}
	var old map[string][]string
	if err := json.Unmarshal(b, &old); err != nil {
		return err
	}
	*p = RevocationPins{}
	for a, ids := range old {
		m := map[string]int64{}
		for _, id := range ids {
			m[id] = UnknownRevocationIndex
		}
		(*p)[a] = m
	}
	return nil
}

// Merge adds other's pins to p: a device pinned in both keeps the earlier
// index (a known one over [UnknownRevocationIndex]). It refuses
// ([ErrRevocationPinsFull]) to take an account past
// [MaxRevocationPinsPerAccount], and p is then left as it was.
func (p RevocationPins) Merge(other RevocationPins) error {
	for a, m := range other {
		n := len(p[a])
		for id := range m {
			if _, ok := p[a][id]; !ok {
				n++
			}
		}
		if n > MaxRevocationPinsPerAccount {
			return fmt.Errorf("%w: %s would have %d revoked devices of its own, more than an account can have (%d)", ErrRevocationPinsFull, a, n, MaxRevocationPinsPerAccount)
		}
	}
	for a, m := range other {
		if p[a] == nil {
			p[a] = map[string]int64{}
		}
		for id, at := range m {
			if have, ok := p[a][id]; !ok || have == UnknownRevocationIndex || (at != UnknownRevocationIndex && at < have) {
				p[a][id] = at
			}
		}
	}
	return nil
}

// MaxRevocationPinsPerAccount bounds the revocations a client keeps
// pinned per account: the key directory's own limit on an account's
// devices (keydir.MaxDevicesPerAccount, which counts revoked devices
// too). Only devices of the account's own chain are pinned, and the
// server cannot make more of those (each needs a link signed by one), so
// an honest server never reaches it; an answer that would take an account
// past it is refused ([ErrRevocationPinsFull]), never a pin dropped.
const MaxRevocationPinsPerAccount = 32

// CheckRevocations checks d against pins: a device whose revocation was
// pinned, if this answer lists it, must be revoked in it by a revocation
// that counts and was logged no later than the pinned one. An answer that
// lists it unrevoked, or revoked only later, is an [ErrRevocationOmitted]:
// the server leaves the revocation out (the log proves each listed record
// is in it, not that the list is complete), or one that made it count, and
// a lost device would get keys again, or a later revocation (the lost
// device's own, say) would stand in for it, and whatever the device signed
// between the two (a link to a device of its own) would count. An answer
// that leaves the device out too is not refused: the device is then no
// recipient. A pin of [UnknownRevocationIndex] takes the index of this
// answer's revocation; one earlier than pinned moves the pin to it. Then
// every revocation that counts in d, of a device that counts by its
// account's own chain, and is not pinned yet is pinned with its index
// (pins is updated; changed reports it). A device nobody linked that
// revokes itself is not pinned: the server can log any number of those,
// and nothing is sealed to them. An answer that would take an account past
// [MaxRevocationPinsPerAccount] is an [ErrRevocationPinsFull]; on any
// error pins is left as it was.
func (d *Devices) CheckRevocations(pins RevocationPins) (changed bool, err error) {
	next := RevocationPins{}
	for _, a := range d.Accounts() {
		for _, id := range slices.Sorted(maps.Keys(pins[a])) {
			pinned := pins[a][id]
			ld, ok := d.byAccount[a][id]
			if !ok {
				continue
			}
			at, revoked := d.revokedAt(ld)
			if !revoked {
				return false, fmt.Errorf("%w: %s's device %s was revoked, but the server now shows it as not revoked", ErrRevocationOmitted, a, id)
			}
			if pinned != UnknownRevocationIndex && at > pinned {
				return false, fmt.Errorf("%w: %s's device %s was revoked at %d, but the server now shows it revoked only at %d", ErrRevocationOmitted, a, id, pinned, at)
			}
			if at != pinned {
				if next[a] == nil {
					next[a] = map[string]int64{}
				}
				next[a][id] = at
			}
		}
	}
	_, own, _ := d.trust()
	for _, a := range d.Accounts() {
		for id, ld := range d.byAccount[a] {
			if _, pinned := pins[a][id]; pinned {
				continue
			}
			if at, revoked := d.revokedAt(ld); revoked && own[ld] {
				if next[a] == nil {
					next[a] = map[string]int64{}
				}
				next[a][id] = at
			}
		}
	}
	if len(next) == 0 {
		return false, nil
	}
	if err := pins.Merge(next); err != nil {
		return false, err
	}
	return true, nil
}
