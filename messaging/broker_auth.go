package messaging

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
)

// Everything a node writes to Redis through the broker — published
// messages, recent-window batches, head hints — carries an HMAC-SHA256
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
// Redis itself may deliver), entries deleted or a subscription starved
// (the hubs read the store for what they miss), and presence and rate
// counters, which are not authenticated.

const (
	macPublish = 'p' // a published message, bound to its topic
	macWindow  = 'w' // a batch in a room's recent window, bound to the room
	macHint    = 'h' // a room's head hint, bound to the room
)

// brokerKeyInfo separates the broker's key from the node key's other uses
// (the forward protocol's requests and answers).
const brokerKeyInfo = "parley/redis-broker/v1"

// brokerMAC authenticates broker payloads; safe for concurrent use.
type brokerMAC struct{ key []byte }

func newBrokerMAC(nodeKey []byte) (brokerMAC, error) {
	if len(nodeKey) < 32 {
		return brokerMAC{}, fmt.Errorf("messaging: the broker needs the 32-byte node key, got %d bytes", len(nodeKey))
	}
	key, err := hkdf.Key(sha256.New, nodeKey, nil, brokerKeyInfo, 32)
	if err != nil {
		return brokerMAC{}, err
	}
	return brokerMAC{key: key}, nil
}

func (m brokerMAC) sum(kind byte, name string, data []byte) (h hash.Hash) {
	h = hmac.New(sha256.New, m.key)
	var head [1 + binary.MaxVarintLen64]byte
	head[0] = kind
	n := 1 + binary.PutUvarint(head[1:], uint64(len(name)))
	h.Write(head[:n])
	h.Write([]byte(name))
	h.Write(data)
	return h
}

// seal returns data prefixed with its MAC, in a new buffer.
func (m brokerMAC) seal(kind byte, name string, data []byte) []byte {
	out := make([]byte, 0, sha256.Size+len(data))
	return append(m.sum(kind, name, data).Sum(out), data...)
}

// open checks seal's prefix and returns the data after it.
func (m brokerMAC) open(kind byte, name string, sealed []byte) ([]byte, bool) {
	if len(sealed) < sha256.Size {
		return nil, false
	}
	data := sealed[sha256.Size:]
	var sum [sha256.Size]byte
	return data, hmac.Equal(m.sum(kind, name, data).Sum(sum[:0]), sealed[:sha256.Size])
}
