package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/parley-mediation/parley/internal/hashcost"
	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP Password Storage Cheat Sheet, first option
// (m=19 MiB, t=2, p=1).
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// Test-only cost (internal/hashcost.UseTestCost, which only test binaries
// may call): Argon2id at m=64 KiB, t=1, p=1, about 600 times less work
// than the production parameters above.
const (
	testArgonMemoryKiB = 64
	testArgonTime      = 1
)

// hashCost is what new hashes use, with the dummy hash made at that cost
// (so a wrong email keeps costing what a wrong password costs).
type hashCost struct {
	memoryKiB, time uint32
	dummy           string
}

const dummyPassword = "parley-no-such-account-placeholder"

// prodCost is made when the package loads, as the dummy hash always was;
// the test cost only when a test binary lowered it.
var (
	prodCost     = newHashCost(argonMemoryKiB, argonTime)
	testCostOnce = sync.OnceValue(func() *hashCost { return newHashCost(testArgonMemoryKiB, testArgonTime) })
)

func newHashCost(memoryKiB, time uint32) *hashCost {
	c := &hashCost{memoryKiB: memoryKiB, time: time}
	c.dummy = hashWith(c, dummyPassword)
	return c
}

// currentCost is prodCost unless internal/hashcost was lowered, which only
// a test binary can do.
func currentCost() *hashCost {
	if hashcost.Lowered() {
		return testCostOnce()
	}
	return prodCost
}

// Password length rules. The upper bound keeps hashing cost bounded.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

var b64 = base64.RawStdEncoding

// hashPassword returns a PHC-format argon2id string.
func hashPassword(password string) string {
	return hashWith(currentCost(), password)
}

func hashWith(c *hashCost, password string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	done := argonStarted()
	key := argon2.IDKey([]byte(password), salt, c.time, c.memoryKiB, argonThreads, argonKeyLen)
	done()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, c.memoryKiB, c.time, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// dummyHash is compared against when an email has no account, so that a
// wrong email costs the same time as a wrong password.
func dummyHash() string { return currentCost().dummy }

// checkPassword reports whether password matches the PHC string. Parameters
// are read from the string, so raising them later keeps old hashes valid.
func checkPassword(phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("unsupported password hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("unsupported argon2 version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, errors.New("malformed argon2 parameters")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errors.New("malformed salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, errors.New("malformed hash")
	}
	done := argonStarted()
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	done()
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
