package e2ee

import (
	"crypto/ecdh"
	"errors"
)

// Errors a receiver reports. Every rejected payload wraps one of them.
var (
	// ErrBadSignature: a signature does not verify (forged or altered).
	ErrBadSignature = errors.New("e2ee: bad signature")
	// ErrReplay: a message counter at or below one already accepted from
	// that sender chain (replayed, duplicated or reordered).
	ErrReplay = errors.New("e2ee: replayed or reordered message")
	// ErrWrongPlace: a payload names another case, room or epoch than the
	// one it was found in (moved by the server, or landed in a new epoch).
	ErrWrongPlace = errors.New("e2ee: payload does not belong here")
	// ErrNotMember: the sender is not a member of the room in the signed
	// membership statement the payload names.
	ErrNotMember = errors.New("e2ee: sender is not a member of the room")
	// ErrNoKey: no chain key for this message reached this device (it was
	// not a member when the chain was distributed, or has not seen it).
	ErrNoKey = errors.New("e2ee: no key for this message")
	// ErrNotForMe: a key distribution with no entry for this device.
	ErrNotForMe = errors.New("e2ee: key distribution not addressed to this device")
	// ErrUnknownStatement: the payload names a membership statement this
	// client has not verified (fetch the chain again).
	ErrUnknownStatement = errors.New("e2ee: unknown membership statement")
	// ErrUnknownDevice: the signer's device is not in the verified
	// directory (fetch the directory again).
	ErrUnknownDevice = errors.New("e2ee: unknown device")
	// ErrMembership: a membership statement breaks a rule (caucus rule,
	// chain, signer) and the room's keys must not be sent to it.
	ErrMembership = errors.New("e2ee: membership statement refused")
	// ErrDeviceFork: the key directory names another first device for an
	// account than the one this client pinned the first time it saw the
	// account (the server leaves the real one out, or shows another
	// history).
	ErrDeviceFork = errors.New("e2ee: the key directory changed an account's first device")
	// ErrRevocationOmitted: the key directory shows a device as not
	// revoked whose revocation this client verified before (the server
	// leaves the revocation out, or shows another history), so that a
	// lost device would get keys again.
	ErrRevocationOmitted = errors.New("e2ee: the key directory left out a revocation this client verified")
	// ErrRevocationPinsFull: the key directory shows more revoked devices
	// of an account's own chain than an account can have
	// (MaxRevocationPinsPerAccount): the client refuses rather than drop a
	// pinned revocation.
	ErrRevocationPinsFull = errors.New("e2ee: the key directory shows more revoked devices of an account than an account can have")
	// ErrAdmittedDevice: a consent (a carried message) signed by a device
	// that counts only through a mediator's admission, not through the
	// account's own devices.
	ErrAdmittedDevice = errors.New("e2ee: a device admitted by a mediator cannot give consent")
	// ErrRoomClosed: a mediator's signed closing closed the room (sealed.go):
	// nothing more is sent in it, and nothing distributed after is taken.
	ErrRoomClosed = errors.New("e2ee: the room was closed by a mediator")
	// ErrDecrypt: authenticated decryption failed.
	ErrDecrypt = errors.New("e2ee: decryption failed")
)

func ecdhX25519() ecdh.Curve { return ecdh.X25519() }
