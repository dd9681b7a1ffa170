package tlogverify

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

// Log entry types of the key directory's records.
const (
	EventDevice    = "keydir.device"
	EventRevoke    = "keydir.revoke"
	EventEndorse   = "keydir.endorse"
	EventStatement = "keydir.statement"
)

func toHashes(b [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(b))
	for i, h := range b {
		if len(h) != tlog.HashSize {
			return nil, errors.New("keydir: proof hash of the wrong size")
		}
		copy(out[i][:], h)
	}
	return out, nil
}

// ErrLog wraps every failure to verify a key-directory answer: a bad
// signature, a record not in the log, a fork or a rollback.
var ErrLog = errors.New("keydir: the key directory's answer does not verify")

// View is what a client has verified of the log: the pinned key and the
// latest checkpoint it accepted. The zero View trusts the first key it
// sees (and the client pins it).
type View struct {
	Key        string
	Checkpoint []byte // signed note; nil before the first answer
}

// Size is the size of the view's checkpoint (0 before the first).
func (v View) Size() int64 {
	if v.Checkpoint == nil {
		return 0
	}
	c, err := OpenCheckpoint(v.Checkpoint, v.Key)
	if err != nil {
		return 0
	}
	return c.Size
}

// Verified is a checked answer.
type Verified struct {
	View        View // the view to keep for next time
	Checkpoint  Checkpoint
	Devices     []*e2ee.DeviceRecord
	DeviceIdx   []int64
	Revocations []*e2ee.Revocation
	RevokeIdx   []int64
	Statements  []*e2ee.Statement // LogIndex set
	Endorse     []*e2ee.Endorsement
	EndorseIdx  []int64
}

// Verify checks a key-directory answer against what the client saw before:
//   - the log key is the pinned one (first use pins it);
//   - the checkpoint is signed by it;
//   - it extends the previous checkpoint (consistency proof), or equals it;
//   - every record is in the log at its index (inclusion proof), with an
//     entry of the right type naming the record's hash and ids.
//
// Records are decoded (device self-signatures and statement rules checked);
// revocation signatures and the statement chain are checked by the caller
// against the directory (Directory / e2ee.Chain).
func Verify(p *api.Proven, prev View) (*Verified, error) {
	bad := func(format string, a ...any) error { return fmt.Errorf("%w: %s", ErrLog, fmt.Sprintf(format, a...)) }
	if prev.Key != "" && p.Key != prev.Key {
		return nil, bad("the log key changed from the one pinned")
	}
	cp, err := OpenCheckpoint([]byte(p.Checkpoint), p.Key)
	if err != nil {
		return nil, bad("checkpoint: %v", err)
	}
	if prev.Checkpoint != nil {
		old, err := OpenCheckpoint(prev.Checkpoint, p.Key)
		if err != nil {
			return nil, bad("saved checkpoint: %v", err)
		}
		switch {
		case cp.Size < old.Size:
			return nil, bad("the log went back from %d to %d entries", old.Size, cp.Size)
		case cp.Size == old.Size && cp.Hash != old.Hash:
			return nil, bad("two different logs of %d entries (fork)", cp.Size)
		case cp.Size > old.Size && old.Size > 0:
			proof, err := toHashes(p.Consistency)
			if err != nil {
				return nil, bad("%v", err)
			}
			if err := tlog.CheckTree(proof, cp.Size, cp.Hash, old.Size, old.Hash); err != nil {
				return nil, bad("the log of %d entries does not extend the one of %d you saw (fork): %v", cp.Size, old.Size, err)
			}
		}
	}
	v := &Verified{View: View{Key: p.Key, Checkpoint: []byte(p.Checkpoint)}, Checkpoint: cp}
	for _, l := range p.Devices {
		rec, err := e2ee.DecodeDeviceRecord(l.Record)
		if err != nil {
			return nil, bad("device: %v", err)
		}
		if err := check(&l, cp, EventDevice, rec.Account, "", []string{rec.ID}); err != nil {
			return nil, err
		}
		v.Devices, v.DeviceIdx = append(v.Devices, rec), append(v.DeviceIdx, l.Index)
	}
	for _, l := range p.Revocations {
		r, err := e2ee.DecodeRevocation(l.Record)
		if err != nil {
			return nil, bad("revocation: %v", err)
		}
		if err := check(&l, cp, EventRevoke, r.Account, "", []string{r.Device, r.By}); err != nil {
			return nil, err
		}
		v.Revocations, v.RevokeIdx = append(v.Revocations, r), append(v.RevokeIdx, l.Index)
	}
	for _, l := range p.Endorsements {
		e, err := e2ee.DecodeEndorsement(l.Record)
		if err != nil {
			return nil, bad("endorsement: %v", err)
		}
		if err := check(&l, cp, EventEndorse, e.By, e.Case, []string{e.Account, e.Device, e.ByDev}); err != nil {
			return nil, err
		}
		v.Endorse, v.EndorseIdx = append(v.Endorse, e), append(v.EndorseIdx, l.Index)
	}
	for _, l := range p.Statements {
		st, err := e2ee.DecodeStatement(l.Record)
		if err != nil {
			return nil, bad("statement: %v", err)
		}
		if err := check(&l, cp, EventStatement, st.SignerAccount, st.Case, []string{strconv.FormatUint(st.Seq, 10), st.SignerDevice}); err != nil {
			return nil, err
		}
		st.LogIndex = l.Index
		v.Statements = append(v.Statements, st)
	}
	return v, nil
}

// check verifies one record's entry and inclusion proof.
func check(l *api.Logged, cp Checkpoint, kind, actor, caseID string, objects []string) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: entry %d: %s", ErrLog, l.Index, fmt.Sprintf(format, a...))
	}
	ev, err := ParseEvent(l.Entry)
	if err != nil {
		return bad("%v", err)
	}
	h := e2ee.PayloadHash(l.Record)
	if ev.Type != kind || ev.Actor != actor || ev.Case != caseID || !slices.Equal(ev.Objects, objects) ||
		!slices.Equal(ev.Hashes, []string{fmt.Sprintf("sha256:%x", h)}) {
		return bad("the log entry does not describe this record")
	}
	if l.Index < 0 || l.Index >= cp.Size {
		return bad("not covered by the checkpoint of %d entries", cp.Size)
	}
	proof, err := toHashes(l.Proof)
	if err != nil {
		return bad("%v", err)
	}
	if err := tlog.CheckRecord(proof, cp.Size, cp.Hash, l.Index, tlog.RecordHash(l.Entry)); err != nil {
		return bad("not in the log: %v", err)
	}
	return nil
}

// Directory builds the e2ee directory from verified devices and
// revocations (each revocation's signature checked against its signer).
// Whether a revocation counts is the directory's rule ([e2ee.Devices.Revoke]):
// one signed by a device of the account that did not count at its place
// in the log is ignored, not an error.
func (v *Verified) Directory(into *e2ee.Devices) (*e2ee.Devices, error) {
	if into == nil {
		into = e2ee.NewDevices()
	}
	for i, d := range v.Devices {
		into.Add(d, v.DeviceIdx[i])
	}
	for i, r := range v.Revocations {
		// The signer must be a registered device of the account; the
		// directory then takes the revocation only if the signer is the
		// revoked device itself or counted at the revocation's index.
		by, ok := findRecord(v.Devices, r.Account, r.By)
		if !ok {
			by, ok = into.Record(r.Account, r.By)
		}
		if !ok {
			return nil, fmt.Errorf("%w: revocation by unknown device %s", ErrLog, r.By)
		}
		if err := r.Verify(by); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrLog, err)
		}
		into.Revoke(r, v.RevokeIdx[i])
	}
	// Endorsement signatures are checked when the directory computes trust.
	for i, e := range v.Endorse {
		into.Endorse(e, v.EndorseIdx[i])
	}
	return into, nil
}

func findRecord(recs []*e2ee.DeviceRecord, account, id string) (*e2ee.DeviceRecord, bool) {
	for _, r := range recs {
		if r.Account == account && r.ID == id {
			return r, true
		}
	}
	return nil, false
}
