package e2ee

import (
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// safetyIterations is how many times the fingerprint hash is iterated
// (as Signal's numeric fingerprints do), to make a partial collision with
// someone's fingerprint costly.
const safetyIterations = 5200

// Fingerprint is one account's 30-digit half of a safety number, computed
// from the set of its devices' public keys (order-independent: devices
// are sorted by id):
//
//	keys = for each device sorted by id: field(id) field(Ed25519 key) field(u16 KEM) field(KEM key)
//	h    = SHA-512(u16be(0) || field("parley/e2ee/v1/safety") || field(account) || field(keys))
//	repeat 5200 times: h = SHA-512(h || keys)
//	digits = for each of the first six 5-byte chunks of h: uint40be(chunk) mod 100000, 5 digits
func Fingerprint(account string, devices []*DeviceRecord) string {
	devs := slices.Clone(devices)
	slices.SortFunc(devs, func(a, b *DeviceRecord) int { return strings.Compare(a.ID, b.ID) })
	keys := fieldsWriter()
	for _, d := range devs {
		keys.str(d.ID).bytes(d.SigPub).u16(uint16(d.KEM)).bytes(d.KEMPub)
	}
	h := sha512.New()
	h.Write([]byte{0, 0})
	h.Write(fieldsWriter().str("parley/e2ee/v1/safety").str(account).bytes(keys.b).b)
	sum := h.Sum(nil)
	for range safetyIterations {
		h.Reset()
		h.Write(sum)
		h.Write(keys.b)
		sum = h.Sum(sum[:0])
	}
	var b strings.Builder
	for i := range 6 {
		var chunk [8]byte
		copy(chunk[3:], sum[i*5:i*5+5])
		fmt.Fprintf(&b, "%05d", binary.BigEndian.Uint64(chunk[:])%100000)
	}
	return b.String()
}

// SafetyNumber is the 60-digit number two people compare (in person, on a
// call): both fingerprints, the smaller first, so both sides see the same
// number whoever computes it. It changes whenever either side's device set
// changes.
func SafetyNumber(accountA string, devicesA []*DeviceRecord, accountB string, devicesB []*DeviceRecord) string {
	a, b := Fingerprint(accountA, devicesA), Fingerprint(accountB, devicesB)
	if b < a {
		a, b = b, a
	}
	return a + b
}

// FormatSafetyNumber groups a safety number in twelve groups of five
// digits, as people read it out: "12345 67890 …".
func FormatSafetyNumber(n string) string {
	var groups []string
	for i := 0; i+5 <= len(n); i += 5 {
		groups = append(groups, n[i:i+5])
	}
	return strings.Join(groups, " ")
}
