package e2ee

import (
	"errors"
	"fmt"
	"slices"
)

// Session is one device's end-to-end state in one case: the verified
// membership chain, its sending chains (one per room) and the receiving
// chains it holds. It is pure — the caller fetches statements and devices,
// posts the payloads it returns and feeds it the payloads it receives — and
// not safe for concurrent use.
type Session struct {
	Me    *DeviceKeys
	Case  string
	Chain *Chain
	Dir   Directory
	// Now is the case's people as the server describes them at the
	// moment (mediators no statement admits yet left out): the people of
	// the statement a mediator's device would sign next. The caller sets
	// it before wrapping a document key: [Session.WrapDocKey] wraps only
	// under a latest statement whose audience is the one these people
	// make, as Prepare sends only under a statement covering the room's
	// current epoch.
	Now []Person

	out map[string]*SenderChain
	in  map[inKey]*ReceiverChain
}

type inKey struct {
	room   string
	epoch  int64
	device string
	chain  ChainID
}

// NewSession starts a session for me in a case.
func NewSession(me *DeviceKeys, caseID string, chain *Chain, dir Directory) *Session {
	return &Session{Me: me, Case: caseID, Chain: chain, Dir: dir,
		out: map[string]*SenderChain{}, in: map[inKey]*ReceiverChain{}}
}

// ErrNoStatement: no verified membership statement covers the room's
// current epoch yet; a mediator's device must sign one before anyone
// distributes keys for it.
var ErrNoStatement = fmt.Errorf("%w: no signed membership for this epoch yet", ErrMembership)

// Prepare makes this device ready to send in room at epoch and returns the
// key distributions to post first (none when the current chain already
// reached every member device). A new chain starts when there is none for
// this epoch, when the signed members changed, or when a device it was
// given to is no longer active (revoked); a device that appeared since
// (a member's new device) gets the chain key at the current counter.
func (s *Session) Prepare(room string, epoch int64) ([][]byte, error) {
	if seq, closed := s.Chain.Closed(room); closed {
		return nil, fmt.Errorf("%w: %s, in statement %d", ErrRoomClosed, room, seq)
	}
	st, ok := s.Chain.ForEpoch(room, epoch)
	if !ok {
		return nil, ErrNoStatement
	}
	members, _ := st.Room(room)
	if !slices.Contains(members.Members, s.Me.Account) {
		return nil, fmt.Errorf("%w: you are not in %s in the signed membership", ErrNotMember, room)
	}
	var recipients []*DeviceRecord
	active := map[string]bool{}
	for _, m := range members.Members {
		for _, d := range s.Dir.Active(m) {
			recipients = append(recipients, d)
			active[d.ID] = true
		}
	}
	if !active[s.Me.ID] {
		return nil, fmt.Errorf("%w: this device is not in the key directory (or revoked)", ErrUnknownDevice)
	}
	c := s.out[room]
	fresh := c == nil || c.Ctx.Epoch != epoch || c.Counter() == ^uint32(0)
	if !fresh && c.Ctx.StatementSeq != st.Seq {
		old, ok := s.Chain.Get(c.Ctx.StatementSeq)
		fresh = !ok
		if ok {
			oldMembers, _ := old.Room(room)
			fresh = !slices.Equal(oldMembers.Members, members.Members)
		}
	}
	if !fresh {
		for d := range c.sent {
			if !active[d] {
				fresh = true // a device lost access: it must not get what follows
				break
			}
		}
	}
	if fresh {
		c = NewSenderChain(ChainContext{Case: s.Case, Room: room, Epoch: epoch, StatementSeq: st.Seq,
			Account: s.Me.Account, Device: s.Me.ID})
		s.out[room] = c
		return c.KeyDist(s.Me, recipients)
	}
	var missing []*DeviceRecord
	for _, d := range recipients {
		if !c.SentTo(d.ID) {
			missing = append(missing, d)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	return c.KeyDist(s.Me, missing)
}

// Encrypt encrypts p with room's current chain (after Prepare).
func (s *Session) Encrypt(room string, p *Plaintext) ([]byte, error) {
	c := s.out[room]
	if c == nil {
		return nil, errors.New("e2ee: Prepare the room first")
	}
	return c.Encrypt(s.Me, p)
}

// Rotate drops room's sending chain: the next Prepare starts a new one
// (after a message landed in another epoch than it was encrypted for).
func (s *Session) Rotate(room string) { delete(s.out, room) }

// Received is what a payload turned out to be.
type Received struct {
	Ctx ChainContext
	// KeyDist is set for a key distribution; Delivered says whether it held
	// a key for this device.
	KeyDist   bool
	Delivered bool
	// Plain is a decrypted message.
	Plain   *Plaintext
	Counter uint32
}

// Receive checks and opens one payload found in room at the server-assigned
// epoch, posted (the server says) by account from. Every check that can fail
// returns an error wrapping one of the package's Err values:
//   - the payload names this case and room, the epoch it was stored in, and
//     the account the server attributes it to (ErrWrongPlace);
//   - the membership statement it names is verified (ErrUnknownStatement),
//     places the room at that epoch (ErrWrongPlace), and lists the sender
//     as a member of the room (ErrNotMember);
//   - the sender's device is in the directory and active (ErrUnknownDevice)
//     and signed it (ErrBadSignature);
//   - a message's chain key reached this device (ErrNoKey), its counter is
//     new (ErrReplay) and it decrypts (ErrDecrypt);
//   - a carried message (a consent) comes from a device that counts by its
//     account's own chain, when the directory knows ([Devices.OwnChain];
//     ErrAdmittedDevice).
func (s *Session) Receive(room string, epoch int64, from string, payload []byte) (*Received, error) {
	if len(payload) < 4 {
		return nil, malformed("payload too short")
	}
	switch payload[3] {
	case TypeKeyDist:
		kd, err := DecodeKeyDist(payload)
		if err != nil {
			return nil, err
		}
		dev, err := s.check(&kd.Ctx, room, epoch, from)
		if err != nil {
			return nil, err
		}
		if err := kd.Verify(dev); err != nil {
			return nil, err
		}
		out := &Received{Ctx: kd.Ctx, KeyDist: true}
		key := inKey{room, epoch, kd.Ctx.Device, kd.Ctx.Chain}
		if _, have := s.in[key]; have {
			out.Delivered = true // keep the chain we hold: never rewind it
			return out, nil
		}
		rc, err := kd.Open(s.Me)
		if errors.Is(err, ErrNotForMe) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		s.in[key] = rc
		out.Delivered = true
		return out, nil
	case TypeMessage:
		m, err := DecodeMessage(payload)
		if err != nil {
			return nil, err
		}
		dev, err := s.check(&m.Ctx, room, epoch, from)
		if err != nil {
			return nil, err
		}
		if err := m.Verify(dev); err != nil {
			return nil, err
		}
		rc := s.in[inKey{room, epoch, m.Ctx.Device, m.Ctx.Chain}]
		if rc == nil {
			return nil, fmt.Errorf("%w: chain %s of %s", ErrNoKey, m.Ctx.Chain, m.Ctx.Device)
		}
		p, err := rc.Open(m)
		if err != nil {
			return nil, err
		}
		// A carried message is its author's consent: it must come from a
		// device that counts by the author's own chain, not one a
		// mediator admitted (a mediator could admit a device of their own
		// for a party and consent in the party's name).
		if oc, ok := s.Dir.(ownChainer); ok && p.Kind == KindCarried && !oc.OwnChain(m.Ctx.Account, m.Ctx.Device) {
			return nil, fmt.Errorf("%w: %s/%s", ErrAdmittedDevice, m.Ctx.Account, m.Ctx.Device)
		}
		return &Received{Ctx: m.Ctx, Plain: p, Counter: m.Counter}, nil
	}
	return nil, malformed("payload type %d", payload[3])
}

// check verifies where a payload claims to belong and who sent it, and
// returns the sender's device record.
func (s *Session) check(c *ChainContext, room string, epoch int64, from string) (*DeviceRecord, error) {
	if c.Case != s.Case || c.Room != room || c.Epoch != epoch {
		return nil, fmt.Errorf("%w: names %s/%s epoch %d, found in %s/%s epoch %d",
			ErrWrongPlace, c.Case, c.Room, c.Epoch, s.Case, room, epoch)
	}
	if c.Account != from {
		return nil, fmt.Errorf("%w: signed by %s, posted by %s", ErrWrongPlace, c.Account, from)
	}
	st, ok := s.Chain.Get(c.StatementSeq)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownStatement, c.StatementSeq)
	}
	if r, ok := st.Room(room); !ok || r.Epoch != epoch {
		return nil, fmt.Errorf("%w: statement %d does not place %s at epoch %d", ErrWrongPlace, st.Seq, room, epoch)
	}
	if !st.IsMember(room, c.Account) {
		return nil, fmt.Errorf("%w: %s in %s (statement %d)", ErrNotMember, c.Account, room, st.Seq)
	}
	if seq, closed := s.Chain.Closed(room); closed && c.StatementSeq >= seq {
		return nil, fmt.Errorf("%w: %s, in statement %d; the payload names statement %d", ErrRoomClosed, room, seq, c.StatementSeq)
	}
	dev, ok := s.Dir.Device(c.Account, c.Device, -1)
	if !ok {
		return nil, fmt.Errorf("%w: %s/%s", ErrUnknownDevice, c.Account, c.Device)
	}
	return dev, nil
}

// ownChainer is a directory that knows how a device came to count.
type ownChainer interface {
	OwnChain(account, id string) bool
}

// Forget drops the receiving chains of room's epochs before epoch (the
// room moved on: their keys are no longer needed).
func (s *Session) Forget(room string, before int64) {
	for k, rc := range s.in {
		if k.room == room && k.epoch < before {
			clear(rc.ck)
			delete(s.in, k)
		}
	}
}
