package messaging

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"
)

// Everything a node writes to Redis through the broker — published
// messages, recent-window batches, head hints, presence — carries an HMAC-SHA256
// under a key derived from the deployment's node key, bound to what it is
// (a kind byte) and where it goes (its topic or room), and the broker
// drops whatever it reads that does not verify. Redis is not trusted:
// whoever can reach it could otherwise publish a batch, or set a head
// hint, whose positions run ahead of a room's real ones, and a node
// would take the room's real messages that follow for ones already
// delivered and pass them over until its clients reconnect.
//
// What the MAC does not stop: a genuine payload replayed on its own topic
// or room (receivers drop positions they have, as they drop duplicates
// Redis itself may deliver; a replayed presence entry shows its person
// until its expiry, at most a minute), entries deleted or a subscription
// starved (the hubs read the store for what they miss), and rate
// counters, which are not authenticated.
//
// A sealed payload is a version byte (sealVersion), the MAC, then the
// data. Nodes of a release before this format, or after a change of it,
// cannot read each other's: such a release is installed by stopping every
// node (docs/operations.md, Upgrades).

const (
	macPublish = 'p' // a published message, bound to its topic
	macWindow  = 'w' // a batch in a room's recent window, bound to the room
	macHint    = 'h' // a room's head hint, bound to the room
	macHere    = 'r' // a presence entry, bound to its room and connection
)

// sealVersion is the first byte of every sealed payload.
const sealVersion = 1

// sealOverhead is what seal adds to a payload.
const sealOverhead = 1 + sha256.Size

// brokerKeyInfo separates the broker's key from the node key's other uses
// (the forward protocol's requests and answers).
const brokerKeyInfo = "parley/redis-broker/v1"

// brokerMAC authenticates broker payloads; safe for concurrent use. Its
// keyed HMACs are reused (Reset keeps the key), not set up per payload.
type brokerMAC struct{ macs *sync.Pool }

func newBrokerMAC(nodeKey []byte) (brokerMAC, error) {
	if len(nodeKey) < 32 {
		return brokerMAC{}, fmt.Errorf("messaging: the broker needs the 32-byte node key, got %d bytes", len(nodeKey))
	}
	key, err := hkdf.Key(sha256.New, nodeKey, nil, brokerKeyInfo, 32)
	if err != nil {
		return brokerMAC{}, err
	}
	return brokerMAC{macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}, nil
}

// appendSum appends the MAC of data as kind, for name, to out.
func (m brokerMAC) appendSum(out []byte, kind byte, name string, data []byte) []byte {
	h := m.macs.Get().(hash.Hash)
	h.Reset()
	var head [1 + binary.MaxVarintLen64]byte
	head[0] = kind
	n := 1 + binary.PutUvarint(head[1:], uint64(len(name)))
	h.Write(head[:n])
	io.WriteString(h, name)
	h.Write(data)
	out = h.Sum(out)
	m.macs.Put(h)
	return out
}

// seal returns data prefixed with the version and its MAC, in a new buffer.
func (m brokerMAC) seal(kind byte, name string, data []byte) []byte {
	out := append(make([]byte, 0, sealOverhead+len(data)), sealVersion)
	return append(m.appendSum(out, kind, name, data), data...)
}

// open checks seal's prefix and returns the data after it.
func (m brokerMAC) open(kind byte, name string, sealed []byte) ([]byte, bool) {
	if len(sealed) < sealOverhead || sealed[0] != sealVersion {
		return nil, false
	}
	data := sealed[sealOverhead:]
	var sum [sha256.Size]byte
	return data, hmac.Equal(m.appendSum(sum[:0], kind, name, data), sealed[1:sealOverhead])
}

// presenceName is what a presence entry's MAC binds it to.
func presenceName(room, conn string) string {
	return strconv.Itoa(len(room)) + ":" + room + conn
}
