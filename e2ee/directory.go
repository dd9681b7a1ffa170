package e2ee

import (
	"slices"
	"strings"
)

// Devices is a [Directory] built from verified key-directory entries: the
// caller adds each device record and revocation with its log index after
// checking its inclusion proof.
type Devices struct {
	byAccount map[string]map[string]*loggedDevice
}

type loggedDevice struct {
	rec     *DeviceRecord
	index   int64 // log index of the registration
	revoked int64 // log index of the revocation, or -1
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
	m[rec.ID] = &loggedDevice{rec: rec, index: index, revoked: -1}
}

// Revoke records a verified revocation at log index. It must already be
// checked against the signing device ([Revocation.Verify]).
func (d *Devices) Revoke(v *Revocation, index int64) {
	if ld, ok := d.byAccount[v.Account][v.Device]; ok && (ld.revoked < 0 || index < ld.revoked) {
		ld.revoked = index
	}
}

// Device implements Directory.
func (d *Devices) Device(account, id string, at int64) (*DeviceRecord, bool) {
	ld, ok := d.byAccount[account][id]
	if !ok {
		return nil, false
	}
	if at < 0 {
		return ld.rec, ld.revoked < 0
	}
	return ld.rec, ld.index < at && (ld.revoked < 0 || ld.revoked > at)
}

// Active implements Directory, sorted by device id.
func (d *Devices) Active(account string) []*DeviceRecord {
	var out []*DeviceRecord
	for _, ld := range d.byAccount[account] {
		if ld.revoked < 0 {
			out = append(out, ld.rec)
		}
	}
	slices.SortFunc(out, func(a, b *DeviceRecord) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Revoked reports whether a device is known and revoked.
func (d *Devices) Revoked(account, id string) bool {
	ld, ok := d.byAccount[account][id]
	return ok && ld.revoked >= 0
}

// Record returns a device's record whether or not it is revoked.
func (d *Devices) Record(account, id string) (*DeviceRecord, bool) {
	ld, ok := d.byAccount[account][id]
	if !ok {
		return nil, false
	}
	return ld.rec, true
}
